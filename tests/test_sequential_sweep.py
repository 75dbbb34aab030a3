"""Sweeps of the conv architecture: members stepped one after another (SequentialMembers).

A member of the first seed is its single run bit for bit; members fail alone; a trial's
checkpoint (state_dict/load_state) continues exactly; the CLI and the app train a conv sweep.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from helpers import assert_image, fill_form, grid_shape, make_window, sweep_config
from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.engine.device import pick_device
from latent_explorer.training.engine.loop import Loop, Trainer
from latent_explorer.training.engine.sequential import SequentialMembers
from latent_explorer.training.engine.sweep import SweepConfig, SweepTrainer, sweep_members
from latent_explorer.training.engine.stacked import StackedMembers
from latent_explorer.training.record.checkpoint import load_checkpoint
from latent_explorer.explorer.panels.prior import PriorPanel


CONV = dict(arch="conv", betas=(0.005, 1.0), nz=4, hidden=(16,), lr=1e-3)


def weights(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_the_architecture_picks_the_strategy():
    cpu = torch.device("cpu")
    mlp = [sweep_config(CONV, arch="mlp").member_config(m) for m in range(2)]
    conv = [sweep_config(CONV).member_config(m) for m in range(2)]
    assert isinstance(sweep_members(mlp, cpu), StackedMembers)
    assert isinstance(sweep_members(conv, cpu), SequentialMembers)
    assert all(c.arch == "conv" for c in conv)
    assert SweepConfig.from_dict(sweep_config(CONV).to_dict()).arch == "conv"
    assert "arch" not in sweep_config(CONV, arch="mlp").to_dict()  # older readers see the course's
    with pytest.raises(ValueError, match="unknown architecture 'rnn'"):
        sweep_config(CONV, arch="rnn")


def test_a_first_seed_member_is_its_single_run_bit_for_bit(small_dataset):
    cfg = sweep_config(CONV, betas=(0.005, 0.5), seeds=(3,))
    result = SweepTrainer(cfg, small_dataset).run()
    assert result.state == "finished"
    for m, (beta, seed) in enumerate(cfg.members()):
        single = Trainer(cfg.member_config(m), small_dataset).run()
        got = result.results[m]
        assert got.model.config.arch == "conv" and got.model.config.beta == beta
        np.testing.assert_array_equal(got.history.total, single.history.total)
        for a, b in zip(weights(got.model), weights(single.model)):
            assert torch.equal(a, b)
    # Different β, different models.
    assert not torch.equal(weights(result.results[0].model)[0], weights(result.results[1].model)[0])


def test_members_continue_as_single_runs(small_dataset):
    """Each member's resume state carries its own Adam and generator: the first seed's member,
    continued as a single run, is that seed's longer single run; another seed's continues too."""
    cfg = sweep_config(CONV, betas=(0.005,), seeds=(0, 1), epochs=1)
    trainer = SweepTrainer(cfg, small_dataset)
    result = trainer.run()
    longer = {}
    for m in range(2):
        state = trainer.resume_state(m)
        got = result.results[m]
        assert state is not None and state.step == len(got.history)
        assert state.optimizer.numel == sum(p.numel() for p in got.model.parameters())
        two = TrainConfig(**{**cfg.member_config(m).__dict__, "epochs": 2})
        longer[m] = Trainer(two, small_dataset, model=got.model, history=got.history,
                            resume=state).run()
        assert longer[m].state == "finished" and len(longer[m].history) == 2 * state.step
    straight = Trainer(TrainConfig(**{**cfg.member_config(0).__dict__, "epochs": 2}),
                       small_dataset).run()
    np.testing.assert_array_equal(longer[0].history.total, straight.history.total)
    for a, b in zip(weights(longer[0].model), weights(straight.model)):
        assert torch.equal(a, b)
    assert np.isfinite(longer[1].history.total).all()


def test_a_diverging_member_fails_alone(small_dataset):
    result = SweepTrainer(sweep_config(CONV, betas=(0.005, 1e39)), small_dataset).run()
    assert result.state == "finished"
    assert result.results[0].state == "finished"
    assert result.results[1].state == "failed" and "diverged" in result.results[1].error
    assert all(torch.isfinite(p).all() for p in result.results[1].model.parameters())


def test_a_checkpoint_continues_exactly(small_dataset):
    cfg2 = sweep_config(CONV, betas=(0.005, 0.1), seeds=(0,), epochs=2)
    configs = [cfg2.member_config(m) for m in range(2)]
    cpu = pick_device("cpu")
    straight = Loop(cfg2, SequentialMembers(configs, cpu), small_dataset).run()

    cfg1 = sweep_config(CONV, betas=(0.005, 0.1), seeds=(0,), epochs=1)
    first = SequentialMembers(configs, cpu)
    Loop(cfg1, first, small_dataset).run()
    state = first.state_dict(step=len(first.histories[0]), epochs_done=1)
    again = SequentialMembers(configs, cpu)
    again.load_state(state)
    resumed = Loop(cfg2, again, small_dataset).run()
    for m in range(2):
        np.testing.assert_array_equal(resumed.results[m].history.total,
                                      straight.results[m].history.total)
        for a, b in zip(weights(resumed.results[m].model), weights(straight.results[m].model)):
            assert torch.equal(a, b)


def test_the_cli_sweeps_conv_members(tmp_path, capsys, small_sample):
    out = tmp_path / "s"
    rc = run_cli(["sweep", "--model", "vae", "--arch", "conv", "--betas", "0.005,1",
                  "--epochs", "1", "--nz", "4", "--hidden", "16", "--dataset", "mnist-sample",
                  "--iw", "0", "--no-judge", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    files = sorted(out.glob("*.safetensors"))
    assert len(files) == 2
    assert {load_checkpoint(f).train_config.arch for f in files} == {"conv"}
    assert (out / "summary.csv").exists()


@pytest.mark.slow  # trains and scores two conv members: ~15 s
def test_the_app_trains_a_conv_sweep_from_the_form(qtbot, settings, datasets, small_judge):
    w = make_window(qtbot, settings, datasets, load_panels=True)
    try:
        fill_form(w, nz=4, epochs=1, arch="conv")
        w.form.sweep.setChecked(True)
        w.form.betas.setText("0.005, 1")
        qtbot.mouseClick(w.form.train_button, Qt.MouseButton.LeftButton)
        members = w.runs
        assert len(members) == 2, w.form.message.text()
        qtbot.waitUntil(lambda: all(r.state == "finished" for r in members), timeout=60_000)
        assert [r.beta for r in members] == [0.005, 1.0]
        assert all(r.config.arch == "conv" and r.is_usable for r in members)
        prior = next(p for p in w.panels if isinstance(p, PriorPanel))
        w.tabs.setCurrentWidget(prior)
        qtbot.waitExposed(prior)
        assert_image(prior.views[0], grid_shape(4, 4))
        # The scorer measures conv members as it does MLP ones. (Waited for: a conv model's
        # IW-bound chunk does not see a stop request for seconds, longer than closing waits.)
        qtbot.waitUntil(lambda: all("quality" in r.measures for r in members), timeout=60_000)
        assert all(r.measures["iw_bound"] > 0 for r in members)
    finally:
        w.close()
    assert not w.session.has_active
