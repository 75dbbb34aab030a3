"""The tolerances of tests/tolerances.py hold against float64 on this CPU and kernel set.

Each float32 code path (the hand-written step, autograd, a sweep member) is trained for the
same steps as a float64 autograd run of the same model, data and noise. float64 is the answer
the float32 paths approximate, so each may differ from it only by float32 rounding carried
through the steps: `assert_losses_close`. Two float32 paths then agree with each other at
twice that. The same comparison would fail for a real difference (shown at the end).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_explorer.models import ModelConfig, build_model
from tolerances import EPS32, assert_losses_close, loss_rtol
from latent_explorer.training.engine.fast_step import FastStep, FlatAdam
from latent_explorer.training.engine.sweep_step import StackedModel, SweepStep

pytestmark = pytest.mark.numerics

STEPS, BATCH, LR, BETA = 150, 64, 2e-3, 0.005


def _batches(small_dataset, dtype):
    x = small_dataset.train.float_images(slice(0, 640)).reshape(640, -1).to(dtype)
    y = small_dataset.train.labels[:640]
    for s in range(STEPS):
        i = (s * BATCH) % 640
        yield x[i:i + BATCH], y[i:i + BATCH]


def _float64_losses(cfg, small_dataset) -> np.ndarray:
    model = build_model(cfg, torch.Generator().manual_seed(0)).double()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    noise = torch.Generator().manual_seed(1)
    out = []
    for x, y in _batches(small_dataset, torch.float64):
        parts = model.loss(x, y if cfg.is_conditional else None, BETA, noise)
        opt.zero_grad(set_to_none=True)
        parts.total.backward()
        opt.step()
        out.append(parts.total.item())
    return np.array(out)


def _float32_losses(cfg, small_dataset, path: str) -> np.ndarray:
    model = build_model(cfg, torch.Generator().manual_seed(0))
    noise = torch.Generator().manual_seed(1)
    cond = cfg.is_conditional
    out = []
    if path == "fast":
        opt = FlatAdam(model.parameters(), lr=LR)
        step = FastStep(model, BETA, noise)
        for x, y in _batches(small_dataset, torch.float32):
            out.append(step(x, y if cond else None)[0].item())
            opt.step()
        opt.release()
    elif path == "autograd":
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        for x, y in _batches(small_dataset, torch.float32):
            parts = model.loss(x, y if cond else None, BETA, noise)
            opt.zero_grad(set_to_none=True)
            parts.total.backward()
            opt.step()
            out.append(parts.total.item())
    else:  # a member of a stacked sweep of two (the other member: another β and seed)
        other = build_model(cfg, torch.Generator().manual_seed(9))
        stacked = StackedModel.from_models([model, other])
        opt = FlatAdam(stacked.params, lr=LR)  # first: it moves the weights the step reads
        step = SweepStep(stacked, [BETA, 0.5], [noise, torch.Generator().manual_seed(2)], [0, 1])
        for x, y in _batches(small_dataset, torch.float32):
            out.append(step(x, y if cond else None)[0, 0].item())
            opt.step()
    return np.array(out)


# Sweeps are of β: an AE has none, so it has no sweep member.
@pytest.mark.parametrize("kind, path", [(k, p) for k in ("ae", "vae", "cvae")
                                        for p in ("fast", "autograd", "sweep member")
                                        if (k, p) != ("ae", "sweep member")])
def test_float32_paths_stay_within_the_tolerance_of_float64(small_dataset, kind, path):
    cfg = ModelConfig(kind=kind, nz=8, hidden=(64, 32), beta=BETA if kind != "ae" else 0.0)
    want = _float64_losses(cfg, small_dataset)
    got = _float32_losses(cfg, small_dataset, path)
    # half the tolerance: two float32 paths, each this close to float64, agree at the whole
    assert_losses_close(got, want, f"{kind} {path} vs float64", atol=0.5e-6)
    drift = np.max(np.abs(got - want) / np.abs(want) / np.arange(1, STEPS + 1))
    assert drift <= loss_rtol(1) / 2, f"{drift / EPS32:.2f} ε per step"


def test_the_loss_tolerance_sees_a_real_difference(small_dataset):
    cfg = ModelConfig(kind="vae", nz=8, hidden=(64, 32), beta=BETA)
    want = _float64_losses(cfg, small_dataset)
    other = ModelConfig(kind="vae", nz=8, hidden=(64, 32), beta=BETA)
    model = build_model(other, torch.Generator().manual_seed(0))
    opt = FlatAdam(model.parameters(), lr=LR * 1.01)  # a 1 % larger learning rate
    step = FastStep(model, BETA, torch.Generator().manual_seed(1))
    got = []
    for x, _ in _batches(small_dataset, torch.float32):
        got.append(step(x)[0].item())
        opt.step()
    with pytest.raises(AssertionError, match="losses differ first at step"):
        assert_losses_close(np.array(got), want, "lr 1 % off")
