"""Training schedules: KL warm-up and cyclical annealing, the learning-rate schedule, the best
epoch and early stopping: their known answers, the engines that take them (fast step, autograd,
stacked sweep), exact resume mid-schedule, the CLI and the training form."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import RESUME, StopAt, stop_save_load, train_config
from tolerances import ONE_PASS, assert_losses_close
from latent_explorer.training.config import SCHEDULE_FIELDS, TrainConfig
from latent_explorer.training.data.datasets import iterate_batches
from latent_explorer.training.engine.events import Observer
from latent_explorer.training.engine.fast_step import FastStep, FlatAdam
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.engine.members import SingleMember, seeded_model
from latent_explorer.training.engine.schedules import (BestEpoch, Schedule, cosine_lr, cyclical,
                                                       describe, linear_warmup, monitored_value,
                                                       warmup_lr)
from latent_explorer.training.engine.sweep import SweepConfig, SweepTrainer
from latent_explorer.training.metrics.evaluate import EvalMetrics
from latent_explorer.training.record.checkpoint import checkpoint_of, load_checkpoint, save_checkpoint

# 640 train images at batch 64 (conftest's small_dataset and mnist600's 600): 10 steps an epoch.
SPE = 10
SCHEDULED = dict(kl_warmup=2.5, lr_schedule="cosine", lr_min=1e-4, lr_warmup=0.5)


# -- known answers --------------------------------------------------------------------------------
def test_linear_warmup_rises_from_0_to_1_then_stays():
    assert [linear_warmup(t, 10) for t in (0, 1, 5, 9, 10, 11, 500)] == \
        [0.0, 0.1, 0.5, 0.9, 1.0, 1.0, 1.0]
    assert linear_warmup(0, 0) == linear_warmup(3, 0) == 1.0  # no warm-up: β as it is


def test_cyclical_annealing_follows_fu_et_al():
    # 100 steps, 4 cycles of 25 steps, rising over the first half of each (R = 0.5).
    f = [cyclical(t, 100, 4, 0.5) for t in range(101)]
    assert f[0] == f[25] == f[50] == f[75] == 0.0  # each cycle starts from 0
    assert f[5] == pytest.approx(0.4) and f[30] == pytest.approx(0.4)
    assert f[12] == pytest.approx(0.96)
    assert f[13] == f[24] == f[99] == 1.0  # past the rising part: 1
    assert f[100] == 1.0 and cyclical(1000, 100, 4) == 1.0  # past the run: stays 1
    # A period that is not a whole number of steps: 10 steps, 3 cycles of 3⅓.
    assert cyclical(3, 10, 3, 0.5) == 1.0
    assert cyclical(4, 10, 3, 0.5) == pytest.approx(0.4)
    # R = 1: rises through the whole cycle.
    assert cyclical(20, 100, 2, 1.0) == pytest.approx(0.4)
    assert cyclical(7, 100, 0) == 1.0  # no cycles


def test_cosine_learning_rate_at_start_middle_and_end():
    lr, low = 1e-3, 1e-5
    assert cosine_lr(0, 100, lr, low) == lr
    assert cosine_lr(50, 100, lr, low) == pytest.approx((lr + low) / 2)
    assert cosine_lr(100, 100, lr, low) == pytest.approx(low)
    assert cosine_lr(25, 100, lr, 0.0) == pytest.approx(lr * (1 + math.cos(math.pi / 4)) / 2)
    assert cosine_lr(400, 100, lr, low) == pytest.approx(low)  # continued past it: held
    # With 10 steps of warm-up: lr·(t+1)/10 first, then the cosine over the other 90 steps.
    assert cosine_lr(0, 100, lr, low, 10) == pytest.approx(1e-4)
    assert cosine_lr(4, 100, lr, low, 10) == pytest.approx(5e-4)
    assert cosine_lr(9, 100, lr, low, 10) == cosine_lr(10, 100, lr, low, 10) == lr
    assert cosine_lr(55, 100, lr, low, 10) == pytest.approx((lr + low) / 2)
    assert cosine_lr(100, 100, lr, low, 10) == pytest.approx(low)


def test_constant_learning_rate_with_and_without_warmup():
    assert warmup_lr(0, 1e-3, 4) == pytest.approx(2.5e-4)
    assert warmup_lr(3, 1e-3, 4) == warmup_lr(99, 1e-3, 4) == 1e-3
    assert warmup_lr(0, 1e-3, 0) == 1e-3


def test_a_configs_schedule_counts_epochs_in_steps():
    s = Schedule.of(TrainConfig(epochs=4, kl_warmup=2.5, lr_schedule="cosine", lr_min=1e-5,
                                lr_warmup=0.5), SPE)
    assert s.has_kl and s.has_lr and s.total_steps == 40
    assert s.kl_factor(0) == 0.0 and s.kl_factor(10) == 0.4 and s.kl_factor(25) == 1.0
    assert s.lr_at(0) == pytest.approx(2e-4) and s.lr_at(5) == 1e-3
    assert s.lr_at(40) == pytest.approx(1e-5)
    cyc = Schedule.of(TrainConfig(epochs=4, kl_cycles=2, kl_ratio=0.25), SPE)
    # 2 cycles of 20 steps, rising over their first 5.
    assert [cyc.kl_factor(t) for t in (0, 2, 5, 19, 20, 22)] == \
        pytest.approx([0.0, 0.4, 1.0, 1.0, 0.0, 0.4])
    # A run continued past the epochs it was planned for keeps its span.
    assert Schedule.of(TrainConfig(epochs=8, schedule_epochs=4, kl_cycles=2), SPE).total_steps == 40
    plain = Schedule.of(TrainConfig(), SPE)
    assert not plain.has_kl and not plain.has_lr
    assert plain.kl_factor(0) == 1.0 and plain.lr_at(0) == 1e-3


def test_the_best_epoch_and_patience_on_a_scripted_sequence():
    best = BestEpoch(patience=3)
    values = [10.0, 9.0, 9.5, 8.0, 8.5, 8.7, 8.1, 7.0]
    stops = []
    for epoch, v in enumerate(values, start=1):
        best.update(epoch, epoch * SPE, v)
        stops.append(best.should_stop(epoch))
    # The best is epoch 4 (8.0); epochs 5, 6, 7 bring nothing lower: stop after epoch 7.
    assert stops == [False] * 6 + [True, False]
    assert BestEpoch(patience=0).should_stop(99) is False  # no early stopping
    b = BestEpoch(2)
    assert b.update(1, 10, None) is False and b.update(1, 10, math.nan) is False
    assert b.update(1, 10, 5.0) and not b.update(2, 20, 5.0)  # equal is no improvement
    assert BestEpoch.from_dict(b.to_dict(), 2) == b
    assert monitored_value(EvalMetrics(bce=0.1, neg_elbo=100.0)) == 100.0
    assert monitored_value(EvalMetrics(bce=0.1)) == 0.1  # an AE: its test BCE


# -- configs --------------------------------------------------------------------------------------
def test_the_defaults_are_todays_and_files_stay_as_they_were():
    d = TrainConfig()
    assert (d.kl_warmup, d.kl_cycles, d.lr_schedule, d.lr_warmup, d.keep, d.early_stop) == \
        (0.0, 0, "constant", 0.0, "last", 0)
    assert (d.lr, d.batch_size, d.nz, d.beta) == (1e-3, 64, 32, 0.005)
    assert not set(SCHEDULE_FIELDS) & set(d.to_dict())  # written as before schedules existed
    old = d.to_dict()  # what a file of an older version holds
    assert TrainConfig.from_dict(old) == d
    c = TrainConfig(**SCHEDULED, keep="best", early_stop=3)
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert describe(c) == ("KL warm-up 2.5 epochs, LR warm-up 0.5 epochs, cosine LR to 0.0001, "
                           "keeping the best epoch, early stop after 3 epochs without "
                           "improvement")
    assert describe(d) == ""
    s = SweepConfig(kl_cycles=3, lr_schedule="cosine")
    assert SweepConfig.from_dict(s.to_dict()) == s
    assert "kl_cycles" not in SweepConfig().to_dict()
    assert all(s.member_config(m).kl_cycles == 3 for m in range(s.n_members))


@pytest.mark.parametrize("change, match", [
    (dict(kl_warmup=1, kl_cycles=2), "not both"),
    (dict(kind="ae", kl_warmup=2), "no KL term"),
    (dict(target_rate=5.0, kl_cycles=3), "target rate"),
    (dict(kl_warmup=-1), "KL warm-up"),
    (dict(kl_cycles=2, kl_ratio=0), "KL ratio"),
    (dict(lr_schedule="step"), "constant or cosine"),
    (dict(lr_schedule="cosine", lr_min=1e-2), "below the learning rate"),
    (dict(lr_warmup=math.inf), "warm-up"),
    (dict(keep="first"), "keep"),
    (dict(early_stop=-2), "early stop"),
])
def test_configs_that_cannot_train_are_refused(change, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**change)


def test_a_sweep_refuses_a_kl_schedule_with_target_rates():
    with pytest.raises(ValueError, match="target rate"):
        SweepConfig(betas=(0.005,), target_rates=(5.0,), kl_warmup=2)


# -- the engines ----------------------------------------------------------------------------------
# The losses of the first steps of a default run, by the version before schedules existed
# (training.engine.loop at 31f8f1e): 640 train images, seed 0, batch 64, Adam 1e-3, nz 32.
BEFORE = {"vae": [0.6965071558952332, 0.6867849230766296, 0.6768460273742676,
                  0.666979968547821, 0.6568273305892944],
          "ae": [0.6931338310241699, 0.6889996528625488, 0.6845342516899109,
                 0.6796249151229858, 0.673730194568634]}


@pytest.mark.parametrize("kind", ["vae", "ae"])
def test_a_default_run_steps_as_before_schedules(small_dataset, kind):
    cfg = TrainConfig(kind=kind, epochs=1, device="cpu")
    result = Trainer(cfg, small_dataset).run()
    assert_losses_close(result.history.total[:5], BEFORE[kind], f"{kind} first steps")
    assert not result.history.has_beta and result.note is None
    # Bit for bit the plain hand-written step and flat Adam, as the loop stepped it before.
    gen = torch.Generator().manual_seed(cfg.seed)
    model = seeded_model(cfg, small_dataset.n_classes)
    adam = FlatAdam(model.parameters(), lr=cfg.lr)
    step = FastStep(model, cfg.beta if kind != "ae" else 0.0, gen)
    totals = []
    for xb, _ in iterate_batches(small_dataset.train, cfg.batch_size, gen):
        totals.append(float(step(xb)[0]))
        adam.step()
    adam.release()
    assert totals == result.history.total.tolist()
    for p, q in zip(model.parameters(), result.model.parameters()):
        assert torch.equal(p, q)


def test_a_run_without_schedules_never_sets_beta_or_the_rate(small_dataset, monkeypatch):
    def refuse(self, *a):
        raise AssertionError("set during a run without schedules")

    monkeypatch.setattr(SingleMember, "set_lr", refuse)
    monkeypatch.setattr(SingleMember, "set_betas", refuse)
    assert Trainer(train_config(epochs=1), small_dataset).run().state == "finished"


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_fast_step_and_autograd_agree_on_a_scheduled_run(small_dataset, kind):
    cfg = train_config(RESUME, dataset="mnist-small", kind=kind, epochs=3, **SCHEDULED)
    fast = Trainer(cfg, small_dataset).run()
    auto = Trainer(replace(cfg, engine="autograd"), small_dataset).run()
    assert fast.state == auto.state == "finished"
    # Both trained with the scheduled β of each step, and report it for the plots.
    want_beta = [cfg.beta * min(1.0, t / 25) for t in range(30)]
    np.testing.assert_allclose(fast.history.beta, want_beta, rtol=1e-6)
    np.testing.assert_array_equal(fast.history.beta, auto.history.beta)
    assert fast.history.has_beta
    assert_losses_close(fast.history.total, auto.history.total, f"{kind} total")
    assert_losses_close(fast.history.recon, auto.history.recon, f"{kind} recon")
    # Each step's total is its reconstruction plus its own β times its KL.
    h = fast.history
    np.testing.assert_allclose(h.total, h.recon + h.beta * h.kl, **ONE_PASS)


@pytest.mark.parametrize("engine", ["fast", "autograd"])
def test_the_scheduled_learning_rate_reaches_adam(small_dataset, engine):
    # Adam's first update moves a weight by lr·g/(|g| + ε): by the step's learning rate, up to
    # ε, wherever its gradient is not tiny. With 10 steps of warm-up it is lr/10.
    cfg = train_config(epochs=1, lr=1e-3, lr_warmup=1.0, engine=engine)
    before = [p.detach().clone() for p in seeded_model(cfg, 10).parameters()]
    result = Trainer(cfg, small_dataset, [StopAt(1)], notify_interval=0).run()
    assert len(result.history) == 1
    moved = max(float((p.detach() - q).abs().max())
                for p, q in zip(result.model.parameters(), before))
    assert 0.95e-4 < moved <= 1.0001e-4


def test_every_stacked_member_trains_the_same_schedule(small_dataset):
    sched = dict(kl_warmup=1.5, lr_schedule="cosine", lr_warmup=0.5)
    cfg = SweepConfig(kind="vae", betas=(0.005, 0.1), seeds=(0,), nz=8, hidden=(64, 32),
                      epochs=2, lr=2e-3, device="cpu", dataset="mnist-small", **sched)
    trainer = SweepTrainer(cfg, small_dataset, workers=1)
    assert trainer.members.engine == "stacked"
    sweep = trainer.run()
    assert sweep.state == "finished"
    factor = np.array([min(1.0, t / 15) for t in range(20)])
    for m, beta in enumerate(cfg.betas):
        np.testing.assert_allclose(sweep.results[m].history.beta, beta * factor, rtol=1e-6)
        # ... and each is its single run of that β and schedule, up to float32 rounding.
        single = Trainer(cfg.member_config(m), small_dataset).run()
        assert_losses_close(sweep.results[m].history.total, single.history.total,
                            f"member {m}")


# -- the best epoch and early stopping ------------------------------------------------------------
class Scripted:
    """SingleMember.evaluate returning a scripted test −ELBO per epoch."""

    def __init__(self, values) -> None:
        self.values, self.calls = list(values), 0

    def __call__(self, *args):  # (test, active), bound or not
        test = args[-2]
        v = self.values[self.calls]
        self.calls += 1
        return [EvalMetrics(bce=0.2, neg_elbo=v, kl=5.0, n=len(test))]


class Weights(Observer):
    """Copies of the weights at each epoch's end."""

    def __init__(self) -> None:
        self.loop, self.by_epoch = None, {}

    def on_train_start(self, loop) -> None:
        self.loop = loop

    def on_epoch_end(self, event) -> None:
        self.by_epoch[event.epoch] = self.loop.member_model(0).state_dict()


def test_early_stopping_ends_the_run_at_the_right_epoch(small_dataset, monkeypatch):
    monkeypatch.setattr(SingleMember, "evaluate",
                        Scripted([10.0, 9.0, 9.5, 8.0, 8.5, 8.7, 8.1, 7.0, 6.0, 5.0]))
    seen = Weights()
    trainer = Trainer(train_config(epochs=10, early_stop=3, keep="best"), small_dataset, [seen])
    result = trainer.run()
    assert result.state == "finished"
    assert [e.epoch for e in result.history.epochs] == [1, 2, 3, 4, 5, 6, 7]
    assert len(result.history) == 7 * SPE
    assert result.note == ("stopped early after epoch 7: the test -ELBO has not improved for 3 "
                           "epochs (the best, 8, was epoch 4)")
    # Kept: epoch 4's weights and metrics; the trainer's model goes on from epoch 7's.
    assert result.metrics.neg_elbo == 8.0
    for name, p in result.model.state_dict().items():
        assert torch.equal(p, seen.by_epoch[4][name]), name
    state = trainer.resume_state()
    assert state.best == {"epoch": 4, "step": 40, "value": 8.0}
    assert all(torch.equal(state.weights[k], v) for k, v in seen.by_epoch[7].items())


def test_keep_last_is_the_last_epoch_and_no_patience_trains_every_epoch(small_dataset,
                                                                        monkeypatch):
    monkeypatch.setattr(SingleMember, "evaluate", Scripted([5.0, 6.0, 7.0]))
    seen = Weights()
    result = Trainer(train_config(epochs=3), small_dataset, [seen]).run()
    assert [e.epoch for e in result.history.epochs] == [1, 2, 3] and result.note is None
    assert result.metrics.neg_elbo == 7.0
    assert all(torch.equal(p, seen.by_epoch[3][k]) for k, p in result.model.state_dict().items())


def test_an_ae_keeps_its_best_test_bce(small_dataset):
    result = Trainer(train_config(kind="ae", epochs=2, keep="best"), small_dataset).run()
    best = min(result.history.epochs, key=lambda e: e.metrics.bce)
    assert result.metrics == best.metrics


def test_a_kept_best_epoch_is_saved_with_the_last_weights_to_continue_from(mnist600, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(SingleMember, "evaluate", Scripted([9.0, 8.0, 8.5, 8.6]))
    cfg = train_config(RESUME, epochs=4, keep="best")
    trainer = Trainer(cfg, mnist600)
    result = trainer.run()
    assert result.note == "kept epoch 2, the best test -ELBO (8)"
    path = save_checkpoint(tmp_path / "best.safetensors", checkpoint_of(trainer, result, "b"))
    ck = load_checkpoint(path)
    assert ck.train_config.keep == "best" and ck.metrics.neg_elbo == 8.0
    for (k, p), q in zip(ck.model.state_dict().items(), result.model.state_dict().values()):
        assert torch.equal(p, q), k  # the file's weights: the best epoch's
    last = trainer.model.state_dict()
    assert all(torch.equal(ck.resume.weights[k], last[k].cpu()) for k in last)
    assert ck.resume.best == {"epoch": 2, "step": 20, "value": 8.0}


# -- exact resume mid-schedule ---------------------------------------------------------------------
def test_a_run_continued_past_its_span_keeps_its_schedule(mnist600, tmp_path):
    cfg = train_config(RESUME, epochs=2, kl_cycles=2, lr_schedule="cosine")
    _, _, ck = stop_save_load(cfg, mnist600, tmp_path, None)
    trainer = Trainer.from_checkpoint(ck, 3, mnist600)
    assert trainer.config.schedule_epochs == 2  # the cosine and the cycles span 2 epochs
    assert trainer.config.to_dict()["schedule_epochs"] == 2
    result = trainer.run()
    assert np.all(result.history.beta[20:] == cfg.beta)  # past the cycles: β at full weight
    again = Trainer.from_checkpoint(load_checkpoint(save_checkpoint(
        tmp_path / "3.safetensors", checkpoint_of(trainer, result, "r"))), 4, mnist600)
    assert again.config.schedule_epochs == 2


@pytest.mark.parametrize("change, match", [
    (dict(kl_warmup=3.0), "kl warmup 2.5"),
    (dict(lr_schedule="constant"), "lr schedule cosine"),
    (dict(keep="last"), "keep best"),
])
def test_a_continued_run_keeps_its_schedules(mnist600, tmp_path, change, match):
    from latent_explorer.training.engine.resume import ResumeError, plan_resume

    _, _, ck = stop_save_load(train_config(RESUME, keep="best", **SCHEDULED), mnist600,
                              tmp_path, 13)
    with pytest.raises(ResumeError, match=match):
        plan_resume(ck.train_config, replace(ck.train_config, **change), ck.model, ck.history,
                    ck.resume, mnist600)


# -- the command line -------------------------------------------------------------------------------
def _cli(capsys, *argv):
    from latent_explorer.training.cli.main import run_cli

    rc = run_cli([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _one_line(rc, err) -> str:
    assert rc == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("argv, match", [
    (("--kl-warmup", "-1"), "--kl-warmup: must be a finite number >= 0"),
    (("--kl-warmup", "soon"), "expected a number"),
    (("--kl-cycles", "0"), "--kl-cycles: must be at least 1"),
    (("--kl-cycles", "4", "--kl-ratio", "1.5"), "proportion > 0 and <= 1"),
    (("--kl-ratio", "0.3"), "--kl-ratio applies with --kl-cycles"),
    (("--kl-cycles", "2", "--kl-warmup", "1"), "not both"),
    (("--target-rate", "8", "--kl-warmup", "2"), "target rate"),
    (("--lr-schedule", "step"), "invalid choice"),
    (("--lr-min", "1e-5"), "--lr-min applies with --lr-schedule cosine"),
    (("--lr-schedule", "cosine", "--lr-min", "0.1"), "below the learning rate"),
    (("--lr-warmup", "nan"), "--lr-warmup"),
    (("--keep", "worst"), "invalid choice"),
    (("--early-stop", "0"), "--early-stop: must be at least 1"),
])
def test_train_refuses_bad_schedules_in_one_line(tmp_path, capsys, argv, match):
    rc, _, err = _cli(capsys, "train", "--model", "vae", *argv, "--dataset", "mnist-sample",
                      "--out", tmp_path / "x.safetensors")
    assert match in _one_line(rc, err)
    assert not (tmp_path / "x.safetensors").exists()


def test_sweep_refuses_bad_schedules_in_one_line(tmp_path, capsys):
    rc, _, err = _cli(capsys, "sweep", "--model", "vae", "--kl-warmup", "1", "--kl-cycles", "2",
                      "--dataset", "mnist-sample", "--out", tmp_path / "s")
    assert "not both" in _one_line(rc, err)
    rc, _, err = _cli(capsys, "sweep", "--model", "vae", "--lr-min", "0.1", "--dataset",
                      "mnist-sample", "--out", tmp_path / "s")
    assert "--lr-min applies" in _one_line(rc, err)


def test_the_help_documents_every_schedule_option(capsys):
    from latent_explorer.training.cli.main import run_cli

    assert run_cli(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--kl-warmup EPOCHS", "--kl-cycles M", "--kl-ratio R", "--lr-schedule",
                   "--lr-min LR", "--lr-warmup EPOCHS", "--keep", "--early-stop PATIENCE"):
        assert option in text
    assert "Fu et al. 2019" in text and "lowest test -ELBO" in text
    assert run_cli(["sweep", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--kl-warmup" in text and "--keep" not in text  # a sweep keeps its last weights


def test_train_saves_its_schedules_and_says_when_it_stopped_early(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(SingleMember, "evaluate", Scripted([9.0, 8.0, 8.5, 8.6, 8.7]))
    out = tmp_path / "run.safetensors"
    rc, stdout, err = _cli(capsys, "train", "--model", "vae", "--nz", 4, "--hidden", 16,
                           "--batch-size", 256, "--epochs", 5, "--dataset", "mnist-sample",
                           "--device", "cpu", "--kl-cycles", 2, "--kl-ratio", 0.25,
                           "--lr-schedule", "cosine", "--lr-min", "1e-5", "--keep", "best",
                           "--early-stop", 2, "--quiet",
                           "--out", out)
    assert rc == 0, err
    assert "2 KL cycles (ratio 0.25), cosine LR to 1e-05, keeping the best epoch" in err
    assert "note: stopped early after epoch 4" in err and "was epoch 2" in err
    assert "-ELBO 8.0" in stdout  # the kept epoch's test metrics
    ck = load_checkpoint(out)
    c = ck.train_config
    assert (c.kl_cycles, c.kl_ratio, c.lr_schedule, c.lr_min, c.keep, c.early_stop) == \
        (2, 0.25, "cosine", 1e-5, "best", 2)
    assert [e.epoch for e in ck.history.epochs] == [1, 2, 3, 4] and ck.history.has_beta


# -- the training form ------------------------------------------------------------------------------
def test_the_form_round_trips_the_schedule_into_the_config(qtbot):
    from PySide6.QtCore import Qt

    from latent_explorer.explorer.views.training_form import TrainingForm, config_from_values

    form = TrainingForm()
    qtbot.addWidget(form)
    form.show()
    s = form.schedule
    assert not s.body.isVisible() and s.toggle.text() == "Schedule"  # collapsed, all off
    plain = config_from_values(form.values())
    assert all(getattr(plain, k) == getattr(TrainConfig(), k) for k in SCHEDULE_FIELDS)
    qtbot.mouseClick(s.toggle, Qt.MouseButton.LeftButton)
    assert s.body.isVisible()
    s.kl_mode.setCurrentIndex(s.kl_mode.findData("warmup"))
    assert s.kl_warmup.isVisible() and not s.kl_cycles.isVisible()
    qtbot.keyClicks(s.kl_warmup, "2.5")
    s.lr_schedule.setCurrentIndex(s.lr_schedule.findData("cosine"))
    assert s.lr_min.isVisible()
    qtbot.keyClicks(s.lr_min, "1e-5")
    qtbot.keyClicks(s.lr_warmup, "0.5")
    s.keep.setCurrentIndex(s.keep.findData("best"))
    s.early_stop.setValue(4)
    assert s.toggle.text() == "Schedule (on)" and not form.problems()
    with qtbot.waitSignal(form.train_requested) as sig:
        form.train_button.click()
    cfg = config_from_values(sig.args[0])
    assert (cfg.kl_warmup, cfg.kl_cycles, cfg.lr_schedule, cfg.lr_min, cfg.lr_warmup, cfg.keep,
            cfg.early_stop) == (2.5, 0, "cosine", 1e-5, 0.5, "best", 4)
    # Remembered between launches: a new form shows the same settings, opened.
    other = TrainingForm()
    qtbot.addWidget(other)
    other.set_values(form.stored_values())
    assert config_from_values(other.values()) == cfg
    assert other.schedule.toggle.isChecked()
    # Cycles instead of a warm-up.
    s.kl_mode.setCurrentIndex(s.kl_mode.findData("cycles"))
    s.kl_cycles.setValue(3)
    s.kl_ratio.clear()
    qtbot.keyClicks(s.kl_ratio, "0.25")
    cfg = config_from_values(form.values())
    assert (cfg.kl_warmup, cfg.kl_cycles, cfg.kl_ratio) == (0.0, 3, 0.25)


def test_the_form_marks_bad_schedule_values_inline(qtbot):
    from latent_explorer.explorer.views.training_form import TrainingForm

    form = TrainingForm()
    qtbot.addWidget(form)
    s = form.schedule
    s.set_expanded(True)
    s.kl_mode.setCurrentIndex(s.kl_mode.findData("warmup"))
    qtbot.keyClicks(s.kl_warmup, "soon")
    assert s.kl_warmup in form.invalid_fields()
    assert not form.message.isHidden() and "KL warm-up" in form.message.text()
    s.kl_warmup.clear()
    qtbot.keyClicks(s.kl_warmup, "2")
    assert s.kl_warmup not in form.invalid_fields() and not form.problems()
    s.lr_schedule.setCurrentIndex(s.lr_schedule.findData("cosine"))
    qtbot.keyClicks(s.lr_min, "0.5")  # above the learning rate
    assert any("below the learning rate" in p for p in form.problems())
    s.lr_schedule.setCurrentIndex(s.lr_schedule.findData("constant"))
    qtbot.keyClicks(form.target_rate, "8")  # a KL schedule with a target rate: refused
    assert any("target rate" in p for p in form.problems())
    with qtbot.assertNotEmitted(form.train_requested):
        form.request_train()
    assert "Cannot train" in form.message.text()
    # An AE has no KL term: the KL rows are off and its config has no KL schedule.
    form.target_rate.clear()
    form.kind.setCurrentIndex(form.kind.findData("ae"))
    assert not s.kl_mode.isEnabled() and form.values()["kl_warmup"] == 0.0
    assert not form.problems()


def test_a_sweep_from_the_form_shares_the_schedule(qtbot):
    from latent_explorer.explorer.views.training_form import TrainingForm

    form = TrainingForm()
    qtbot.addWidget(form)
    form.show()
    s = form.schedule
    s.set_value({"kl_cycles": 2, "lr_schedule": "cosine", "keep": "best", "early_stop": 2})
    form.sweep.setChecked(True)
    assert not s.keep.isVisible() and not s.early_stop.isVisible()
    v = form.sweep_values()
    assert "keep" not in v and v["kl_cycles"] == 2 and v["lr_schedule"] == "cosine"
    cfg = SweepConfig(**v)
    assert cfg.member_config(0).kl_cycles == 2 and cfg.member_config(0).keep == "last"


def test_the_loss_plot_draws_the_scheduled_beta(qtbot, small_dataset):
    from latent_explorer.explorer.views.loss_plot import LossPlot
    from latent_explorer.training.record.run import Run

    cfg = train_config(epochs=2, kl_warmup=1.0)
    result = Trainer(cfg, small_dataset).run()
    plot = LossPlot()
    qtbot.addWidget(plot)
    run = Run("warm", cfg, result.model, result.history, state="finished")
    plot.add_run(run, "#e6550d")
    plot.flush()
    x, y = plot.beta_data(run.id)
    # β = 0 at the first step has no logarithm: a gap on the log axis; then β·t/10, then β.
    assert np.isnan(y[0]) and y[5] == pytest.approx(0.0025) and y[-1] == pytest.approx(0.005)
    assert plot.beta_plot.titleLabel.text == "β per step"


def test_a_workspaces_epoch_checkpoints_keep_the_best_epoch_too(tmp_path, capsys, monkeypatch):
    from latent_explorer.training.record import checkpoint as ckmod
    from latent_explorer.training.record import workspace as wsmod

    monkeypatch.setattr(wsmod, "CHECKPOINT_INTERVAL_S", 0.0)  # a checkpoint at every epoch end
    monkeypatch.setattr(SingleMember, "evaluate", Scripted([9.0, 8.0, 8.5, 8.6]))
    saved = {}
    save = ckmod.save_checkpoint

    def keep_a_copy(path, ck):  # the workspace deletes each epoch's file once the next is saved
        saved[path.name] = ({k: v.clone() for k, v in ck.model.state_dict().items()},
                            ck.metrics, ck.resume)
        return save(path, ck)

    monkeypatch.setattr(ckmod, "save_checkpoint", keep_a_copy)
    rc, _, err = _cli(capsys, "train", "--model", "vae", "--nz", 2, "--hidden", 8, "--epochs", 4,
                      "--dataset", "mnist-sample", "--keep", "best", "--quiet",
                      "--workspace", tmp_path / "ws")
    assert rc == 0, err
    best = saved["final.safetensors"][0]
    for name in ("epoch-0002.safetensors", "epoch-0003.safetensors", "epoch-0004.safetensors"):
        weights, metrics, resume = saved[name]
        assert metrics.neg_elbo == 8.0 and resume.best["epoch"] == 2, name
        assert all(torch.equal(weights[k], best[k]) for k in best), name  # epoch 2's weights
    assert all(torch.equal(saved["epoch-0004.safetensors"][2].weights[k], v)
               for k, v in saved["final.safetensors"][2].weights.items())
