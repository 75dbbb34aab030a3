"""Exact resume: a run stopped (at an epoch end or mid-epoch), saved, loaded and continued gives
the same weights, bit for bit, and the same loss history as one that never stopped."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load as st_load

from helpers import RESUME, StopAt, assert_same_run, stop_save_load, straight, train_config
from latent_explorer.training.record.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_bytes,
    checkpoint_of,
    load_checkpoint,
    save_checkpoint,
)
from latent_explorer.training.data.datasets import Dataset, Split
from latent_explorer.training.engine.fast_step import FlatAdam
from latent_explorer.training.engine.loop import Trainer, make_optimizer
from latent_explorer.training.engine.resume import (
    ResumeError,
    dataset_fingerprint,
    load_optimizer_state,
    optimizer_state,
    plan_resume,
)

pytestmark = pytest.mark.numerics  # compares code paths: `make test-numerics`

STEPS_PER_EPOCH = 10  # conftest's mnist600 at batch 64


@pytest.mark.parametrize("target", [None, 12.0], ids=["fixed-beta", "target-rate"])
@pytest.mark.parametrize("engine", ["fast", "autograd"])
@pytest.mark.parametrize("where", ["epoch_end", "mid_epoch"])
def test_resume_is_bit_exact(mnist600, tmp_path, engine, where, target):
    # A run trained to a target rate continues its β controller too (integral, running mean).
    full_t, full = straight(train_config(RESUME, engine=engine, target_rate=target), mnist600)
    if where == "epoch_end":  # 2 epochs, finished, then continued to 4
        first_t, first, ck = stop_save_load(train_config(RESUME, engine=engine, epochs=2, target_rate=target),
                                            mnist600, tmp_path, None)
        assert first.state == "finished" and ck.resume.batch_in_epoch == 0
    else:  # a 4-epoch run stopped 7 batches into epoch 3
        first_t, first, ck = stop_save_load(train_config(RESUME, engine=engine, target_rate=target), mnist600,
                                            tmp_path, 27)
        assert first.state == "stopped" and len(first.history) == 27
        assert (ck.resume.epochs_done, ck.resume.batch_in_epoch) == (2, 7)
    assert ck.resume.optimizer is not None and ck.resume.epoch_generator_state is not None
    assert (ck.resume.rate_control is None) == (target is None)
    assert ck.history.has_beta == (target is not None)
    obs = StopAt(10**9)
    trainer = Trainer.from_checkpoint(ck, 4, mnist600, [obs], notify_interval=0)
    assert trainer.resumed_from.exact and not trainer.resumed_from.notices
    result = trainer.run()
    assert result.state == "finished"
    assert obs.first_steps[0] == len(first.history)  # step numbers continue
    assert len(result.history) == 4 * STEPS_PER_EPOCH
    assert_same_run(full_t, full, trainer, result)


def test_two_stops_and_a_cvae(mnist600, tmp_path):
    c = train_config(RESUME, kind="cvae")
    full_t, full = straight(c, mnist600)
    _, _, ck = stop_save_load(c, mnist600, tmp_path, 13)
    _, second, ck2 = stop_save_load(c, mnist600, tmp_path, 31, resume_from=ck)
    assert second.state == "stopped" and len(second.history) == 31
    trainer = Trainer.from_checkpoint(ck2, 4, mnist600)
    assert_same_run(full_t, full, trainer, trainer.run())


def test_stopped_before_the_first_step(mnist600, tmp_path):
    full_t, full = straight(train_config(RESUME, kind="ae", epochs=2), mnist600)
    _, first, ck = stop_save_load(train_config(RESUME, kind="ae", epochs=2), mnist600, tmp_path, 0)
    assert len(first.history) == 0 and ck.resume.step == 0
    trainer = Trainer.from_checkpoint(ck, 2, mnist600)
    assert_same_run(full_t, full, trainer, trainer.run())


def test_resume_state_round_trips(mnist600, tmp_path):
    t, r, ck = stop_save_load(train_config(RESUME), mnist600, tmp_path, 15)
    live = t.resume_state()
    got = ck.resume
    assert (got.step, got.epochs_done, got.batch_in_epoch, got.steps_per_epoch) == (15, 1, 5, 10)
    assert torch.equal(got.generator_state, live.generator_state)
    assert torch.equal(got.epoch_generator_state, live.epoch_generator_state)
    assert torch.equal(got.optimizer.exp_avg, live.optimizer.exp_avg)
    assert torch.equal(got.optimizer.exp_avg_sq, live.optimizer.exp_avg_sq)
    assert float(got.optimizer.step) == 15.0 and got.data_fingerprint == dataset_fingerprint(mnist600)


def test_both_optimizers_export_the_same_layout(mnist600):
    """FlatAdam and torch Adam, after the same steps, give the same canonical state."""
    r = Trainer(train_config(RESUME, epochs=1), mnist600).run()
    params = list(r.model.parameters())
    torch_opt = make_optimizer(r.model, 1e-3)
    grads = [torch.randn_like(p) for p in params]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    torch_opt.step()
    s_torch = optimizer_state(torch_opt, params)
    model2 = Trainer(train_config(RESUME, epochs=1), mnist600).run().model
    params2 = list(model2.parameters())
    flat = FlatAdam(params2, lr=1e-3)
    for p, g in zip(params2, grads):
        p.grad.copy_(g)
    flat.step()
    s_flat = optimizer_state(flat, params2)
    flat.release()
    assert torch.allclose(s_torch.exp_avg, s_flat.exp_avg)
    assert torch.allclose(s_torch.exp_avg_sq, s_flat.exp_avg_sq)
    assert float(s_torch.step) == float(s_flat.step) == 1.0
    # and loading one into the other restores it
    fresh = make_optimizer(model2, 1e-3)
    load_optimizer_state(fresh, params2, s_flat)
    assert torch.equal(optimizer_state(fresh, params2).exp_avg_sq, s_flat.exp_avg_sq)


def test_an_old_checkpoint_continues_from_its_weights(mnist600, tmp_path):
    r = Trainer(train_config(RESUME, epochs=2), mnist600).run()
    path = save_checkpoint(tmp_path / "old.safetensors",  # what the previous version wrote
                           Checkpoint(r.model, train_config(RESUME, epochs=2), r.history, r.metrics,
                                      dataset="mnist-600"))
    ck = load_checkpoint(path)
    assert ck.resume is None and ck.timeline is None
    trainer = Trainer.from_checkpoint(ck, 3, mnist600)
    plan = trainer.resumed_from
    assert not plan.exact and "fresh Adam optimizer" in plan.notices[0]
    assert (plan.step, plan.epochs_done) == (20, 2) and plan.optimizer is None
    result = trainer.run()
    assert result.state == "finished" and len(result.history) == 30
    assert [e.epoch for e in result.history.epochs] == [1, 2, 3]
    tl = trainer.timeline_recorder.timeline
    assert tl is not None and tl.steps.min() > 20  # a timeline starts where the run continues


def test_an_old_checkpoint_stopped_mid_epoch_finishes_that_epoch(mnist600, tmp_path):
    t = Trainer(train_config(RESUME), mnist600, [StopAt(14)], notify_interval=0)
    r = t.run()
    path = save_checkpoint(tmp_path / "old.safetensors",
                           Checkpoint(r.model, train_config(RESUME), r.history, r.metrics, dataset="mnist-600",
                                      state="stopped"))
    trainer = Trainer.from_checkpoint(load_checkpoint(path), 2, mnist600)
    assert trainer.resumed_from.batch_in_epoch == 4
    result = trainer.run()
    assert len(result.history) == 20 and result.history.epochs[-1].step == 20


# -- refusals ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_ckpt(mnist600, tmp_path_factory):
    t = Trainer(train_config(RESUME, epochs=2), mnist600)
    r = t.run()
    path = save_checkpoint(tmp_path_factory.mktemp("ck") / "run.safetensors",
                           checkpoint_of(t, r, "run"))
    return path


def test_refuses_another_dataset_unless_asked(mnist600, finished_ckpt, sample_dataset):
    ck = load_checkpoint(finished_ckpt)
    tr, te = sample_dataset.train, sample_dataset.test
    other = Dataset("mnist-600b", Split(tr.images[600:1200], tr.labels[600:1200]),
                    Split(te.images[:100], te.labels[:100]), "other")
    with pytest.raises(ResumeError, match="trained on mnist-600, not mnist-600b"):
        Trainer.from_checkpoint(ck, 3, other)
    trainer = Trainer.from_checkpoint(load_checkpoint(finished_ckpt), 3, other,
                                      allow_other_dataset=True)
    assert not trainer.resumed_from.exact and "mnist-600b" in trainer.resumed_from.notices[0]
    assert trainer.run().state == "finished"


@pytest.mark.parametrize("change,match", [
    (dict(beta=0.1), "beta 0.005"),
    (dict(nz=4), "nz 8"),
    (dict(batch_size=32), "batch size 64"),
    (dict(lr=1e-3), "lr 0.002"),
    (dict(kind="ae"), "kind vae"),
])
def test_refuses_another_config(mnist600, finished_ckpt, change, match):
    ck = load_checkpoint(finished_ckpt)
    with pytest.raises(ResumeError, match=match):
        plan_resume(ck.train_config, replace(ck.train_config, epochs=3, **change), ck.model,
                    ck.history, ck.resume, mnist600)


def test_refuses_weights_that_are_not_the_configs_model(mnist600, finished_ckpt):
    ck = load_checkpoint(finished_ckpt)
    other = replace(ck.train_config, hidden=(32, 16))
    with pytest.raises(ResumeError, match="not what the run's config says"):
        plan_resume(other, replace(other, epochs=3), ck.model, ck.history, ck.resume, mnist600)


@pytest.mark.parametrize("epochs", [1, 2])
def test_refuses_epochs_not_more_than_done(mnist600, finished_ckpt, epochs):
    with pytest.raises(ResumeError, match="already trained 2 epochs"):
        Trainer.from_checkpoint(load_checkpoint(finished_ckpt), epochs, mnist600)


def test_refuses_zero_epochs(mnist600, finished_ckpt):
    with pytest.raises(ResumeError, match="epochs"):
        Trainer.from_checkpoint(load_checkpoint(finished_ckpt), 0, mnist600)


def test_truncated_file_is_refused(finished_ckpt, tmp_path):
    raw = finished_ckpt.read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(raw[: len(raw) - 1000])
    with pytest.raises(CheckpointError, match="truncated|corrupted"):
        load_checkpoint(bad)


def _tamper(path, tmp_path, edit):
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    tensors = st_load(raw)
    edit(meta, tensors)
    out = tmp_path / "tampered.safetensors"
    out.write_bytes(checkpoint_bytes(tensors, meta))  # re-checksummed: the inner checks
    return out


@pytest.mark.parametrize("edit", [
    lambda m, t: m.update(resume="{not json"),
    lambda m, t: m.update(resume=json.dumps({**json.loads(m["resume"]), "batch_in_epoch": 99})),
    lambda m, t: t.pop("resume.adam.exp_avg"),
    lambda m, t: t.update({"resume.adam.exp_avg_sq": -t["resume.adam.exp_avg_sq"] - 1}),
    lambda m, t: t.update({"resume.epoch_generator": t["resume.epoch_generator"].float()}),
], ids=["bad-json", "counter-out-of-range", "missing-moment", "negative-moment", "bad-rng"])
def test_corrupted_resume_state_is_refused(finished_ckpt, tmp_path, edit):
    with pytest.raises(CheckpointError, match="resume state"):
        load_checkpoint(_tamper(finished_ckpt, tmp_path, edit))


def test_inconsistent_resume_state_is_refused(mnist600, finished_ckpt, tmp_path):
    def shrink(m, t):
        t["resume.adam.exp_avg"] = t["resume.adam.exp_avg"][:-5].clone()
        t["resume.adam.exp_avg_sq"] = t["resume.adam.exp_avg_sq"][:-5].clone()

    with pytest.raises(ResumeError, match="optimizer state holds"):
        Trainer.from_checkpoint(load_checkpoint(_tamper(finished_ckpt, tmp_path, shrink)), 3, mnist600)

    def other_step(m, t):
        m["resume"] = json.dumps({**json.loads(m["resume"]), "step": 5})

    with pytest.raises(ResumeError, match="history has 20 steps"):
        Trainer.from_checkpoint(load_checkpoint(_tamper(finished_ckpt, tmp_path, other_step)), 3,
                                mnist600)


# -- schedules (training.engine.schedules) -------------------------------------------------------
SCHEDULED = dict(kl_warmup=2.5, lr_schedule="cosine", lr_min=1e-4, lr_warmup=0.5, keep="best")


@pytest.mark.parametrize("engine", ["fast", "autograd"])
@pytest.mark.parametrize("stop", [13, 20], ids=["mid-warmup", "epoch-end"])
def test_a_run_stopped_mid_schedule_continues_exactly(mnist600, tmp_path, engine, stop):
    # A 4-epoch run with a 2.5-epoch KL warm-up, LR warm-up and cosine decay, keeping its best
    # epoch: stopped (mid-warm-up, or at the end of epoch 2), saved, loaded and continued.
    cfg = train_config(RESUME, engine=engine, **SCHEDULED)
    full_t, full = straight(cfg, mnist600)
    _, first, ck = stop_save_load(cfg, mnist600, tmp_path, stop)
    assert first.state == "stopped" and len(first.history) == stop
    assert ck.train_config == cfg and ck.history.has_beta and ck.resume.weights is not None
    trainer = Trainer.from_checkpoint(ck, 4, mnist600, notify_interval=0)
    assert trainer.resumed_from.exact and trainer.config.schedule_epochs is None
    result = trainer.run()
    assert result.state == "finished"
    assert_same_run(full_t, full, trainer, result)  # the kept weights, history, timeline
    for p, q in zip(full_t.model.parameters(), trainer.model.parameters()):
        assert torch.equal(p, q)  # and the last weights
    assert result.metrics == full.metrics


def test_resume_weights_that_do_not_fit_or_are_not_finite_are_refused(mnist600, tmp_path):
    _, _, ck = stop_save_load(train_config(RESUME, **SCHEDULED), mnist600, tmp_path, 13)
    path = tmp_path / "run-13.safetensors"

    def nan(m, t):
        t["resume.weights.decoder.0.bias"] = torch.full_like(t["resume.weights.decoder.0.bias"],
                                                             float("nan"))

    with pytest.raises(CheckpointError, match="resume state.*NaN"):
        load_checkpoint(_tamper(path, tmp_path, nan))

    def drop(m, t):
        del t["resume.weights.decoder.0.bias"]

    with pytest.raises(ResumeError, match="weights do not fit"):
        Trainer.from_checkpoint(load_checkpoint(_tamper(path, tmp_path, drop)), 4, mnist600)
