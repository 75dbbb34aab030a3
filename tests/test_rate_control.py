"""Training to a target rate: the PI controller on β, and the runs, files and commands that use it."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from latent_explorer.training.config import TrainConfig
from latent_explorer.training.engine.events import Observer
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.engine.rate_control import BETA_MAX, RateControl, RateControlState
from latent_explorer.training.engine.sweep import SweepConfig, SweepTrainer
from latent_explorer.training.record.checkpoint import checkpoint_of, load_checkpoint, save_checkpoint


def plant(beta: np.ndarray) -> np.ndarray:
    """A stand-in for a VAE's rate: it falls as β grows (20 nats at β = 0.005)."""
    return 20.0 * np.sqrt(0.005 / np.maximum(beta, 1e-9))


@pytest.mark.parametrize("target", [5.0, 40.0])
def test_the_controller_brings_the_rate_to_its_target(target):
    ctrl = RateControl([target], [0.005])
    rng = np.random.default_rng(0)
    active = np.array([True])
    for _ in range(3000):
        kl = plant(ctrl.betas) * (1 + 0.05 * rng.standard_normal(1))  # noisy batches
        ctrl.update(kl, active)
    assert plant(ctrl.betas)[0] == pytest.approx(target, rel=0.03)
    # the β that gives the target: 0.005 · (20 / target)²
    assert ctrl.betas[0] == pytest.approx(0.005 * (20 / target) ** 2, rel=0.07)


def test_an_unreachable_target_holds_beta_at_its_bound_without_winding_up():
    ctrl = RateControl([10.0], [0.005])
    active = np.array([True])
    for _ in range(5000):  # the rate will not come down, whatever β does
        ctrl.update(np.array([50.0]), active)
    assert ctrl.betas[0] == BETA_MAX
    # Once the rate can move, β comes off the bound within a few running-mean lengths: an
    # integral that had grown for 5,000 steps would hold it there for thousands more.
    for k in range(400):
        ctrl.update(np.array([1.0]), active)
        if ctrl.betas[0] < BETA_MAX:
            break
    assert ctrl.betas[0] < BETA_MAX and k < 150


def test_members_without_a_target_keep_their_beta_and_failed_ones_are_left_alone():
    ctrl = RateControl([None, 10.0, 10.0], [0.1, 0.005, 0.005])
    for _ in range(50):
        ctrl.update(np.array([30.0, 30.0, 30.0]), np.array([True, True, False]))
    assert ctrl.betas[0] == 0.1 and ctrl.member_state(0) is None
    assert ctrl.betas[1] > 0.005 and ctrl.betas[2] == 0.005  # too much rate: β rises


def test_a_saved_state_continues_the_same_trajectory():
    a = RateControl([15.0], [0.005])
    rng = np.random.default_rng(1)
    kls = 30 * (1 + 0.1 * rng.standard_normal(400))
    for kl in kls[:200]:
        a.update(np.array([kl]), np.array([True]))
    b = RateControl([15.0], [0.005])
    b.load_member(0, RateControlState.from_dict(a.member_state(0).to_dict()))
    for kl in kls[200:]:
        assert a.update(np.array([kl]), np.array([True]))[0] == \
            b.update(np.array([kl]), np.array([True]))[0]
    with pytest.raises(ValueError):
        RateControlState.from_dict({**a.member_state(0).to_dict(), "target": -1})


@pytest.mark.parametrize("bad, match", [
    (dict(target_rate=-3.0), "target rate must be"),
    (dict(target_rate=math.inf), "target rate must be"),
    (dict(kind="ae", target_rate=10.0), "no rate to target"),
])
def test_configs_that_cannot_target_a_rate_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{"kind": "vae", **bad})


def small(**kw) -> TrainConfig:
    base = dict(kind="vae", nz=8, hidden=(64, 32), epochs=3, batch_size=64, lr=2e-3,
                device="cpu", target_rate=6.0)
    base.update(kw)
    return TrainConfig(**base)


class Steps(Observer):
    def __init__(self) -> None:
        self.events = []

    def on_steps(self, event) -> None:
        self.events.append(event)


def test_a_run_logs_its_beta_each_step_and_keeps_it_in_its_files(small_dataset, tmp_path):
    obs = Steps()
    trainer = Trainer(small(), small_dataset, [obs], notify_interval=0)
    result = trainer.run()
    h = result.history
    assert result.state == "finished" and h.has_beta and np.isfinite(h.beta).all()
    assert h.beta[0] == pytest.approx(0.005)  # the first step trains at the starting β
    assert len(np.unique(h.beta)) > 10  # steered every step
    # the total each step is the loss at that step's β
    np.testing.assert_allclose(h.total, h.recon + h.beta * h.kl, rtol=1e-5)
    # the events carry it, member axis first
    got = np.concatenate([e.beta[0] for e in obs.events])
    np.testing.assert_array_equal(got, h.beta)
    path = save_checkpoint(tmp_path / "r.safetensors", checkpoint_of(trainer, result, "r"))
    back = load_checkpoint(path)
    np.testing.assert_array_equal(back.history.beta, h.beta)
    assert back.train_config.target_rate == 6.0 and back.resume.rate_control is not None
    h.write_csv(tmp_path / "r.csv")
    with open(tmp_path / "r.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][-1] == "beta" and float(rows[1][-1]) == pytest.approx(0.005)


def test_a_fixed_beta_run_logs_no_beta(small_dataset, tmp_path):
    result = Trainer(small(target_rate=None), small_dataset).run()
    assert not result.history.has_beta


def test_a_sweep_over_target_rates_steers_each_member_to_its_own(small_dataset):
    cfg = SweepConfig(kind="vae", betas=(0.005,), seeds=(0,), target_rates=(3.0, 30.0),
                      nz=8, hidden=(64, 32), epochs=4, lr=2e-3, device="cpu")
    assert cfg.members() == ((3.0, 0), (30.0, 0))
    assert [cfg.member_config(m).target_rate for m in range(2)] == [3.0, 30.0]
    result = SweepTrainer(cfg, small_dataset).run()
    low, high = (r.history for r in result.results)
    assert low.has_beta and high.has_beta
    # the low target needs a larger β than the high one, and gets a lower rate
    assert low.beta[-1] > high.beta[-1]
    assert low.kl[-20:].mean() < high.kl[-20:].mean()


def test_a_target_rate_sweep_needs_one_starting_beta():
    with pytest.raises(ValueError, match="one beta"):
        SweepConfig(betas=(0.001, 0.01), target_rates=(5.0, 10.0))


def test_the_loss_plot_draws_beta_beside_the_losses_and_the_target_on_the_kl_plot(
        qtbot, small_dataset):
    from latent_explorer.explorer.views.loss_plot import LossPlot
    from latent_explorer.training.record.run import Run

    steered = Trainer(small(), small_dataset).run()
    fixed = Trainer(small(target_rate=None), small_dataset).run()
    plot = LossPlot()
    qtbot.addWidget(plot)
    a = Run("steered", small(), steered.model, steered.history, state="finished")
    b = Run("fixed", small(target_rate=None), fixed.model, fixed.history, state="finished")
    plot.add_run(b, "#3182bd")
    assert plot.beta_plot is None  # no run steers β: no fourth plot
    plot.add_run(a, "#e6550d")
    plot.flush()
    x, y = plot.beta_data(a.id)
    np.testing.assert_array_equal(y, steered.history.beta)
    assert x[0] == 1 and len(x) == len(steered.history)
    assert plot.beta_data(b.id) is None and plot.target_line_value(b.id) is None
    assert plot.target_line_value(a.id) == 6.0
    plot.remove_run(a.id)
    assert plot.beta_data(a.id) is None


def test_the_form_takes_a_target_rate_and_marks_one_that_cannot_train(qtbot):
    from latent_explorer.explorer.views.training_form import TrainingForm

    form = TrainingForm()
    qtbot.addWidget(form)
    assert form.values()["target_rate"] is None  # empty: β stays fixed
    qtbot.keyClicks(form.target_rate, "-4")
    assert form.target_rate in form.invalid_fields()
    assert any("target rate" in p for p in form.problems())
    form.target_rate.clear()
    qtbot.keyClicks(form.target_rate, "12")
    assert form.target_rate not in form.invalid_fields() and not form.problems()
    assert form.values()["target_rate"] == 12.0
    from PySide6.QtWidgets import QLabel

    assert "Start &β" in [label.text() for label in form.findChildren(QLabel)]  # what it reads
    form.kind.setCurrentIndex(form.kind.findData("ae"))
    assert not form.target_rate.isEnabled() and form.values()["target_rate"] is None


def test_the_sweep_tab_draws_each_members_target_on_the_plane(qtbot, small_dataset):
    from latent_explorer.explorer.panels.sweep import SweepPanel
    from latent_explorer.training.record.run import Run

    cfg = SweepConfig(kind="vae", betas=(0.005,), seeds=(0,), target_rates=(3.0, 30.0),
                      nz=8, hidden=(64, 32), epochs=2, lr=2e-3, device="cpu")
    result = SweepTrainer(cfg, small_dataset).run()
    runs = [Run(f"R={t:g} s0", cfg.member_config(m), r.model, r.history, state="finished",
                dataset=small_dataset, group="sweep 1: VAE R×2")
            for m, (t, r) in enumerate(zip(cfg.target_rates, result.results))]
    for r, res in zip(runs, result.results):
        r.metrics = res.metrics
    panel = SweepPanel()
    qtbot.addWidget(panel)
    panel.set_runs(runs)
    panel.set_run(runs[0])
    assert panel.target_rates_drawn() == [3.0, 30.0]
    assert any(t.startswith("R=3") for t in panel.label_texts())


def test_the_run_list_shows_a_steered_runs_latest_beta_and_its_target(qtbot, small_dataset):
    from latent_explorer.explorer.views.run_table import COL_BETA, RunTableModel
    from latent_explorer.training.record.run import Run

    result = Trainer(small(), small_dataset).run()
    run = Run("steered", small(), result.model, result.history, state="finished")
    model = RunTableModel()
    model.add_run(run, "#e6550d")
    from PySide6.QtCore import Qt

    text = model.data(model.index(0, COL_BETA))
    assert text == f"{result.history.beta[-1]:.2g}*"  # its latest β, marked as steered
    tip = model.data(model.index(0, COL_BETA), Qt.ItemDataRole.ToolTipRole)
    assert "rate of 6 nats" in tip and "from β = 0.005" in tip
