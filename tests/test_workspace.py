"""The workspace: runs written from their first step, read back from the files alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.engine.loop import TrainConfig, Trainer
from latent_explorer.training.record import workspace as wsmod
from latent_explorer.training.record.checkpoint import load_checkpoint
from latent_explorer.training.record.workspace import (MetricsReader, RunLock, RunWriter,
                                                       Workspace, WorkspaceError,
                                                       history_from_records, open_workspace,
                                                       read_run, request)

ROOT = Path(__file__).resolve().parents[1]


def tiny(**kw) -> TrainConfig:
    base = dict(kind="vae", beta=0.005, nz=2, hidden=(8,), epochs=3, batch_size=64, lr=3e-3,
                seed=0, device="cpu", dataset="mnist-sample")
    return TrainConfig(**{**base, **kw})


def read_all(folder: Path) -> list[dict]:
    return MetricsReader(folder).read_new()


def test_a_run_is_written_from_its_first_step_and_reads_back_whole(tmp_path, small_dataset):
    ws = Workspace(tmp_path)
    writer = RunWriter(ws, "VAE β=0.005 nz=2")
    result = Trainer(tiny(), small_dataset, [writer]).run()
    assert result.state == "finished"
    (rec,) = ws.runs()
    assert rec.folder == writer.folder and rec.name == "VAE β=0.005 nz=2"
    assert (rec.state, rec.kind, rec.dataset, rec.epoch) == ("finished", "vae", "mnist-small", 3)
    assert rec.step == len(result.history) == 30 and rec.pid == os.getpid()
    h = history_from_records(read_all(rec.folder))
    np.testing.assert_array_equal(h.total, result.history.total)
    np.testing.assert_array_equal(h.recon, result.history.recon)
    assert [e.epoch for e in h.epochs] == [1, 2, 3]
    assert h.epochs[-1].metrics.neg_elbo == result.metrics.neg_elbo
    ckpt = load_checkpoint(rec.checkpoint_path)
    assert ckpt.state == "finished" and ckpt.resume is not None
    for k, v in result.model.state_dict().items():
        assert torch.equal(ckpt.model.state_dict()[k], v), k
    assert not (rec.folder / wsmod.LOCK_FILE).exists()  # the writer let go


def test_the_metrics_log_reaches_the_file_while_training(tmp_path, small_dataset, monkeypatch):
    """Another process reads steps before the run ends (at least once a second)."""
    ws = Workspace(tmp_path)
    seen: list[int] = []

    class Peek(RunWriter):
        def on_epoch_end(self, event):
            super().on_epoch_end(event)
            seen.append(sum(len(r["total"]) for r in read_all(self.folder) if r["t"] == "steps"))

    Trainer(tiny(), small_dataset, [Peek(ws, "peek")]).run()
    assert seen == [10, 20, 30]  # every step of each epoch is on disk at its end


def test_a_torn_last_line_waits_and_a_garbage_line_is_skipped(tmp_path):
    log = tmp_path / wsmod.METRICS_FILE
    log.write_text('{"t":"steps","first":0,"total":[1]}\nnot json\n{"t":"steps","fi')
    reader = MetricsReader(tmp_path)
    assert reader.read_new() == [{"t": "steps", "first": 0, "total": [1]}]
    assert reader.read_new() == []  # the torn line is not read until it is whole
    with open(log, "a") as f:
        f.write('rst":1,"total":[2]}\n')
    assert reader.read_new() == [{"t": "steps", "first": 1, "total": [2]}]


@pytest.mark.parametrize("text, problem", [
    ('{"name": "x", "sta', "cannot be read"),
    ('[1, 2]', "cannot be read"),
    ('{"format": 99, "name": "x"}', "newer version"),
    ('{"format": 1, "state": "dancing"}', "unknown state"),
    ('{"format": 1, "epoch": "many"}', "bad field"),
])
def test_an_unreadable_run_file_says_why_in_one_line(tmp_path, text, problem):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / wsmod.RUN_FILE).write_text(text)
    rec = read_run(folder)
    assert problem in rec.problem and "\n" not in rec.problem
    assert Workspace(tmp_path).runs() == [rec]  # listed, not an error


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_run_whose_writer_died_reads_as_interrupted(tmp_path):
    import socket

    folder = tmp_path / "run"
    folder.mkdir()
    run = {"format": 1, "name": "r", "state": "training", "host": socket.gethostname(),
           "pid": _dead_pid(), "heartbeat": time.time(), "epoch": 4}
    (folder / wsmod.RUN_FILE).write_text(json.dumps(run))
    assert read_run(folder).state == "interrupted"
    run["pid"] = os.getpid()  # alive: still training
    (folder / wsmod.RUN_FILE).write_text(json.dumps(run))
    assert read_run(folder).state == "training"
    run.update(host="elsewhere", heartbeat=time.time() - 2 * wsmod.STALE_AFTER_S)
    (folder / wsmod.RUN_FILE).write_text(json.dumps(run))
    assert read_run(folder).state == "interrupted"  # another host: a stale heartbeat says it


def test_one_writer_per_run_and_a_stale_lock_is_taken_over(tmp_path):
    import socket

    first = RunLock(tmp_path)
    first.acquire()
    with pytest.raises(WorkspaceError, match="being written by another process"):
        RunLock(tmp_path).acquire()
    first.release()
    (tmp_path / wsmod.LOCK_FILE).write_text(json.dumps({"host": socket.gethostname(),
                                                        "pid": _dead_pid()}))
    lock = RunLock(tmp_path)
    lock.acquire()  # its holder is gone
    assert json.loads((tmp_path / wsmod.LOCK_FILE).read_text())["pid"] == os.getpid()


def test_stop_through_the_control_file_acts_between_batches(tmp_path, small_dataset):
    ws = Workspace(tmp_path)
    started = threading.Event()

    class Signal(RunWriter):
        def on_steps(self, event):
            super().on_steps(event)
            started.set()

    writer = Signal(ws, "long")
    trainer = Trainer(tiny(epochs=10_000), small_dataset, [writer])
    t = threading.Thread(target=trainer.run)
    t.start()
    assert started.wait(60)
    request(writer.folder, "pause")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
            trainer.is_waiting and read_run(writer.folder).state == "paused"):
        time.sleep(0.01)  # the loop and the writer's control thread act on their own threads
    assert trainer.is_waiting and read_run(writer.folder).state == "paused"
    request(writer.folder, "stop")
    t.join(60)
    assert not t.is_alive()
    rec = read_run(writer.folder)
    assert rec.state == "stopped" and rec.checkpoint_path.is_file()


def test_trash_is_undoable_and_emptied_on_request(tmp_path, small_dataset):
    ws = Workspace(tmp_path)
    Trainer(tiny(epochs=1), small_dataset, [RunWriter(ws, "a")]).run()
    (rec,) = ws.runs()
    trashed = ws.trash(rec.folder)
    assert ws.runs() == [] and ws.trashed() == [trashed]
    ws.restore(trashed)
    assert [r.name for r in ws.runs()] == ["a"]
    ws.trash(ws.runs()[0].folder)
    assert ws.empty_trash() == 1 and ws.trashed() == [] and ws.runs() == []


def test_a_workspace_that_is_a_file_or_not_writable_is_one_line_exit_2(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(WorkspaceError, match="not a folder"):
        open_workspace(f)
    assert run_cli(["runs", "--workspace", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: workspace {f} is not a folder"
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert run_cli(["runs", "--workspace", str(ro)]) == 2


def test_runs_json_lists_each_run_with_its_state_and_checkpoint(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    assert run_cli(["train", "--model", "ae", "--epochs", "2", "--nz", "2", "--hidden", "8",
                    "--dataset", "mnist-sample", "--quiet", "--workspace", ws]) == 0
    capsys.readouterr()
    assert run_cli(["runs", "--json", "--workspace", ws]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    d = json.loads(line)
    assert {"name", "folder", "state", "epoch", "step", "checkpoint"} <= d.keys()
    assert (d["name"], d["state"], d["epoch"], d["step"]) == ("AE nz=2", "finished", 2, 142)
    assert Path(d["checkpoint"]).is_file()
    # a run's folder name stands for its latest checkpoint in the other commands
    assert run_cli(["eval", Path(d["folder"]).name, "--workspace", ws]) == 0
    assert "test:" in capsys.readouterr().out


def _wait_for(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)  # another process writes the files: nothing here to wait on
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_a_killed_train_is_interrupted_and_continues_to_the_uninterrupted_weights(tmp_path):
    ws = tmp_path / "ws"
    args = ["train", "--model", "vae", "--nz", "2", "--hidden", "8", "--epochs", "40",
            "--dataset", "mnist-sample", "--quiet", "--threads", "1", "--workspace", str(ws)]
    env = {**os.environ, "LATENT_EXPLORER_CHECKPOINT_INTERVAL_S": "0"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        folder = _wait_for(lambda: next(iter(Workspace(ws).run_folders()), None), 120,
                           "the run folder")
        _wait_for(lambda: read_run(folder).epoch >= 3, 120, "three epochs")
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.time()
        proc.wait(30)
    finally:
        proc.kill()
        proc.stderr.close()
    rec = read_run(folder)
    assert rec.state == "interrupted" and rec.epoch >= 3
    steps = [r for r in read_all(folder) if r["t"] == "steps"]
    on_disk = steps[-1]["first"] + len(steps[-1]["total"])
    assert on_disk >= rec.step  # the log is at least as far as the run file
    assert killed_at - (folder / wsmod.METRICS_FILE).stat().st_mtime <= 1.5
    ckpt = load_checkpoint(rec.checkpoint_path)  # the last epoch checkpoint loads
    assert ckpt.resume is not None and ckpt.resume.epochs_done == int(
        rec.checkpoint.split("-")[1].split(".")[0])
    # Continue in its own folder: the same run, reaching the uninterrupted run's weights
    assert run_cli(["train", "--resume", folder.name, "--epochs", "40", "--quiet",
                    "--workspace", str(ws)]) == 0
    (after,) = Workspace(ws).runs()
    assert after.folder == folder and after.state == "finished" and after.epoch == 40
    resumed = load_checkpoint(after.checkpoint_path).model.state_dict()
    straight = Trainer(tiny(epochs=40, lr=1e-3), None).run()
    assert straight.state == "finished"
    for k, v in straight.model.state_dict().items():
        assert torch.equal(resumed[k], v), k
    h = history_from_records(read_all(folder))  # the log reads as one run: redone steps once
    np.testing.assert_array_equal(h.total, straight.history.total)


def test_a_lock_held_on_another_host_is_taken_over_once_the_heartbeat_is_stale(tmp_path):
    (tmp_path / wsmod.LOCK_FILE).write_text(json.dumps({"host": "elsewhere", "pid": 1}))
    run = {"format": 1, "name": "r", "state": "training", "host": "elsewhere", "pid": 1,
           "heartbeat": time.time()}
    (tmp_path / wsmod.RUN_FILE).write_text(json.dumps(run))
    with pytest.raises(WorkspaceError, match="being written by another process"):
        RunLock(tmp_path).acquire()  # its heartbeat is fresh: that writer may be alive
    run["heartbeat"] = time.time() - 2 * wsmod.STALE_AFTER_S
    (tmp_path / wsmod.RUN_FILE).write_text(json.dumps(run))
    RunLock(tmp_path).acquire()  # stale: a continue on this machine may take it over


def test_a_run_file_naming_a_vanished_checkpoint_falls_back_to_the_newest_there(tmp_path):
    folder = tmp_path / "run"
    (folder / wsmod.CHECKPOINTS).mkdir(parents=True)
    for name in ("epoch-0009.safetensors", "epoch-0012.safetensors"):
        (folder / wsmod.CHECKPOINTS / name).write_bytes(b"x")
    (folder / wsmod.RUN_FILE).write_text(json.dumps({
        "format": 1, "name": "r", "state": "finished",
        "checkpoint": "checkpoints/epoch-0013.safetensors"}))
    assert read_run(folder).checkpoint == "checkpoints/epoch-0012.safetensors"
