"""Images of any size and colour through the models and the CLI: conv stages per size, old
(H, W) configs as grey, and sample / encode / restyle writing colour at the model's size."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from latent_explorer.models import ModelConfig, build_model
from latent_explorer.models.conv import stages
from latent_explorer.training.cli.main import run_cli as cli_main
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.data.resize import shape_dataset
from latent_explorer.training.data.sprites import load_sprites
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.record.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


@pytest.mark.parametrize("side, n_stages, grid", [(28, 2, 7), (32, 3, 4), (64, 4, 4)])
def test_conv_takes_as_many_stages_as_the_size_needs(side, n_stages, grid):
    assert stages(side, side) == n_stages
    cfg = ModelConfig(kind="vae", arch="conv", nz=4, hidden=(16,), image_shape=(3, side, side))
    model = build_model(cfg, torch.Generator().manual_seed(0))
    convs = [m for m in model.encoder_conv if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256][:n_stages]
    x = torch.rand(2, 3, side, side)
    post = model.encode(x)
    assert model.decode(post.mean).shape == (2, 3, side, side)
    dense = [m for m in model.decoder_dense if isinstance(m, torch.nn.Linear)]
    assert dense[-1].out_features == convs[-1].out_channels * grid * grid  # the feature map


def test_conv_widths_from_the_config_and_a_wrong_count_refused():
    cfg = ModelConfig(kind="ae", arch="conv", nz=4, hidden=(8,), image_shape=(1, 32, 32),
                      conv_widths=(8, 16, 24))
    convs = [m for m in build_model(cfg).encoder_conv if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 24]
    with pytest.raises(ValueError, match="3 conv stages, but 2 widths"):
        build_model(dataclasses.replace(cfg, conv_widths=(8, 16)))


def test_a_config_written_before_colour_is_grey_and_files_keep_their_keys():
    old = ModelConfig.from_dict({"kind": "vae", "nz": 8, "hidden": [16], "image_shape": [28, 28]})
    assert old.image_shape == (1, 28, 28) and old.n_pixels == 784
    d = old.to_dict()
    assert "likelihood" not in d and "conv_widths" not in d  # as files were before
    lik = ModelConfig(kind="vae", likelihood="logistic", image_shape=(3, 8, 8))
    assert lik.decoder_outputs == 2 * 3 * 8 * 8
    assert ModelConfig.from_dict(lik.to_dict()) == lik


@pytest.fixture(scope="module")
def colour_cvae(tmp_path_factory):
    """A conv CVAE trained one epoch on 16×16 colour sprites, saved as a checkpoint."""
    ds = shape_dataset(load_sprites(n_train=256, n_test=64, colour=True), 16, None)
    cfg = TrainConfig(kind="cvae", arch="conv", nz=4, hidden=(32,), epochs=1, seed=0)
    trainer = Trainer(cfg, ds)
    result = trainer.run()
    assert result.state == "finished"
    path = tmp_path_factory.mktemp("colour") / "cvae.safetensors"
    save_checkpoint(path, Checkpoint(result.model, cfg, result.history, name="colour"))
    return path


def test_a_colour_checkpoint_opens_with_its_shape(colour_cvae):
    model = load_checkpoint(colour_cvae).model
    assert model.config.image_shape == (3, 16, 16) and model.config.n_classes == 3


def test_sample_writes_a_colour_png_and_an_nchw_array(colour_cvae, tmp_path, capsys):
    png, npy = tmp_path / "s.png", tmp_path / "s.npy"
    assert cli_main(["sample", str(colour_cvae), "--n", "4", "--label", "1", "--out", str(png)]) == 0
    assert cli_main(["sample", str(colour_cvae), "--n", "4", "--label", "1", "--out", str(npy)]) == 0
    with Image.open(png) as im:
        assert im.mode == "RGB"
        assert im.size == (2 * (2 * (16 + 2) + 2),) * 2  # 2×2 grid of 16-pixel cells, ×2
    a = np.load(npy)
    assert a.shape == (4, 3, 16, 16) and a.dtype == np.float32


def test_encode_and_restyle_fit_a_photo_to_the_model(colour_cvae, tmp_path, capsys):
    photo = np.zeros((30, 40, 3), np.uint8)
    photo[8:22, 12:28] = (255, 0, 0)  # a red block on black, wider than tall
    Image.fromarray(photo).save(tmp_path / "p.png")
    codes = tmp_path / "c.npz"
    assert cli_main(["encode", str(colour_cvae), str(tmp_path / "p.png"), "--out", str(codes)]) == 0
    z = np.load(codes)
    assert z["image"].shape == (1, 3, 16, 16)
    red = z["image"][0]
    assert red[0].max() > 0.9 and red[1].max() < 0.1  # kept its colour
    out = tmp_path / "r.npy"
    assert cli_main(["restyle", str(colour_cvae), str(tmp_path / "p.png"), "--out", str(out)]) == 0
    assert np.load(out).shape == (1, 3, 3, 16, 16)
    stack = tmp_path / "wrong.npy"
    np.save(stack, np.zeros((2, 1, 16, 16), np.float32))
    assert cli_main(["encode", str(colour_cvae), str(stack), "--out", str(codes)]) != 0
    assert "3×16×16" in capsys.readouterr().err
