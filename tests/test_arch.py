"""The architecture axis (issue 18): conv models for every kind, trained, saved, explored."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import assert_image, draw_seven, grid_shape, make_draw, make_panel, wait_drawn
from latent_explorer.explorer.panels.conditional import ConditionalPanel
from latent_explorer.explorer.panels.interpolation import InterpolationPanel
from latent_explorer.explorer.panels.latent_map import LatentMapPanel
from latent_explorer.explorer.panels.prior import PriorPanel
from latent_explorer.explorer.panels.reconstructions import ReconstructionsPanel
from latent_explorer.explorer.views.training_form import TrainingForm, config_from_values
from latent_explorer.models import ModelConfig, build_model
from latent_explorer.models.architectures import arch_names, get_arch
from latent_explorer.models.conv import ConvLatentModel
from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.engine.sweep import SweepConfig
from latent_explorer.training.record.checkpoint import (CHECKSUM_KEY, checkpoint_of, content_checksum,
                                       load_checkpoint, save_checkpoint)
from latent_explorer.training.record.run import Run


@pytest.fixture(scope="module")
def conv_runs(small_dataset) -> dict[str, Run]:
    """A conv VAE and CVAE, 4 epochs × 10 steps each: enough to draw non-blank digits."""
    out = {}
    for kind in ("vae", "cvae"):
        cfg = TrainConfig(kind=kind, arch="conv", nz=8, epochs=4, lr=3e-3, seed=1, device="cpu",
                          dataset="mnist-sample")
        trainer = Trainer(cfg, small_dataset)
        result = trainer.run()
        assert result.state == "finished", result.error
        assert trainer.engine == "autograd"  # the hand-written step is for the MLP chain
        out[kind] = Run(f"conv {kind}", cfg, result.model, result.history, state="finished",
                        dataset=small_dataset)
    return out


def test_both_architectures_are_registered_mlp_first():
    assert arch_names()[:2] == ("mlp", "conv")
    assert TrainConfig().arch == "mlp" and ModelConfig().arch == "mlp"
    assert not get_arch("conv").stacked and get_arch("mlp").stacked
    with pytest.raises(ValueError, match="unknown architecture 'rnn'"):
        TrainConfig(arch="rnn")


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_conv_models_keep_the_flat_interface(kind):
    model = build_model(ModelConfig(kind=kind, arch="conv", nz=5), torch.Generator().manual_seed(0))
    assert isinstance(model, ConvLatentModel)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64]
    x = torch.rand(3, 784)
    y = torch.tensor([0, 4, 9]) if kind == "cvae" else None
    post = model.encode(x, y)
    assert post.mean.shape == (3, 5)
    assert (post.log_sigma is None) == (kind == "ae")
    assert model.decode_logits(post.mean, y).shape == (3, 784)
    assert model.decode(post.mean, y).shape == (3, 1, 28, 28)
    assert model.encode(x.view(3, 28, 28), y).mean.shape == (3, 5)  # any shape, batch first
    parts = model.loss(x, y)
    assert all(torch.isfinite(p) for p in parts)
    if kind == "cvae":  # the label changes the decoding
        z = torch.zeros(2, 5)
        assert not torch.allclose(model.decode(z, 1), model.decode(z, 7))


def test_seeded_conv_models_are_identical_and_trainable_through_autograd():
    cfg = ModelConfig(kind="vae", arch="conv")
    a = build_model(cfg, torch.Generator().manual_seed(3))
    b = build_model(cfg, torch.Generator().manual_seed(3))
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), n
    a.loss(torch.rand(4, 784)).total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in a.parameters())


def test_conv_checkpoint_round_trip_records_the_arch(tmp_path, small_dataset):
    cfg = TrainConfig(kind="cvae", arch="conv", nz=4, epochs=1, device="cpu")
    trainer = Trainer(cfg, small_dataset)
    result = trainer.run()
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, checkpoint_of(trainer, result, name="c"))
    ck = load_checkpoint(path)
    assert ck.train_config.arch == "conv" and isinstance(ck.model, ConvLatentModel)
    x = small_dataset.test.float_images()[:5]
    y = small_dataset.test.labels[:5]
    torch.testing.assert_close(ck.model.reconstruct(x, y), result.model.eval().reconstruct(x, y))


def test_a_file_written_before_architectures_opens_as_mlp(tmp_path, small_dataset):
    from safetensors.torch import load, save

    cfg = TrainConfig(kind="vae", nz=4, hidden=(32,), epochs=1, device="cpu")
    trainer = Trainer(cfg, small_dataset)
    result = trainer.run()
    path = tmp_path / "old.safetensors"
    save_checkpoint(path, checkpoint_of(trainer, result, name="old"))
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8:8 + n])["__metadata__"]
    for key in ("model_config", "train_config"):  # as an older version wrote them
        d = json.loads(meta[key])
        del d["arch"]
        meta[key] = json.dumps(d)
    tensors = load(raw)
    meta[CHECKSUM_KEY] = content_checksum(tensors, {k: v for k, v in meta.items()
                                                    if k != CHECKSUM_KEY})
    path.write_bytes(save(tensors, metadata=meta))
    ck = load_checkpoint(path)
    assert ck.train_config.arch == "mlp" and ck.model.config.arch == "mlp"
    assert not isinstance(ck.model, ConvLatentModel)


def test_train_cli_trains_and_saves_a_conv_model(tmp_path, capsys, small_sample):
    out = tmp_path / "conv.safetensors"
    rc = run_cli(["train", "--model", "vae", "--arch", "conv", "--epochs", "1", "--nz", "4",
                  "--dataset", "mnist-sample", "--quiet", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "training VAE (Conv)" in cap.err
    assert load_checkpoint(out).train_config.arch == "conv"
    # Continuing it keeps the architecture; asking for another is refused in one line.
    rc = run_cli(["train", "--resume", str(out), "--arch", "mlp", "--epochs", "2",
                  "--out", str(tmp_path / "more.safetensors")])
    err = capsys.readouterr().err
    assert rc == 2 and "--arch mlp (the run has conv)" in err and len(err.strip().splitlines()) == 1


def test_the_form_builds_a_conv_config_and_a_conv_sweep(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    assert form.arch.currentData() == "mlp"
    form.arch.setCurrentIndex(form.arch.findData("conv"))
    with qtbot.waitSignal(form.train_requested, timeout=1000) as sig:
        form.train_button.click()
    assert config_from_values(sig.args[0]).arch == "conv"
    form.sweep.setChecked(True)
    with qtbot.waitSignal(form.sweep_requested, timeout=1000) as sig:
        form.train_button.click()
    assert form.message.isHidden()
    assert SweepConfig.from_dict(sig.args[0]).arch == "conv"
    form.set_values({"arch": "no-such"})  # a stored value from elsewhere: the default
    assert form.arch.currentData() == "mlp"


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_every_panel_renders_a_conv_run(qtbot, conv_runs, kind):
    run = conv_runs[kind]
    runs = list(conv_runs.values())
    rec = make_panel(qtbot, ReconstructionsPanel, runs, run)
    assert_image(rec.view, grid_shape(2, 8))
    prior = make_panel(qtbot, PriorPanel, runs, run)
    assert_image(prior.views[0], grid_shape(4, 4))
    interp = make_panel(qtbot, InterpolationPanel, runs, run)
    assert_image(interp.views[0], grid_shape(1, 12))
    latent = make_panel(qtbot, LatentMapPanel, runs, run, show=True)
    assert_image(latent.preview, grid_shape(1, 2))
    if kind == "cvae":
        cond = make_panel(qtbot, ConditionalPanel, runs, run)
        assert_image(cond.view, grid_shape(6, 6))
    draw = make_draw(qtbot, runs, run)
    draw_seven(qtbot, draw.canvas)
    wait_drawn(qtbot, draw)
    assert not draw.message.isVisible()
    assert draw.recon_view.grid.shape == grid_shape(1, 2)
    assert np.isfinite(draw.recon_view.grid).all()
