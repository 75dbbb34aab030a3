"""The encode and restyle sub-commands, run through their own parsers (before registration).

User errors must come out as one line: CliError for usage, DrawingError for images,
CheckpointError for checkpoints; `dispatch` below catches them as the CLI's dispatcher does.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from latent_explorer.training.record.checkpoint import Checkpoint, CheckpointError, save_checkpoint
from latent_explorer.training.cli.main import CliError, CliParser
from latent_explorer.training.cli.commands import encode, restyle
from latent_explorer.training.explore.drawing import DrawingError, classify_batch, encode_image, preprocess, restyle_batch

COMMANDS = {"encode": encode, "restyle": restyle}


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory, runs):
    """The session's small trained AE, VAE and CVAE saved as checkpoints."""
    folder = tmp_path_factory.mktemp("draw-ckpts")
    return {kind: save_checkpoint(folder / f"{kind}.safetensors",
                                  Checkpoint(run.model, run.config, run.history, name=kind))
            for kind, run in runs.items()}


@pytest.fixture(scope="module")
def digits(tmp_path_factory, sample_dataset):
    """Four test digits drawn larger as files: dark-on-light PNG, JPEG, RGBA PNG, a .npy stack."""
    folder = tmp_path_factory.mktemp("digits")
    imgs = sample_dataset.test.images[:, 0].numpy()
    labels = sample_dataset.test.labels.numpy()
    big = [np.kron(imgs[i], np.ones((6, 6), np.uint8)) for i in range(3)]
    Image.fromarray(255 - big[0]).save(folder / "a.png")
    Image.fromarray(np.repeat(big[1][:, :, None], 3, axis=2)).save(folder / "b.jpg", quality=95)
    rgba = np.zeros((*big[2].shape, 4), np.uint8)
    rgba[..., 3] = big[2]
    Image.fromarray(rgba).save(folder / "c.png")
    np.save(folder / "stack.npy", imgs[3:6])
    np.save(folder / "raw.npy", imgs[6].astype(np.float32) / 255)
    return {"folder": folder, "files": [folder / n for n in ("a.png", "b.jpg", "c.png")],
            "stack": folder / "stack.npy", "raw": folder / "raw.npy", "images": imgs,
            "labels": labels}


def run_command(name: str, *argv) -> int:
    parser = CliParser(prog=f"latent-explorer {name}")
    COMMANDS[name].add_arguments(parser)
    return COMMANDS[name].run(parser.parse_args([str(a) for a in argv]))


def dispatch(capsys, name: str, *argv) -> tuple[int, str, str]:
    """As the dispatcher will: user errors become 'error: …' on one line, exit status 2."""
    try:
        rc = run_command(name, *argv)
    except (CliError, DrawingError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        rc = 2
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def one_line_error(rc: int, err: str) -> str:
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# -- restyle ----------------------------------------------------------------------------------
def test_restyle_writes_a_row_per_image_as_npy(tmp_path, capsys, ckpts, digits, runs):
    out = tmp_path / "rows.npy"
    rc, stdout, _ = dispatch(capsys, "restyle", ckpts["cvae"], *digits["files"], digits["stack"],
                             "--out", out)
    assert rc == 0
    rows = np.load(out)
    assert rows.shape == (6, 10, 1, 28, 28) and rows.dtype == np.float32
    assert 0.0 <= rows.min() and rows.max() <= 1.0
    assert "wrote 6×10 restyled images" in stdout and "stack.npy[2]" in stdout
    # The same as the core on the same preprocessed inputs, restyled from the model's guess.
    x = np.stack([preprocess(np.asarray(Image.open(f))) for f in digits["files"][:1]])
    np.testing.assert_allclose(rows[0, :, 0], restyle_batch(runs["cvae"].model, x)[0], atol=1e-5)


def test_restyle_with_a_label_and_a_png_grid(tmp_path, capsys, ckpts, digits, runs):
    out = tmp_path / "grid.png"
    rc, stdout, _ = dispatch(capsys, "restyle", ckpts["cvae"], digits["raw"], "--raw",
                             "--label", "4", "--out", out)
    assert rc == 0 and "guess" not in stdout
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * (2 + 30), 2 * (2 + 10 * 30))  # 1 row × 10 columns, ×2
    expected = restyle_batch(runs["cvae"].model, digits["images"][6] / 255.0, 4)[0]
    cell = grid[4:60:2, 4:60:2] / 255.0  # first cell, undo the ×2
    np.testing.assert_allclose(cell, expected[0], atol=1 / 255 + 1e-6)


def test_restyle_refuses_an_ae_or_a_vae(tmp_path, capsys, ckpts, digits):
    for kind in ("ae", "vae"):
        rc, _, err = dispatch(capsys, "restyle", ckpts[kind], digits["files"][0],
                              "--out", tmp_path / "x.png")
        assert "needs a CVAE" in one_line_error(rc, err) and kind.upper() in err
        assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("case", ["missing", "garbage", "empty", "bad-npy", "raw-size",
                                  "bad-out", "bad-label", "bad-ckpt"])
def test_restyle_user_errors_are_one_line(tmp_path, capsys, ckpts, digits, case):
    img, out, extra = digits["files"][0], tmp_path / "o.png", []
    ckpt = ckpts["cvae"]
    if case == "missing":
        img = tmp_path / "nope.png"
    elif case == "garbage":
        img = tmp_path / "g.png"
        img.write_text("hello")
    elif case == "empty":
        img = tmp_path / "white.png"
        Image.fromarray(np.full((80, 80), 255, np.uint8)).save(img)
    elif case == "bad-npy":
        img = tmp_path / "cube.npy"
        np.save(img, np.zeros((3, 5, 5)))
    elif case == "raw-size":
        extra = ["--raw"]
    elif case == "bad-out":
        out = tmp_path / "o.jpg"
    elif case == "bad-label":
        extra = ["--label", "12"]
    elif case == "bad-ckpt":
        ckpt = tmp_path / "bad.safetensors"
        ckpt.write_bytes(b"\0" * 40)
    rc, _, err = dispatch(capsys, "restyle", ckpt, img, "--out", out, *extra)
    line = one_line_error(rc, err)
    if case in ("missing", "garbage", "empty", "bad-npy"):
        assert str(img) in line
    assert not out.exists()


# -- encode -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_encode_writes_means_and_log_sigmas(tmp_path, capsys, ckpts, digits, runs, kind):
    out = tmp_path / "codes.npy"
    rc, stdout, _ = dispatch(capsys, "encode", ckpts[kind], *digits["files"], "--out", out)
    assert rc == 0
    codes = np.load(out)
    nz = runs[kind].model.config.nz
    assert codes.shape == (3, 1 if kind == "ae" else 2, nz) and codes.dtype == np.float32
    x = np.stack([preprocess(np.asarray(Image.open(f))) for f in digits["files"]])
    post = encode_image(runs[kind].model, x)  # a CVAE: with its own guess, as the command
    np.testing.assert_allclose(codes[:, 0], post.mean.numpy(), atol=1e-5)
    if kind != "ae":
        np.testing.assert_allclose(codes[:, 1], post.log_sigma.numpy(), atol=1e-5)
    assert "wrote 3 codes" in stdout


def test_encode_npz_names_its_arrays(tmp_path, capsys, ckpts, digits, runs):
    out = tmp_path / "codes.npz"
    rc, _, _ = dispatch(capsys, "encode", ckpts["cvae"], digits["stack"], "--label", "2",
                        "--out", out)
    assert rc == 0
    with np.load(out) as z:
        assert set(z.files) == {"mean", "log_sigma", "label", "image", "source"}
        assert z["mean"].shape == (3, 8) and list(z["label"]) == [2, 2, 2]
        assert z["source"][1].endswith("stack.npy[1]")
        expected = encode_image(runs["cvae"].model, z["image"], 2).mean.numpy()
        np.testing.assert_allclose(z["mean"], expected, atol=1e-5)


def test_encode_classify_prints_the_guess_per_image(capsys, ckpts, digits, runs):
    rc, stdout, _ = dispatch(capsys, "encode", ckpts["cvae"], digits["stack"], "--classify")
    assert rc == 0
    lines = stdout.strip().splitlines()
    assert len(lines) == 3
    guesses, _ = classify_batch(runs["cvae"].model,
                                np.stack([preprocess(a) for a in digits["images"][3:6]]))
    for i, (line, g) in enumerate(zip(lines, guesses)):
        assert line.startswith(f"{digits['stack']}[{i}]: {g}  (log p(x|μ,y) − KL ")


@pytest.mark.parametrize("score, words", [("elbo", "ELBO"), ("iwae", "IW bound")])
def test_encode_classify_by_a_sampled_score_prints_its_error(capsys, ckpts, digits, runs, score,
                                                              words):
    from latent_explorer.training.explore.drawing import classify_with_errors

    rc, stdout, _ = dispatch(capsys, "encode", ckpts["cvae"], digits["stack"], "--classify",
                             "--score", score)
    assert rc == 0
    x = np.stack([preprocess(a) for a in digits["images"][3:6]])
    guesses, scores, errors = classify_with_errors(runs["cvae"].model, x, score, 16)
    assert (errors > 0).all() and (errors < 20).all()  # nats: a few for these small models
    for i, (line, g) in enumerate(zip(stdout.strip().splitlines(), guesses)):
        assert line.startswith(f"{digits['stack']}[{i}]: {g}  ({words} {scores[i, g]:.1f} ± "
                               f"{errors[i, g]:.2f} nats")


@pytest.mark.parametrize("kind,args,match", [
    ("vae", ["--classify"], "--classify needs a CVAE"),
    ("ae", ["--label", "3", "--out", "x.npy"], "--label applies only to a CVAE"),
    ("cvae", [], "nothing to do"),
    ("cvae", ["--out", "x.png"], "must end in .npy or .npz"),
    ("cvae", ["--out", "no/such/folder/x.npy"], "does not exist"),
])
def test_encode_usage_errors_are_one_line(tmp_path, capsys, monkeypatch, ckpts, digits, kind,
                                          args, match):
    monkeypatch.chdir(tmp_path)
    rc, _, err = dispatch(capsys, "encode", ckpts[kind], digits["files"][0], *args)
    assert match in one_line_error(rc, err)


def test_encode_an_empty_image_in_a_stack_names_it(tmp_path, capsys, ckpts, digits):
    stack = digits["images"][:3].copy()
    stack[2] = 0
    np.save(tmp_path / "s.npy", stack)
    rc, _, err = dispatch(capsys, "encode", ckpts["vae"], tmp_path / "s.npy", "--out",
                          tmp_path / "c.npy")
    assert "s.npy[2]: the image is empty" in one_line_error(rc, err)


def test_help_documents_the_array_layouts(capsys):
    for name, needle in (("encode", "[:, 1] is log σ"), ("restyle", "(N images, classes, C, H, W)")):
        parser = CliParser(prog=name)
        COMMANDS[name].add_arguments(parser)
        with pytest.raises(SystemExit):
            parser.parse_args(["--help"])
        assert needle in " ".join(capsys.readouterr().out.split())
