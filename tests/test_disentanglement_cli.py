"""The CLI's disentanglement and attribute-vector commands on a tiny sprites run:
`eval --factors`, `map --out m.npz` with factors, and `vector` (strips, --save, --vector,
--factor, --analogy, one-line errors)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
import torch

from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.data.datasets import Dataset, Split
from latent_explorer.training.engine.loop import TrainConfig, Trainer
from latent_explorer.training.explore import directions as dirs
from latent_explorer.training.metrics import disentanglement as dis
from latent_explorer.training.record.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from latent_explorer.training.record.vectors import load_vectors


@pytest.fixture(scope="module")
def sprites_small() -> Dataset:
    from latent_explorer.training.data.sprites import load_sprites

    return load_sprites(n_train=600, n_test=300)


@pytest.fixture(scope="module")
def sprite_ckpt(tmp_path_factory, sprites_small):
    """A VAE trained one epoch on 600 sprites (about 0.3 s), saved as a checkpoint file."""
    cfg = TrainConfig(kind="vae", beta=1e-3, nz=6, hidden=(32,), epochs=1, batch_size=64,
                      lr=3e-3, seed=0, device="cpu", dataset="sprites")
    result = Trainer(cfg, sprites_small).run()
    assert result.state == "finished", result.error
    path = tmp_path_factory.mktemp("sprite_run") / "spr.safetensors"
    save_checkpoint(path, Checkpoint(result.model, cfg, result.history, result.metrics,
                                     name="spr", dataset="sprites"))
    return path


@pytest.fixture
def sprites_source(monkeypatch, sprites_small):
    """The 'sprites' source loads the 600/300 sprites: the commands find the run's data."""
    from latent_explorer.training.data.sources import DATA_SOURCES

    source = DATA_SOURCES["sprites"]
    monkeypatch.setitem(DATA_SOURCES, "sprites", replace(
        source, load=lambda notify=None, allow_download=True: sprites_small, n_train=600))
    return sprites_small


def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = run_cli([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _decode(model, z) -> np.ndarray:
    with torch.no_grad():
        return model.decode(torch.as_tensor(np.asarray(z, np.float32)), None).numpy()


# -- eval --factors ---------------------------------------------------------------------------
@pytest.mark.slow  # 2-4 s: the independent DCI beside the command's
def test_eval_factors_prints_table_mig_dci_and_convention(capsys, sprite_ckpt, sprites_source):
    rc, out, err = cli(capsys, "eval", sprite_ckpt, "--factors")
    assert rc == 0, err
    # independently: the codes of all 300 test images and the library's scores on them
    model = load_checkpoint(sprite_ckpt).model
    codes = dis.codes_of(model, sprites_source.test.images)
    factors = sprites_source.test.factors.numpy()
    m = dis.mig(codes, factors)
    mig_line = next(line for line in out.splitlines() if line.startswith("MIG: "))
    assert float(mig_line.split()[1]) == pytest.approx(m.score, abs=6e-4)
    for name, v in zip(sprites_source.factor_names, m.per_factor):
        assert f"{name} {v:.3f}" in mig_line
    dci_line = next(line for line in out.splitlines() if line.startswith("DCI: "))
    d = dis.dci(codes, factors)
    assert f"disentanglement {d.disentanglement:.3f}" in dci_line
    assert f"informativeness {d.informativeness:.3f}" in dci_line
    # table rows: dims with MI >= 0.05, by their largest MI, each with its label
    rows = [line.split() for line in out.splitlines() if re.match(r"^\s+z\d+\s", line)]
    best = m.mi.max(axis=1)
    want = [j for j in np.argsort(-best, kind="stable") if best[j] >= 0.05]
    assert [r[0] for r in rows] == [f"z{j}" for j in want]
    for r in rows:
        j = int(r[0][1:])
        np.testing.assert_allclose([float(v) for v in r[1:6]], m.mi[j], atol=6e-3)
        assert r[6] == r[0] and r[7] == "≈"  # "z7 ≈ x, MI ..."
    assert "20-bin histograms" in out and "mutual_info_score" in out and "ExtraTrees" in out


def test_eval_factors_all_shows_every_dim(capsys, sprite_ckpt, sprites_source):
    rc, out, _ = cli(capsys, "eval", sprite_ckpt, "--factors", "--all")
    assert rc == 0
    rows = [line for line in out.splitlines() if re.match(r"^\s+z\d+\s", line)]
    assert len(rows) == 6  # nz
    lines = out.splitlines()
    assert sum(line.startswith("MIG: ") for line in lines) == 1
    assert lines[-1].startswith("convention: MIG as disentanglement_lib's")


def test_eval_factors_of_a_labelled_dataset_uses_the_label(capsys, tmp_path, small_sample,
                                                           small_dataset):
    cfg = TrainConfig(kind="vae", beta=0.005, nz=4, hidden=(32,), epochs=1, device="cpu",
                      dataset="mnist-sample")
    r = Trainer(cfg, small_dataset).run()
    path = tmp_path / "digits.safetensors"
    save_checkpoint(path, Checkpoint(r.model, cfg, r.history, r.metrics, name="d",
                                     dataset="mnist-sample"))
    rc, out, err = cli(capsys, "eval", path, "--factors", "--all")
    assert rc == 0, err
    codes = dis.codes_of(r.model, small_dataset.test.images)
    m = dis.mig(codes, small_dataset.test.labels.numpy())
    assert "label" in out.splitlines()[3]  # the table's header
    assert f"MIG: {m.score:.3f} (per factor: label {m.per_factor[0]:.3f}" in out


def test_eval_factors_errors_are_one_line(capsys, monkeypatch, tmp_path, small_sample,
                                          small_dataset, sprite_ckpt, sprites_source):
    rc, _, err = cli(capsys, "eval", sprite_ckpt, "--all")
    assert rc == 2 and err.strip() == "error: --all applies with --factors"
    # a dataset whose labels take one value and has no factors: nothing to measure against
    from latent_explorer.training.data.sources import DATA_SOURCES

    one = Dataset("mnist-sample", small_dataset.train,
                  Split(small_dataset.test.images, torch.zeros(len(small_dataset.test),
                                                               dtype=torch.int64)), "one class")
    monkeypatch.setitem(DATA_SOURCES, "mnist-sample", replace(
        DATA_SOURCES["mnist-sample"], load=lambda notify=None, allow_download=True: one))
    cfg = TrainConfig(kind="vae", nz=2, hidden=(8,), epochs=1, device="cpu", dataset="mnist-sample")
    r = Trainer(cfg, small_dataset).run()
    path = tmp_path / "d.safetensors"
    save_checkpoint(path, Checkpoint(r.model, cfg, r.history, r.metrics, dataset="mnist-sample"))
    rc, out, err = cli(capsys, "eval", path, "--factors")
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "no known factors" in err and out == ""
    # a model of other images than the dataset's: one line, not a traceback
    rc, _, err = cli(capsys, "eval", sprite_ckpt, "--dataset", "mnist-sample")
    assert rc == 2 and "1x64x64" in err and len(err.strip().splitlines()) == 1


# -- map ----------------------------------------------------------------------------------------
def test_map_npz_holds_factors(capsys, tmp_path, sprite_ckpt, sprites_source):
    out = tmp_path / "m.npz"
    rc, _, err = cli(capsys, "map", sprite_ckpt, "--out", out, "--n", "120")
    assert rc == 0, err
    with np.load(out) as d:  # no pickle needed for the names
        np.testing.assert_array_equal(d["factors"], sprites_source.test.factors[:120].numpy())
        assert d["factors"].dtype == np.float32
        assert list(d["factor_names"]) == ["shape", "scale", "orientation", "x", "y"]
        np.testing.assert_array_equal(d["labels"], sprites_source.test.labels[:120].numpy())


def test_map_npz_of_digits_has_no_factors(capsys, tmp_path, sprite_ckpt, small_sample):
    cfg = TrainConfig(kind="vae", nz=2, hidden=(8,), epochs=1, device="cpu", dataset="mnist-sample")
    r = Trainer(cfg, small_sample).run()
    path = tmp_path / "d.safetensors"
    save_checkpoint(path, Checkpoint(r.model, cfg, r.history, r.metrics, dataset="mnist-sample"))
    rc, _, _ = cli(capsys, "map", path, "--out", tmp_path / "m.npz")
    assert rc == 0
    with np.load(tmp_path / "m.npz") as d:
        assert sorted(d.files) == ["codes", "coords", "labels"]


# -- vector -------------------------------------------------------------------------------------
def test_vector_strip_is_the_balanced_vector_applied(capsys, tmp_path, sprite_ckpt,
                                                     sprites_source):
    out = tmp_path / "strip.npy"
    rc, printed, err = cli(capsys, "vector", sprite_ckpt, "--from", "heart", "--to", "square",
                           "--out", out, "--save", "heart-square")
    assert rc == 0, err
    strip = np.load(out)
    assert strip.shape == (9, 1, 64, 64) and strip.dtype == np.float32
    # independently: the mean code of hearts minus that of squares over equal-sized sets
    model = load_checkpoint(sprite_ckpt).model
    test = sprites_source.test
    codes = dis.codes_of(model, test.images)
    labels = test.labels.numpy()
    a, b = np.flatnonzero(labels == 2), np.flatnonzero(labels == 0)
    a, b = dirs.balanced_indices(a, b, 0)
    assert len(a) == len(b) == min((labels == 2).sum(), (labels == 0).sum())
    v = codes[a].mean(axis=0) - codes[b].mean(axis=0)
    first_heart = int(np.flatnonzero(labels == 2)[0])
    z0 = codes[first_heart]
    want = _decode(model, z0[None] + np.linspace(-2, 2, 9)[:, None] * v[None])
    np.testing.assert_allclose(strip, want.reshape(strip.shape), atol=1e-5)
    assert f"test image {first_heart} (heart)" in printed
    # saved with the checkpoint, and read back
    saved = load_vectors(sprite_ckpt)
    assert "heart-square" in saved
    np.testing.assert_allclose(saved["heart-square"].vector, v, atol=1e-12)
    assert (saved["heart-square"].n_a, saved["heart-square"].n_b) == (len(a), len(b))
    # --vector NAME applies the saved one: the same strip
    out2 = tmp_path / "again.npy"
    rc, _, err = cli(capsys, "vector", sprite_ckpt, "--vector", "heart-square", "--index",
                     first_heart, "--out", out2)
    assert rc == 0, err
    np.testing.assert_allclose(np.load(out2), strip, atol=1e-6)


def test_vector_png_strengths_and_image_file(capsys, tmp_path, sprite_ckpt, sprites_source):
    from PIL import Image

    img = tmp_path / "sprite.png"
    Image.fromarray(sprites_source.test.images[3, 0].numpy()).save(img)
    out = tmp_path / "strip.png"
    rc, printed, err = cli(capsys, "vector", sprite_ckpt, "--from", "ellipse", "--apply", img,
                           "--strengths=-1,1,5", "--out", out)
    assert rc == 0, err
    with Image.open(out) as im:  # a 1×5 grid of 64×64 cells with 2-pixel gaps, ×2
        assert im.size == ((5 * 66 + 2) * 2, (66 + 2) * 2)
    assert "sprite.png" in printed and "s = -1 .. 1" in printed


def test_vector_factor_and_analogy(capsys, tmp_path, sprite_ckpt, sprites_source):
    rc, printed, err = cli(capsys, "vector", sprite_ckpt, "--factor", "x", "--low", "0.25",
                           "--high", "0.75", "--out", tmp_path / "x.npy")
    assert rc == 0, err
    assert np.load(tmp_path / "x.npy").shape == (9, 1, 64, 64)
    assert "x >= 0.75 vs <= 0.25" in printed
    rc, _, err = cli(capsys, "vector", sprite_ckpt, "--analogy", "0", "1", "class:heart",
                     "--out", tmp_path / "a.npy")
    assert rc == 0, err
    grid = np.load(tmp_path / "a.npy")
    assert grid.shape == (4, 1, 64, 64)
    model = load_checkpoint(sprite_ckpt).model
    test = sprites_source.test
    codes = dis.codes_of(model, test.images)
    hearts = codes[test.labels.numpy() == 2].mean(axis=0)
    want = _decode(model, np.stack([codes[0], codes[1], hearts, hearts + codes[1] - codes[0]]))
    np.testing.assert_allclose(grid, want, atol=1e-5)


def test_vector_saves_in_a_workspace_run_folder(tmp_path, sprite_ckpt):
    from latent_explorer.training.cli.commands.vector import run_target

    run = tmp_path / "run a"
    (run / "checkpoints").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    ck = run / "checkpoints" / "latest.safetensors"
    ck.write_bytes(sprite_ckpt.read_bytes())
    assert run_target(ck) == run.resolve()
    assert run_target(sprite_ckpt) == sprite_ckpt.resolve()
    (run / "run.json").unlink()  # a checkpoints/ folder that is no run: beside the file
    assert run_target(ck) == ck.resolve()


@pytest.mark.parametrize("argv, message", [
    (["--from", "circle"], "is not a class of this dataset: square, ellipse, heart"),
    (["--from", "0", "--to", "square"], "--from and --to are the same class"),
    (["--vector", "nope"], "no vector 'nope' is saved"),
    (["--factor", "colour", "--low", "0", "--high", "1"], "is not one of shape, scale"),
    (["--factor", "x", "--low", "0.5"], "--factor needs --low X and --high Y"),
    (["--factor", "x", "--low", "2", "--high", "3"], "no test image has it >= 3"),
    (["--from", "0", "--index", "300"], "--index must be between 0 and 299"),
    (["--analogy", "0", "1", "2", "--save", "z"], "--analogy takes no"),
    (["--analogy", "0", "1", "triangle"], "'triangle' is not a class"),
    (["--from", "0", "--strengths", "1,1,3"], "expected LO,HI,N"),
    (["--to", "1"], "one of the arguments --from --factor --vector --analogy is required"),
    (["--from", "0", "--apply", "/no/such.png"], "no such file"),
])
def test_vector_errors_are_one_line(capsys, tmp_path, sprite_ckpt, sprites_source, argv,
                                    message):
    rc, out, err = cli(capsys, "vector", sprite_ckpt, *argv, "--out", tmp_path / "s.png")
    assert rc == 2, err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s.png").exists()


def test_vector_refuses_a_cvae_and_bad_out(capsys, tmp_path, sprites_small, sprites_source):
    cfg = TrainConfig(kind="cvae", nz=2, hidden=(8,), epochs=1, device="cpu", dataset="sprites")
    r = Trainer(cfg, sprites_small).run()
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, Checkpoint(r.model, cfg, r.history, r.metrics, dataset="sprites"))
    rc, _, err = cli(capsys, "vector", path, "--from", "0", "--out", tmp_path / "s.png")
    assert rc == 2 and "vector takes an AE or a VAE" in err
    rc, _, err = cli(capsys, "vector", path, "--from", "0", "--out", tmp_path / "s.gif")
    assert rc == 2 and "must end in .png or .npy" in err


# -- the sweep report's new columns ----------------------------------------------------------------
OLD_SUMMARY = (  # a summary.csv as sweeps wrote it before the per-image β and MIG columns
    "beta,seed,state,bce_per_pixel,rate_nats,distortion_nats,neg_elbo_nats,iw_bound_nats,iw_k,"
    "active_dims,sample_quality,classes_seen,asked_label_share,best,checkpoint,error,"
    "distortion_se_nats,iw_bound_se_nats,sample_quality_se,target_rate_nats\n"
    "0.01,1,finished,0.123456,12.500,80.250,92.750,91.000,50,7,0.6100,10,,quality;bound,"
    "vae-beta0.01-seed1.safetensors,,0.1000,0.2000,0.0150,\n")


def test_older_summary_csv_reads_with_new_columns_empty(tmp_path):
    from latent_explorer.training.metrics.sweep_report import read_summary_csv, write_summary_csv

    path = tmp_path / "old.csv"
    path.write_text(OLD_SUMMARY, encoding="utf-8")
    (row,) = read_summary_csv(path)
    assert (row.beta, row.seed, row.state, row.rate, row.iw_k, row.active_dims) == (
        0.01, 1, "finished", 12.5, 50, 7)
    assert row.quality == 0.61 and row.asked_share is None and row.target_rate is None
    assert (row.beta_per_image, row.bits_per_dim, row.mig, row.dci_disentanglement) == (
        None, None, None, None)
    # written again, the old columns come first in the old order and the new ones stay empty
    write_summary_csv(tmp_path / "new.csv", [row])
    header, line = (tmp_path / "new.csv").read_text(encoding="utf-8").splitlines()
    old_header = OLD_SUMMARY.splitlines()[0]
    assert header.startswith(old_header + ",")
    assert header.removeprefix(old_header + ",").split(",") == [
        "beta_per_image", "bits_per_dim", "mig", "dci_disentanglement"]
    assert line.endswith(",,,,")


def test_summary_row_without_factors_leaves_mig_empty(small_dataset, sprites_small):
    from latent_explorer.models.autoencoders import LatentModel, ModelConfig
    from latent_explorer.training.metrics.evaluate import evaluate
    from latent_explorer.training.metrics.sweep_report import summary_row

    torch.manual_seed(0)
    digits = LatentModel(ModelConfig(kind="vae", nz=3, hidden=(8,), beta=0.5))
    row = summary_row(digits, 0.5, 0, "finished", evaluate(digits, small_dataset.test),
                      small_dataset.test, iw_k=0)
    assert row.mig is None and row.dci_disentanglement is None
    assert row.beta_per_image == 0.5 * 784 and row.bits_per_dim is None
    sprites = LatentModel(ModelConfig(kind="vae", nz=3, hidden=(8,), beta=0.5,
                                      image_shape=(1, 64, 64)))
    test = sprites_small.test.subset(slice(0, 120))
    row = summary_row(sprites, 0.5, 0, "finished", evaluate(sprites, test), test, iw_k=0)
    codes = dis.codes_of(sprites, test.images)
    assert row.mig == pytest.approx(dis.mig(codes, test.factors.numpy()).score, abs=1e-12)
    assert row.beta_per_image == 0.5 * 4096


def test_mig_png_with_and_without_scores(tmp_path):
    from PIL import Image

    from latent_explorer.training.metrics.sweep_report import SummaryRow, save_mig_png

    def row(beta, seed, mig):
        return SummaryRow(beta, seed, "finished", None, None, None, None, None, 0, None, None,
                          None, None, beta_per_image=beta * 4096, mig=mig)

    rows = [row(b, s, 0.1 * s + b) for b in (0.0, 1e-3, 4e-3) for s in range(3)]
    orange = []
    for name, rs in (("mig.png", rows), ("none.png", [row(1e-3, 0, None)])):
        save_mig_png(rs, tmp_path / name)
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and im.size == (715, 495)
            a = np.asarray(im.convert("RGB")).astype(int)
        # the mean line is matplotlib's tab:orange (255, 127, 14)
        orange.append(int((np.abs(a - [255, 127, 14]).sum(axis=2) < 30).sum()))
    assert orange[0] > 100 and orange[1] == 0
