"""The `sweep` sub-command: one checkpoint per member, the table and pictures, one-line errors."""

from __future__ import annotations

import argparse
import csv

import pytest
from PIL import Image

from latent_explorer.training.metrics.sweep_report import GOOD_QUALITY
from latent_explorer.training.record.checkpoint import load_checkpoint
from latent_explorer.training.cli.main import CliError
from latent_explorer.training.cli.commands import sweep as sweep_cmd

pytestmark = pytest.mark.numerics  # compares code paths: `make test-numerics`


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # as the CLI's parser does: one line, CliError
        raise CliError(message)


def parse(*argv: str) -> argparse.Namespace:
    p = _Parser(prog="sweep")
    sweep_cmd.add_arguments(p)
    return p.parse_args(list(argv))


def small(out, *extra: str) -> argparse.Namespace:
    return parse("--model", "vae", "--betas", "0,0.01,1", "--epochs", "1", "--nz", "4",
                 "--hidden", "32,16", "--dataset", "mnist-sample", "--device", "cpu",
                 "--iw", "4", "--quiet", "--out", str(out), *extra)


def test_sweep_writes_checkpoints_table_and_pictures(tmp_path, capsys):
    out = tmp_path / "betas"
    assert sweep_cmd.run(small(out, "--no-judge")) == 0
    names = ["vae-beta0-seed0", "vae-beta0.01-seed0", "vae-beta1-seed0"]
    for beta, name in zip((0.0, 0.01, 1.0), names):
        ck = load_checkpoint(out / f"{name}.safetensors")
        assert ck.train_config.beta == beta and ck.model.config.beta == beta
        assert ck.group == "betas" and ck.state == "finished" and ck.dataset == "mnist-sample"
        assert ck.metrics is not None and len(ck.history) == 71  # 4,500 images / 64
    rows = list(csv.DictReader((out / "summary.csv").read_text(encoding="utf-8").splitlines()))
    assert [r["beta"] for r in rows] == ["0", "0.01", "1"]
    for r in rows:
        assert float(r["rate_nats"]) + float(r["distortion_nats"]) == pytest.approx(
            float(r["neg_elbo_nats"]), abs=2e-3)
        assert float(r["iw_bound_nats"]) <= float(r["neg_elbo_nats"]) + 1.0
        assert r["iw_k"] == "4" and r["sample_quality"] == ""  # no judge asked for
    assert sum(r["best"] == "bound" for r in rows) == 1
    for png in ("rate-distortion.png", "grid.png"):
        with Image.open(out / png) as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 200
    printed = capsys.readouterr().out
    assert "best bound" in printed and "not comparable with published" in printed


@pytest.fixture(scope="module")
def cached_judge(sample_dataset):
    """The bundled sample's judge in the (per-session) cache, as the command finds it."""
    from latent_explorer.training.metrics.judge import get_judge

    return get_judge(sample_dataset)


def test_sweep_with_the_judge_marks_the_best_sample_quality(tmp_path, capsys, cached_judge):
    out = tmp_path / "judged"
    assert sweep_cmd.run(small(out, "--betas", "0.001,10")) == 0
    rows = list(csv.DictReader((out / "summary.csv").read_text(encoding="utf-8").splitlines()))
    assert all(0 <= float(r["sample_quality"]) <= 1 for r in rows)
    printed = capsys.readouterr().out
    if max(float(r["sample_quality"]) for r in rows) >= GOOD_QUALITY:
        assert sum("quality" in r["best"] for r in rows) == 1
        assert "best sample quality" in printed
    else:  # two epochs rarely make good samples: then none is crowned, and that is said
        assert not any("quality" in r["best"] for r in rows)
        assert "no member's samples are good" in printed


@pytest.mark.parametrize("argv, words", [
    (("--betas", ""), "empty"),
    (("--betas", "0,abc"), "'abc' is not a number"),
    (("--betas", "0,-1"), ">= 0"),
    (("--betas", "0.1,0.1"), "listed twice"),
    (("--seeds", "0,0"), "listed twice"),
    (("--seeds", "a"), "not a whole number"),
    (("--betas", ",".join(str(i) for i in range(65))), "at most 64"),
    (("--iw", "-1"), "--iw"),
])
def test_bad_lists_and_values_are_one_line_errors(tmp_path, argv, words):
    out = tmp_path / "never"
    with pytest.raises(CliError, match=words) as e:
        sweep_cmd.run(small(out, *argv))
    assert "\n" not in str(e.value)
    assert not out.exists()  # nothing was written


@pytest.mark.parametrize("argv, words", [
    (("--epochs", "0"), "epochs"), (("--hidden", "a,b"), "hidden"), (("--lr", "0"), "lr"),
])
def test_bad_numbers_are_refused_by_the_parser(tmp_path, argv, words):
    with pytest.raises(CliError, match=words):
        small(tmp_path / "never", *argv)


def test_an_ae_cannot_be_swept(tmp_path):
    with pytest.raises(CliError, match="invalid choice: 'ae'"):
        parse("--model", "ae", "--out", str(tmp_path))


def test_out_must_be_a_folder_whose_parent_exists(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(CliError, match="is a file"):
        sweep_cmd.run(small(f))
    with pytest.raises(CliError, match="does not exist"):
        sweep_cmd.run(small(tmp_path / "missing" / "out"))


def test_a_sweep_that_fails_entirely_is_an_error(tmp_path):
    with pytest.raises(CliError, match="sweep failed: every member failed"):
        sweep_cmd.run(small(tmp_path / "x", "--betas", "1e39,3e39", "--no-judge"))


def test_a_sweep_over_target_rates_names_members_by_rate_and_reports_their_beta(tmp_path):
    out = tmp_path / "rates"
    args = parse("--model", "vae", "--target-rates", "3,30", "--epochs", "1", "--nz", "4",
                 "--hidden", "32,16", "--dataset", "mnist-sample", "--device", "cpu",
                 "--iw", "0", "--no-judge", "--quiet", "--out", str(out))
    assert sweep_cmd.run(args) == 0
    rows = list(csv.DictReader((out / "summary.csv").read_text(encoding="utf-8").splitlines()))
    assert [r["target_rate_nats"] for r in rows] == ["3", "30"]
    for r, target in zip(rows, (3, 30)):
        ck = load_checkpoint(out / f"vae-rate{target}-seed0.safetensors")
        assert ck.train_config.target_rate == target and ck.history.has_beta
        # the β column is the β the member ended with, its last step's
        assert float(r["beta"]) == pytest.approx(float(ck.history.beta[-1]), rel=1e-5)
    assert float(rows[0]["beta"]) > float(rows[1]["beta"])  # less rate asks for more β


def test_ray_options_without_the_ray_engine_are_refused(tmp_path):
    with pytest.raises(CliError, match="--engine ray"):
        sweep_cmd.run(small(tmp_path / "x", "--address", "127.0.0.1:6379"))


def test_a_sprites_sweep_reports_mig_dci_and_beta_per_image(tmp_path, monkeypatch, capsys):
    """Two members on 600/300 sprites: summary.csv's new columns hold each member's MIG and DCI
    disentanglement (as scored on its saved checkpoint's test codes) and β × C·H·W, and
    mig_vs_beta.png is written beside the rate-distortion plane."""
    from latent_explorer.training.data.sprites import load_sprites
    from latent_explorer.training.metrics import disentanglement as dis
    from latent_explorer.training.metrics.sweep_report import read_summary_csv

    ds = load_sprites(n_train=600, n_test=300)
    monkeypatch.setattr(sweep_cmd, "load_data", lambda args: ds)
    out = tmp_path / "sprites"
    args = parse("--model", "vae", "--betas", "1e-4,1e-3", "--epochs", "1", "--nz", "4",
                 "--hidden", "32", "--dataset", "sprites", "--device", "cpu", "--iw", "0",
                 "--no-judge", "--quiet", "--out", str(out))
    assert sweep_cmd.run(args) == 0
    rows = list(csv.DictReader((out / "summary.csv").read_text(encoding="utf-8").splitlines()))
    assert [r["beta_per_image"] for r in rows] == ["0.4096", "4.096"]  # β × 1·64·64
    assert all(r["bits_per_dim"] == "" for r in rows)  # Bernoulli: no bits/dim
    factors = ds.test.factors.numpy()
    for r in rows:
        model = load_checkpoint(out / r["checkpoint"]).model
        codes = dis.codes_of(model, ds.test.images)
        assert float(r["mig"]) == pytest.approx(dis.mig(codes, factors).score, abs=6e-5)
        assert float(r["dci_disentanglement"]) == pytest.approx(
            dis.dci(codes, factors).disentanglement, abs=6e-5)
    back = read_summary_csv(out / "summary.csv")
    assert [b.mig for b in back] == [float(r["mig"]) for r in rows]
    with Image.open(out / "mig_vs_beta.png") as im:
        assert im.format == "PNG" and im.width > 300
    printed = capsys.readouterr().out
    assert "MIG" in printed.splitlines()[0] and "β/image" in printed.splitlines()[0]
    assert "mig_vs_beta.png" in printed and "20-bin histograms" in printed
