"""require_finite: evaluation never hands back NaN or infinite metrics as a result."""

from __future__ import annotations

import math

import pytest
import torch

from latent_explorer.models import ModelConfig, build_model
from latent_explorer.training.data.datasets import Split
from latent_explorer.training.metrics.evaluate import EvalMetrics, NonFiniteMetrics, evaluate, require_finite

pytestmark = pytest.mark.numerics  # compares code paths: `make test-numerics`


def _split(n: int) -> Split:
    g = torch.Generator().manual_seed(0)
    return Split(torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8),
                 torch.randint(0, 10, (n,), generator=g))


def _model(kind: str):
    return build_model(ModelConfig(kind=kind, nz=4, hidden=(16,)), torch.Generator().manual_seed(0))


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_finite_metrics_pass_through(kind):
    model = _model(kind)
    m = evaluate(model, _split(20))
    assert require_finite(m, "run.safetensors") is m


def test_weights_that_overflow_are_named_as_the_likely_cause():
    model = _model("vae")
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1e30)  # finite weights whose products are not: what a corrupted file gives
    m = evaluate(model, _split(20))
    assert not math.isfinite(m.bce)
    with pytest.raises(NonFiniteMetrics) as e:
        require_finite(m, "broken.safetensors")
    msg = str(e.value)
    assert msg.startswith("broken.safetensors: the test metrics are not finite (BCE/pixel ")
    assert "corrupted or diverged" in msg and "\n" not in msg
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("metrics, shown", [
    (EvalMetrics(0.1, math.inf, 1.0, n=5), "-ELBO inf"),
    (EvalMetrics(0.1, 10.0, math.nan, n=5), "KL nan"),
    (EvalMetrics(-math.inf, n=5), "BCE/pixel -inf"),
])
def test_each_non_finite_value_is_reported(metrics, shown):
    with pytest.raises(NonFiniteMetrics, match="not finite") as e:
        require_finite(metrics, "x")
    assert shown in str(e.value)


def test_an_empty_test_split_says_so():
    model = build_model(ModelConfig(kind="ae", nz=4, hidden=(16,)))
    with pytest.raises(NonFiniteMetrics, match="x.safetensors: no test images"):
        require_finite(evaluate(model, _split(0)), "x.safetensors")
