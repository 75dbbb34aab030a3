"""Sweeps on Ray: the same members as a local sweep, live events, a killed worker that loses
nothing, and clear refusals. Every Ray process here listens on 127.0.0.1 only."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import fill_form, make_window, sweep_config
from tolerances import assert_losses_close
from latent_explorer.training.config import parse_address
from latent_explorer.training.engine.events import Observer
from latent_explorer.training.engine.ray_sweep import (ADDRESS_TIMEOUT_S, RaySettings, RaySweepTrainer,
                                                       RayUnavailable, check_address, plan_trials)
from latent_explorer.training.engine.sweep import SweepConfig, SweepTrainer
from latent_explorer.training.record.checkpoint import load_checkpoint
from latent_explorer.training.cli.main import run_cli

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- without a cluster ------------------------------------------------------------------------------
def test_trials_split_the_members_into_even_contiguous_blocks():
    assert plan_trials(7, 1, 2) == [[0, 1, 2, 3], [4, 5, 6]]
    assert plan_trials(3, 2, 2) == [[0, 1, 2]]
    assert plan_trials(2, 1, 16) == [[0], [1]]  # never more trials than members
    assert sorted(m for t in plan_trials(64, 3, 20) for m in t) == list(range(64))


@pytest.mark.parametrize("bad", ["localhost", ":6379", "host:", "host:99999", "host:port"])
def test_an_address_that_is_not_host_port_is_refused(bad):
    with pytest.raises(ValueError, match="host:port"):
        parse_address(bad)
    with pytest.raises(ValueError, match="host:port"):
        RaySettings(address=bad)


def test_an_unreachable_address_is_one_line_after_one_bounded_probe(monkeypatch):
    # One connection attempt with a timeout of a few seconds, not ray.init's minute of retries
    # (how long the refusal takes: benchmarks/refusal_latency.py).
    probes = []
    connect = socket.create_connection

    def probe(address, timeout=None, *a, **k):
        probes.append((address, timeout))
        return connect(address, timeout, *a, **k)

    monkeypatch.setattr(socket, "create_connection", probe)
    port = free_port()
    with pytest.raises(RayUnavailable) as e:
        check_address(f"127.0.0.1:{port}")
    assert probes == [(("127.0.0.1", port), ADDRESS_TIMEOUT_S)] and ADDRESS_TIMEOUT_S <= 10
    assert "no Ray cluster at 127.0.0.1:" in str(e.value) and "\n" not in str(e.value)


def test_the_cli_refuses_an_unreachable_cluster_with_exit_2(tmp_path, capsys):
    # In this process, as main.py runs it (tests/test_cli.py runs main.py as a process).
    rc = run_cli(["sweep", "--model", "vae", "--engine", "ray", "--address",
                  f"127.0.0.1:{free_port()}", "--out", str(tmp_path / "out")])
    assert rc == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "no Ray cluster at" in lines[0]
    assert not (tmp_path / "out").exists()  # nothing written


# -- an embedded cluster ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    """The embedded cluster the app starts (2 CPUs), started once for the module's tests (a
    test that asks for it is marked slow)."""
    import ray

    from latent_explorer.training.engine.ray_sweep import init_ray

    assert init_ray(ray, RaySettings())
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_every_ray_process_listens_on_loopback_only(cluster):
    import psutil

    ours = {p.pid for p in psutil.Process().children(recursive=True)}
    listening = [c for c in psutil.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.pid in ours]
    assert listening, "the cluster's processes were not found"
    hosts = {c.laddr.ip.removeprefix("::ffff:") for c in listening}
    assert hosts == {"127.0.0.1"}, hosts


class Recorder(Observer):
    def __init__(self) -> None:
        self.steps, self.epochs, self.failed, self.ended = [], [], [], []

    def on_steps(self, event):
        self.steps.append(event)

    def on_epoch_end(self, event):
        self.epochs.append(event)

    def on_member_failed(self, event):
        self.failed.append(event)

    def on_train_end(self, result):
        self.ended.append(result)


def covered(events, m: int) -> np.ndarray:
    parts = [e.for_member(m) for e in events]
    return np.concatenate([p.total[0] for p in parts if p is not None])


@pytest.mark.slow
def test_a_ray_sweep_trains_the_members_a_local_sweep_does_and_streams_them(cluster,
                                                                            small_dataset):
    # β = 1e39 overflows at once: that member fails alone, in its trial, as it does locally.
    cfg = sweep_config(betas=(0.0, 0.005, 1.0, 1e39), epochs=2)
    local = SweepTrainer(cfg, small_dataset).run()
    rec = Recorder()
    trainer = RaySweepTrainer(cfg, small_dataset, [rec], settings=RaySettings(cpus_per_trial=1))
    result = trainer.run()
    assert result.state == "finished", result.error
    assert len(trainer.trial_pids) == 2  # 4 members on 2 CPUs: two trials
    bad = result.results[3]
    assert bad.state == "failed" and "diverged" in bad.error and "beta (1e+39)" in bad.error
    assert [e.member for e in rec.failed] == [3] and trainer.resume_state(3) is None
    for m in range(3):
        got, want = result.results[m].history, local.results[m].history
        assert len(got) == len(want) == 20
        assert_losses_close(got.total, want.total, f"member {m}")
        # every step reached the observers, and each epoch's metrics of every member
        np.testing.assert_array_equal(covered(rec.steps, m), got.total)
        assert [e.epoch for e in rec.epochs if e.metrics[m] is not None] == [1, 2]
        assert result.results[m].model.config.beta == cfg.members()[m][0]
        state = trainer.resume_state(m)
        assert state is not None and state.epochs_done == 2 and state.optimizer is not None
    assert rec.ended == [result]


@pytest.mark.slow
def test_a_killed_worker_is_restarted_from_its_last_epoch_and_loses_no_member(cluster,
                                                                              small_dataset):
    cfg = sweep_config(epochs=2)
    local = SweepTrainer(cfg, small_dataset).run()
    killed: list[int] = []

    class KillOnce(Recorder):
        def on_epoch_end(self, event):
            super().on_epoch_end(event)
            if not killed and event.metrics[0] is not None:  # trial 0 reported epoch 1
                pid = trainer.trial_pids[0]
                killed.append(pid)
                os.kill(pid, signal.SIGKILL)

    rec = KillOnce()
    trainer = RaySweepTrainer(cfg, small_dataset, [rec],
                              settings=RaySettings(cpus_per_trial=1, max_failures=2))
    result = trainer.run()
    assert killed and trainer.trial_pids[0] != killed[0]  # another process finished it
    assert result.state == "finished", result.error
    for m in range(cfg.n_members):
        got = result.results[m]
        assert got.state == "finished" and len(got.history) == 20
        assert_losses_close(got.history.total, local.results[m].history.total, f"member {m}")


@pytest.mark.slow
def test_stop_acts_on_the_whole_ray_sweep_and_keeps_the_weights(cluster, small_dataset):
    class StopAfterFirstEpoch(Recorder):
        def on_epoch_end(self, event):
            super().on_epoch_end(event)
            trainer.request_stop()  # from the driver, as the app's Stop does

    rec = StopAfterFirstEpoch()
    trainer = RaySweepTrainer(sweep_config(epochs=50), small_dataset, [rec],
                              settings=RaySettings(cpus_per_trial=1))
    result = trainer.run()  # how soon it stops: benchmarks/control_latency.py --ray
    assert result.state == "stopped"
    for r in result.results:  # every member stopped early, its weights kept
        assert r.state == "stopped" and 1 <= len(r.history) < 50 * 10
        assert r.model is not None and np.isfinite(r.history.total).all()


# -- a cluster started with `ray start --head` ------------------------------------------------------
@pytest.mark.slow
def test_the_cli_trains_on_a_running_head_and_writes_what_local_writes(cluster, tmp_path, capsys,
                                                                       sample_dataset):
    # The module's cluster is a running head on loopback (no token: nothing else can reach
    # it): the CLI's driver, another process, joins it by its address, as it joins a real one.
    address = cluster.get_runtime_context().gcs_address
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    out = tmp_path / "ray"
    p = subprocess.run([sys.executable, str(ROOT / "main.py"), "sweep", "--model", "vae",
                        "--betas", "0,0.005", "--epochs", "1", "--nz", "8", "--hidden",
                        "64,32", "--iw", "0", "--no-judge", "--quiet", "--dataset",
                        "mnist-sample", "--engine", "ray", "--address", address, "--out",
                        str(out), "--workspace", str(tmp_path / "ws")],
                       capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert p.returncode == 0, p.stderr
    # Each trial's member is a run in the workspace, written as it trained: finished, with its
    # epoch checkpoint, as `runs --json` lists them.
    capsys.readouterr()
    assert run_cli(["runs", "--json", "--workspace", str(tmp_path / "ws")]) == 0
    runs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert sorted((r["state"], r["epoch"]) for r in runs) == [("finished", 1), ("finished", 1)]
    assert all(Path(r["checkpoint"]).is_file() for r in runs)
    # What `sweep` writes locally, and the members a local sweep trains.
    assert sorted(f.name for f in out.iterdir()) == [
        "grid.png", "rate-distortion.png", "summary.csv", "vae-beta0-seed0.safetensors",
        "vae-beta0.005-seed0.safetensors"]
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["beta"], r["state"]) for r in rows] == [("0", "finished"), ("0.005", "finished")]
    cfg = SweepConfig(kind="vae", betas=(0.0, 0.005), epochs=1, nz=8, hidden=(64, 32),
                      device="cpu", dataset="mnist-sample")
    local = SweepTrainer(cfg, sample_dataset).run()
    for m, name in enumerate(["vae-beta0-seed0.safetensors", "vae-beta0.005-seed0.safetensors"]):
        ck = load_checkpoint(out / name)
        assert ck.group == "ray" and ck.resume is not None and ck.resume.optimizer is not None
        assert_losses_close(ck.history.total, local.results[m].history.total, name)


# -- in the app ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_app_trains_a_sweep_on_ray_live_and_remembers_where(qtbot, cluster, small_dataset,
                                                                 settings, datasets):
    from PySide6.QtCore import Qt

    from latent_explorer.explorer.session.job_events import EpochEvent, TrainingEnded

    w = make_window(qtbot, settings, datasets)
    told: dict[str, list] = {}
    w.session.run_event.connect(
        lambda run, ev: told.setdefault(run.name, []).append(
            ("epoch", ev.epoch) if isinstance(ev, EpochEvent) else
            ("end",) if isinstance(ev, TrainingEnded) else None))
    try:
        fill_form(w, nz=8, epochs=3)
        w.form.sweep.setChecked(True)
        w.form.betas.setText("0.005, 1")
        w.form.run_on.setCurrentIndex(w.form.run_on.findData("ray"))
        assert w.form.ray_address.isEnabled() and not w.form.problems()
        qtbot.mouseClick(w.form.train_button, Qt.MouseButton.LeftButton)
        members = w.runs
        assert len(members) == 2, w.form.message.text()
        qtbot.waitUntil(lambda: all(r.state == "finished" for r in members), timeout=120_000)
        for r in members:
            # Each epoch reached the window as the trial reported it, before the end.
            seen = [e for e in told[r.name] if e is not None]
            assert seen == [("epoch", 1), ("epoch", 2), ("epoch", 3), ("end",)], seen
            assert len(r.history) == 30 and r.metrics is not None and r.model is not None
            assert r.resume is not None  # Continue picks up its Adam and generator
        assert w.form.stored_values()["run_on"] == "ray"
    finally:
        w.close()
    assert not w.session.has_active
    again = make_window(qtbot, settings, datasets)
    try:
        assert again.form.run_on.currentData() == "ray"  # remembered between launches
    finally:
        again.close()


def test_an_unreachable_cluster_is_a_message_and_loses_nothing(qtbot, settings, datasets):
    from PySide6.QtCore import Qt

    w = make_window(qtbot, settings, datasets)
    try:
        fill_form(w, nz=8, epochs=1)
        first = w.runs
        w.form.sweep.setChecked(True)
        w.form.betas.setText("0.005, 1")
        w.form.run_on.setCurrentIndex(w.form.run_on.findData("ray"))
        qtbot.keyClicks(w.form.ray_address, "not an address")
        assert w.form.ray_address in w.form.invalid_fields()  # marked as typed
        w.form.ray_address.setText(f"127.0.0.1:{free_port()}")
        qtbot.mouseClick(w.form.train_button, Qt.MouseButton.LeftButton)
        members = [r for r in w.runs if r not in first]
        assert len(members) == 2
        # Refused by the one probe (ray.init would retry for a minute, past this wait).
        qtbot.waitUntil(lambda: all(r.state == "failed" for r in members), timeout=30_000)
        assert all("no Ray cluster at 127.0.0.1:" in r.error for r in members)
        assert w.form.stored_values()["ray_address"].startswith("127.0.0.1:")
    finally:
        w.close()
