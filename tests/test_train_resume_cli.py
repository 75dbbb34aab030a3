"""`train` records a timeline and `train --resume` continues a run exactly, through run_cli."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from latent_explorer.training.record.checkpoint import load_checkpoint
from latent_explorer.training.cli.main import run_cli

pytestmark = pytest.mark.numerics  # compares code paths: `make test-numerics`

# Small and fast on the bundled sample: 4,500 / 256 = 18 steps an epoch.
SMALL = ("--model", "vae", "--nz", "4", "--hidden", "16", "--batch-size", "256", "--seed", "3",
         "--dataset", "mnist-sample", "--device", "cpu", "--quiet")


def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = run_cli([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def one_line_error(rc: int, err: str) -> str:
    assert rc == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    """A 2-epoch run saved by plain `train`."""
    out = tmp_path_factory.mktemp("resume") / "two.safetensors"
    assert run_cli(["train", *SMALL, "--epochs", "2", "--out", str(out)]) == 0
    return out


def test_train_saves_its_timeline_and_resume_state(two_epochs):
    ck = load_checkpoint(two_epochs)
    assert ck.timeline is not None and len(ck.timeline) > 2
    assert ck.timeline.snapshots[0].step == 0 and ck.timeline.snapshots[-1].step == 36
    assert ck.resume is not None and ck.resume.epochs_done == 2 and ck.resume.step == 36
    assert ck.resume.optimizer is not None


def test_resume_to_four_equals_four_straight(two_epochs, tmp_path, capsys):
    resumed, straight = tmp_path / "resumed.safetensors", tmp_path / "straight.safetensors"
    rc, _, err = cli(capsys, "train", "--resume", two_epochs, "--epochs", 4, "--quiet",
                     "--out", resumed)
    assert rc == 0, err
    assert "continuing" in err and "the end of epoch 2" in err and "note:" not in err
    rc, _, err = cli(capsys, "train", *SMALL, "--epochs", 4, "--out", straight)
    assert rc == 0, err
    a, b = load_checkpoint(resumed), load_checkpoint(straight)
    assert a.name == "two" and a.train_config.epochs == 4 and len(a.history) == 72
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sb)  # bit for bit on the CPU
    assert (a.history.total == b.history.total).all()
    assert [e.epoch for e in a.history.epochs] == [1, 2, 3, 4]
    # The timeline went on where it stopped: the same snapshots as the straight run's.
    assert a.timeline.steps.tolist() == b.timeline.steps.tolist()
    assert a.timeline.steps.max() == 72
    # ... and makes a GIF, one frame per snapshot.
    gif = tmp_path / "progress.gif"
    rc, out, err = cli(capsys, "timeline", resumed, "--out", gif)
    assert rc == 0, err
    with Image.open(gif) as im:
        assert im.n_frames == len(a.timeline)


@pytest.mark.parametrize("extra, match", [
    (("--epochs", "2"), "already trained 2 epochs"),
    (("--epochs", "3", "--nz", "8"), "--nz 8 (the run has 4)"),
    (("--epochs", "3", "--model", "ae"), "--model ae (the run has vae)"),
    (("--epochs", "3", "--compile"), "--compile"),
    ((), "needs --epochs"),
])
def test_resume_refusals_are_one_line(two_epochs, tmp_path, capsys, extra, match):
    rc, _, err = cli(capsys, "train", "--resume", two_epochs, *extra, "--out",
                     tmp_path / "x.safetensors")
    assert match in one_line_error(rc, err)
    assert not (tmp_path / "x.safetensors").exists()


def test_resume_of_a_damaged_or_missing_file(two_epochs, tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    raw = bytearray(two_epochs.read_bytes())
    raw[-100] ^= 0xFF  # a flipped bit in a tensor: the checksum refuses it
    bad.write_bytes(bytes(raw))
    rc, _, err = cli(capsys, "train", "--resume", bad, "--epochs", 3, "--out", tmp_path / "o")
    assert "checksum" in one_line_error(rc, err)
    rc, _, err = cli(capsys, "train", "--resume", tmp_path / "none.safetensors", "--epochs", 3,
                     "--out", tmp_path / "o")
    assert "not found" in one_line_error(rc, err)


def test_train_without_model_or_with_a_stray_flag(tmp_path, capsys):
    rc, _, err = cli(capsys, "train", "--out", tmp_path / "x.safetensors")
    assert "--model is required" in one_line_error(rc, err)
    rc, _, err = cli(capsys, "train", "--model", "vae", "--allow-other-dataset", "--out",
                     tmp_path / "x.safetensors")
    assert "only applies with --resume" in one_line_error(rc, err)


def test_typed_options_that_match_the_run_are_accepted(two_epochs, tmp_path, capsys):
    out = tmp_path / "three.safetensors"
    rc, _, err = cli(capsys, "train", "--resume", two_epochs, "--epochs", 3, "--nz", 4,
                     "--model", "vae", "--batch-size", 256, "--quiet", "--out", out)
    assert rc == 0, err
    assert len(load_checkpoint(out).history) == 54


def test_a_warmed_up_run_resumed_equals_one_straight_run(tmp_path, capsys):
    # Warm-ups end by themselves: a 2-epoch run continued to 4 is the 4-epoch run.
    warm = ("--kl-warmup", "3", "--lr-warmup", "0.5")
    two, resumed = tmp_path / "two.safetensors", tmp_path / "resumed.safetensors"
    straight = tmp_path / "straight.safetensors"
    assert cli(capsys, "train", *SMALL, *warm, "--epochs", 2, "--out", two)[0] == 0
    rc, _, err = cli(capsys, "train", "--resume", two, "--epochs", 4, "--quiet", "--out", resumed)
    assert rc == 0, err
    assert cli(capsys, "train", *SMALL, *warm, "--epochs", 4, "--out", straight)[0] == 0
    a, b = load_checkpoint(resumed), load_checkpoint(straight)
    assert a.train_config.kl_warmup == 3.0 and a.train_config.schedule_epochs is None
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sb)
    assert (a.history.total == b.history.total).all() and (a.history.beta == b.history.beta).all()
    # A typed schedule option that differs from the run's is refused in one line.
    rc, _, err = cli(capsys, "train", "--resume", two, "--epochs", 3, "--kl-warmup", 2, "--out",
                     tmp_path / "x.safetensors")
    assert "--kl-warmup 2 (the run has 3)" in one_line_error(rc, err)


def test_a_stopped_cosine_run_resumed_equals_one_straight_run(tmp_path, capsys):
    # Stopped mid-run (the window's Stop, or a workspace's epoch checkpoint), continued by
    # `train --resume` to its epochs: the uninterrupted `train` run, bit for bit.
    from helpers import stop_save_load, train_config
    from latent_explorer.training.data.sources import load_dataset

    cfg = train_config(dataset="mnist-sample", batch_size=256, epochs=3, nz=4, hidden=(16,),
                       seed=3, kl_warmup=1.5, lr_schedule="cosine", lr_warmup=0.5)
    _, first, ck = stop_save_load(cfg, load_dataset("mnist-sample"), tmp_path, 25)
    assert first.state == "stopped" and ck.resume.batch_in_epoch == 7
    resumed, whole = tmp_path / "resumed.safetensors", tmp_path / "whole.safetensors"
    rc, _, err = cli(capsys, "train", "--resume", tmp_path / "run-25.safetensors", "--epochs", 3,
                     "--quiet", "--out", resumed)
    assert rc == 0, err
    assert "note:" not in err
    rc, _, err = cli(capsys, "train", *SMALL, "--epochs", 3, "--kl-warmup", 1.5,
                     "--lr-schedule", "cosine", "--lr-warmup", 0.5, "--out", whole)
    assert rc == 0, err
    a, b = load_checkpoint(resumed), load_checkpoint(whole)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sb)
    assert (a.history.total == b.history.total).all() and (a.history.beta == b.history.beta).all()
