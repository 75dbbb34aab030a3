"""The `timeline` command (GIF, contact sheet) and `train --resume`, called as the CLI would."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import train_config
from latent_explorer.training.record.checkpoint import Checkpoint, checkpoint_of, load_checkpoint, save_checkpoint
from latent_explorer.training.cli.main import CliError
from latent_explorer.training.cli.commands import resume as resume_cmd
from latent_explorer.training.cli.commands import timeline as timeline_cmd
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.record.timeline import TimelineRecorder


TINY = dict(nz=8, hidden=(32, 16), lr=3e-3, seed=4)


@pytest.fixture(scope="module")
def files(tmp_path_factory, sample_dataset):
    """One epoch on the bundled sample (71 steps) saved with and without timeline and state."""
    folder = tmp_path_factory.mktemp("tl")
    t = Trainer(train_config(TINY), sample_dataset, timeline=TimelineRecorder(n_codes=100))
    r = t.run()
    full = Trainer(train_config(TINY, epochs=2), sample_dataset).run()
    new = save_checkpoint(folder / "new.safetensors", checkpoint_of(t, r, "tiny"))
    old = save_checkpoint(folder / "old.safetensors",
                          Checkpoint(r.model, train_config(TINY), r.history, r.metrics, name="tiny",
                                     dataset="mnist-sample"))
    return {"new": new, "old": old, "n": len(t.timeline_recorder.timeline), "full": full}


def timeline_args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    timeline_cmd.add_arguments(p)
    return p.parse_args(list(argv))


def resume_args(*argv: str) -> argparse.Namespace:
    """A train-like parser: the options run_resume reads, run-defining ones defaulting to None."""
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default=None)
    p.add_argument("--dataset", default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--beta", type=float, default=None)
    p.add_argument("--hidden", type=lambda s: tuple(int(x) for x in s.split(",")), default=None)
    resume_cmd.add_resume_arguments(p)
    return p.parse_args(list(argv))


# -- timeline ----------------------------------------------------------------------------------
def test_gif_has_a_frame_per_snapshot_with_its_step(files, tmp_path, capsys):
    out = tmp_path / "progress.gif"
    assert timeline_cmd.run(timeline_args(str(files["new"]), "--out", str(out))) == 0
    assert f"wrote {files['n']} frames" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == files["n"]
        frames = []
        for i in (0, im.n_frames - 1):
            im.seek(i)
            frames.append(np.asarray(im.convert("L"), dtype=np.int16))
    # at scale 2: a caption band of 18 px over two grids of 28 px images with 2 px padding
    # (originals and reconstructions; 20 samples in 2 rows of 10) and a 2 px line between
    assert frames[0].shape == (18 + 2 * (2 * 62 + 2), 2 * (10 * 30 + 2))
    band = slice(0, 18)
    assert (frames[0][band] < 128).any()  # the step is written on each frame
    assert not np.array_equal(frames[0][band], frames[1][band])  # ... and it changes
    assert np.abs(frames[0][18:] - frames[1][18:]).mean() > 5  # the model learned meanwhile


def test_gif_of_chosen_steps(files, tmp_path):
    out = tmp_path / "two.gif"
    timeline_cmd.run(timeline_args(str(files["new"]), "--out", str(out), "--steps", "0,71"))
    with Image.open(out) as im:
        assert im.n_frames == 2


def test_contact_sheet(files, tmp_path, capsys):
    out = tmp_path / "sheet.png"
    timeline_cmd.run(timeline_args(str(files["new"]), "--out", str(out), "--count", "3",
                                   "--scale", "1"))
    assert "a sheet of 3 snapshots (steps 0," in capsys.readouterr().out
    with Image.open(out) as im:
        tile = 16 + 2 * 62 + 2  # a caption band of 16 px at scale 1, then the frame's grids
        assert im.format == "PNG" and im.size == (10 * 30 + 2, 3 * tile + 2 * 4)


def test_a_file_without_timeline_is_one_line_error(files, tmp_path):
    with pytest.raises(CliError, match="no training timeline") as e:
        timeline_cmd.run(timeline_args(str(files["old"]), "--out", str(tmp_path / "x.gif")))
    assert "\n" not in str(e.value) and "older than timelines" in str(e.value)
    assert "sweep" not in str(e.value)


def test_a_sweep_member_file_says_sweeps_record_no_timeline(files, tmp_path):
    """Not 'an older version': the sweep engine records none (the `sweep` command's files)."""
    from latent_explorer.training.record.checkpoint import load_checkpoint

    ck = load_checkpoint(files["old"])
    ck.group, ck.name = "betas-7", "vae_beta0.01_seed0"
    member = save_checkpoint(tmp_path / "member.safetensors", ck)
    with pytest.raises(CliError) as e:
        timeline_cmd.run(timeline_args(str(member), "--out", str(tmp_path / "x.gif")))
    text = str(e.value)
    assert "\n" not in text and "member of betas-7" in text
    assert "sweep members record no timeline" in text and "older" not in text


@pytest.mark.parametrize("out,match", [("x.jpg", "must end in .gif"),
                                       ("no/such/x.gif", "does not exist")])
def test_bad_out(files, tmp_path, out, match):
    with pytest.raises(CliError, match=match):
        timeline_cmd.run(timeline_args(str(files["new"]), "--out", str(tmp_path / out)))


@pytest.mark.parametrize("argv", [["--steps", "a,b"], ["--steps", "-3"], ["--count", "0"]])
def test_bad_options_are_parser_errors(files, argv):
    with pytest.raises(SystemExit):
        timeline_args(str(files["new"]), "--out", "x.gif", *argv)


# -- train --resume ----------------------------------------------------------------------------
def test_resume_continues_exactly(files, tmp_path, capsys):
    out = tmp_path / "more.safetensors"
    rc = resume_cmd.run_resume(resume_args("--resume", str(files["new"]), "--epochs", "2",
                                           "--out", str(out)))
    assert rc == 0
    err = capsys.readouterr().err
    assert "continuing tiny (VAE) from the end of epoch 1 (step 71) to 2 epochs" in err
    assert "note:" not in err
    ck = load_checkpoint(out)
    assert ck.name == "tiny" and len(ck.history) == 142 and ck.resume.epochs_done == 2
    for a, b in zip(files["full"].model.parameters(), ck.model.parameters()):
        assert torch.equal(a, b)
    assert np.array_equal(files["full"].history.total, ck.history.total)
    assert ck.timeline.steps.max() == 142 and len(ck.timeline) > files["n"]


def test_resume_of_an_old_file_says_it_is_not_exact(files, tmp_path, capsys):
    out = tmp_path / "more.safetensors"
    resume_cmd.run_resume(resume_args("--resume", str(files["old"]), "--epochs", "2",
                                      "--out", str(out)))
    err = capsys.readouterr().err
    assert "note: this checkpoint holds no optimizer or random state" in err
    assert len(load_checkpoint(out).history) == 142


@pytest.mark.parametrize("argv,match", [
    (["--epochs", "1"], "already trained 1 epoch"),
    ([], "needs --epochs"),
    (["--epochs", "3", "--beta", "0.5"], r"--beta 0.5 \(the run has 0.005\)"),
    (["--epochs", "3", "--hidden", "64,32"], r"--hidden 64,32 \(the run has 32,16\)"),
])
def test_resume_refusals(files, tmp_path, argv, match):
    with pytest.raises(CliError, match=match) as e:
        resume_cmd.run_resume(resume_args("--resume", str(files["new"]), "--out",
                                          str(tmp_path / "x.safetensors"), *argv))
    assert "\n" not in str(e.value)


def test_resume_options_given_that_match_are_fine(files, tmp_path):
    out = tmp_path / "ok.safetensors"
    assert resume_cmd.run_resume(resume_args("--resume", str(files["new"]), "--epochs", "2",
                                             "--beta", "0.005", "--hidden", "32,16",
                                             "--out", str(out))) == 0
