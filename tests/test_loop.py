"""The observed training loop: hooks, throttled step events, divergence, config checks,
learning, and the test-set metrics. Stop, pause and resume are tests/test_control.py's, for this
loop and the sweep's."""

from __future__ import annotations

import math
from unittest.mock import Mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import train_config
from latent_explorer.models import ModelConfig, build_model, gaussian_kl
from latent_explorer.training.metrics.evaluate import EvalMetrics, evaluate
from latent_explorer.training.engine.loop import (
    EpochEvent,
    StepsEvent,
    TrainConfig,
    Trainer,
    TrainingObserver,
    train,
)

pytestmark = pytest.mark.numerics  # compares code paths: `make test-numerics`

COURSE = dict(nz=32, hidden=(256, 64))  # the course's model (TrainConfig's defaults)


class Recorder(TrainingObserver):
    """Keeps every hook call, in order, with its argument."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def on_train_start(self, trainer):
        self.calls.append(("on_train_start", trainer))

    def on_steps(self, event):
        self.calls.append(("on_steps", event))

    def on_epoch_end(self, event):
        self.calls.append(("on_epoch_end", event))

    def on_train_end(self, result):
        self.calls.append(("on_train_end", result))

    def steps(self) -> list[StepsEvent]:
        return [a for n, a in self.calls if n == "on_steps"]


def finite_weights(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def assert_steps_cover_history(events: list[StepsEvent], history, total_steps: int) -> None:
    """Consecutive events tile [0, total) with no gap or overlap; arrays match the history."""
    nxt = 0
    for ev in events:
        assert ev.first_step == nxt
        assert ev.total.shape == ev.recon.shape == ev.kl.shape == (1, ev.n_steps)
        assert ev.n_steps >= 1
        assert ev.total_steps == total_steps
        # where the event says it is agrees with the steps it carries
        assert ev.last_step == (ev.epoch - 1) * ev.steps_per_epoch + ev.step_in_epoch - 1
        nxt = ev.last_step + 1
    assert nxt == len(history)
    np.testing.assert_array_equal(np.concatenate([e.total[0] for e in events]), history.total)
    np.testing.assert_array_equal(np.concatenate([e.recon[0] for e in events]), history.recon)
    np.testing.assert_array_equal(np.concatenate([e.kl[0] for e in events]), history.kl)


# -- observers --------------------------------------------------------------------------------
def test_hooks_are_called_in_order(small_dataset):
    obs = Mock(spec=TrainingObserver)
    trainer = Trainer(train_config(COURSE, epochs=2), small_dataset, [obs], notify_interval=0.0)
    result = trainer.run()
    assert result.state == "finished"
    names = [c[0] for c in obs.mock_calls]
    assert names[0] == "on_train_start" and names.count("on_train_start") == 1
    assert names[-1] == "on_train_end" and names.count("on_train_end") == 1
    assert names.count("on_epoch_end") == 2
    # every step has its own event when not throttled, and each epoch's steps precede its end
    assert names[1:-1] == (["on_steps"] * 10 + ["on_epoch_end"]) * 2
    assert obs.on_train_start.call_args.args == (trainer,)
    assert obs.on_train_end.call_args.args[0].results[0] is result
    epochs = [c.args[0] for c in obs.on_epoch_end.call_args_list]
    assert all(isinstance(e, EpochEvent) for e in epochs)
    assert [e.epoch for e in epochs] == [1, 2] and [e.step for e in epochs] == [10, 20]
    assert [e.metrics for e in epochs] == [(r.metrics,) for r in result.history.epochs]
    assert result.metrics == epochs[-1].metrics[0]
    assert result.seconds > 0


@pytest.mark.parametrize("interval", [0.0, 1 / 30, 1e9])
def test_step_events_cover_every_step_exactly_once(small_dataset, interval):
    rec = Recorder()
    result = Trainer(train_config(COURSE, epochs=2), small_dataset, [rec], notify_interval=interval).run()
    assert result.state == "finished"
    assert len(result.history) == 20
    events = rec.steps()
    assert_steps_cover_history(events, result.history, 20)
    if interval == 0.0:
        assert len(events) == 20
    if interval == 1e9:  # throttled: only the flush at each epoch end (and at most one more)
        assert 2 <= len(events) <= 3


def test_steps_event_eta():
    ev = StepsEvent(10, np.zeros((1, 5)), np.zeros((1, 5)), np.zeros((1, 5)), epoch=1, step_in_epoch=15,
                    steps_per_epoch=50, total_steps=100, steps_per_second=10.0)
    assert ev.last_step == 14
    assert ev.eta_seconds == pytest.approx(8.5)
    assert math.isnan(StepsEvent(0, np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1)), 1, 1, 1,
                                 1, 0.0)
                      .eta_seconds)


# -- reproducibility --------------------------------------------------------------------------
def test_seeded_runs_reproduce_on_cpu(small_dataset):
    a = train(train_config(COURSE, seed=3), small_dataset)
    b = train(train_config(COURSE, seed=3), small_dataset)
    c = train(train_config(COURSE, seed=4), small_dataset)
    assert a.state == b.state == c.state == "finished"
    np.testing.assert_array_equal(a.history.total, b.history.total)
    np.testing.assert_array_equal(a.history.kl, b.history.kl)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.metrics == b.metrics
    assert not np.array_equal(a.history.total, c.history.total)


# -- divergence -------------------------------------------------------------------------------
def test_divergence_with_a_huge_learning_rate_fails_cleanly(small_dataset):
    rec = Recorder()
    result = Trainer(train_config(COURSE, kind="vae", lr=1e3, epochs=3), small_dataset, [rec]).run()
    assert result.state == "failed"
    assert "diverged" in result.error
    assert "learning rate" in result.error and "1000" in result.error
    assert "beta" in result.error
    assert finite_weights(result.model)
    assert np.isfinite(result.history.total).all()  # the bad step was not recorded
    assert rec.calls[-1][0] == "on_train_end" and rec.calls[-1][1].results[0] is result
    assert_steps_cover_history(rec.steps(), result.history, 30)
    x = small_dataset.test.float_images(slice(0, 2))
    assert torch.isfinite(result.model.reconstruct(x)).all()


def test_divergence_with_a_huge_beta_keeps_the_initial_weights(small_dataset):
    # β·KL overflows float32 on the very first batch: nothing may be changed.
    trainer = Trainer(train_config(COURSE, kind="vae", beta=1e39), small_dataset)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.run()
    assert result.state == "failed"
    assert "step 1" in result.error and "beta" in result.error
    assert len(result.history) == 0
    after = result.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_divergence_rolls_back_non_finite_weights(small_dataset):
    # lr 1e39: the first Adam step turns the weights into ±inf; the loop must roll them back.
    trainer = Trainer(train_config(COURSE, kind="vae", lr=1e39, epochs=2), small_dataset)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.run()
    assert result.state == "failed" and "learning rate" in result.error
    assert finite_weights(result.model)
    after = result.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the last good weights


# -- bad configs ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, words", [
    ({"epochs": 0}, "epochs"),
    ({"beta": -0.5}, "beta"),
    ({"beta": float("nan")}, "beta"),
    ({"kind": "gan"}, "gan"),
    ({"lr": 0.0}, "learning rate"),
    ({"lr": float("inf")}, "learning rate"),
    ({"batch_size": 0}, "batch"),
    ({"nz": 0}, "nz"),
    ({"precision": "fp8"}, "precision"),
])
def test_bad_train_config_raises_value_error(kw, words):
    with pytest.raises(ValueError, match=words):
        train_config(COURSE, **kw)


def test_several_problems_are_all_reported():
    with pytest.raises(ValueError) as e:
        train_config(COURSE, epochs=0, beta=-1)
    assert "epochs" in str(e.value) and "beta" in str(e.value)


def test_train_config_dict_round_trip():
    c = train_config(COURSE, kind="cvae", hidden=(128, 32), beta=0.1, data_dir="/x")
    d = c.to_dict()
    assert d["hidden"] == [128, 32]
    assert TrainConfig.from_dict(d) == c
    assert TrainConfig.from_dict({**d, "from_the_future": 1}) == c


def test_ae_model_config_has_no_beta():
    assert train_config(COURSE, kind="ae", beta=0.5).model_config().beta == 0.0
    assert train_config(COURSE, kind="vae", beta=0.5).model_config().beta == 0.5


def test_unknown_device_is_a_value_error(small_dataset):
    with pytest.raises(ValueError, match="device"):
        Trainer(train_config(COURSE, device="nonsense"), small_dataset)


# -- learning ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(small_dataset):
    """One 2-epoch run per kind, with the metrics of the untrained model for comparison."""
    out = {}
    for kind in ("ae", "vae", "cvae"):
        c = train_config(COURSE, kind=kind, epochs=2)
        before = evaluate(build_model(c.model_config(), torch.Generator().manual_seed(c.seed)),
                          small_dataset.test)
        out[kind] = (before, train(c, small_dataset))
    return out


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_training_reduces_the_loss(trained, kind):
    before, result = trained[kind]
    assert result.state == "finished", result.error
    h = result.history
    assert len(h) == 20
    assert h.total[-5:].mean() < 0.8 * h.total[:5].mean()
    assert h.recon[-5:].mean() < 0.8 * h.recon[:5].mean()
    assert result.metrics.bce < 0.85 * before.bce
    assert [e.epoch for e in h.epochs] == [1, 2]


# -- evaluate ---------------------------------------------------------------------------------
def _hand_metrics(model, split):
    x = split.images.float().div(255).flatten(1)
    y = split.labels if model.config.is_conditional else None
    with torch.no_grad():
        post = model.encode(x, y)
        bce = F.binary_cross_entropy_with_logits(model.decode_logits(post.mean, y), x,
                                                 reduction="sum").item() / x.numel()
        if post.log_sigma is None:
            return bce, None, None
        kl = gaussian_kl(post.mean, post.log_sigma)
        return bce, kl, post


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_evaluate_metrics(trained, small_dataset, kind):
    model = trained[kind][1].model
    test = small_dataset.test
    model.train()
    m = evaluate(model, test, batch_size=64)  # batches of uneven size: 200 = 3·64 + 8
    assert model.training  # the mode is restored
    assert isinstance(m, EvalMetrics) and m.n == 200
    bce, kl, _ = _hand_metrics(model, test)
    assert m.bce == pytest.approx(bce, rel=1e-4)
    assert 0 < m.bce < 0.6931 + 0.01  # per pixel, better than an all-grey guess after training
    assert evaluate(model, test) == evaluate(model, test)  # a fixed ε: repeatable
    if kind == "ae":
        assert m.neg_elbo is None and m.kl is None
        assert "ELBO" not in m.summary()
        return
    assert m.kl >= 0
    assert m.kl == pytest.approx(kl.mean().item(), rel=1e-4)
    # -ELBO in nats per image = E_q[BCE summed over pixels] + KL: one sample of z per image,
    # so close to (but not equal to) the BCE of the posterior mean plus the KL.
    assert m.neg_elbo > m.kl
    assert 0.5 < m.neg_elbo / (m.bce * 784 + m.kl) < 1.5
    assert "-ELBO" in m.summary() and "nats" in m.summary()


def test_evaluate_neg_elbo_is_one_sample_elbo_with_beta_one(small_dataset):
    model = build_model(ModelConfig(kind="vae", beta=0.005), torch.Generator().manual_seed(1))
    test = small_dataset.test
    m = evaluate(model, test, batch_size=1000)
    x = test.images.float().div(255).flatten(1)
    with torch.no_grad():
        logits, post = model(x, None, torch.Generator().manual_seed(0))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum").item() / len(x)
        kl = gaussian_kl(post.mean, post.log_sigma).mean().item()
    assert m.neg_elbo == pytest.approx(rec + kl, rel=1e-4)  # β = 1 whatever the config says
    assert m.kl == pytest.approx(kl, rel=1e-4)
