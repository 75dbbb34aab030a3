"""The window and the workspace: runs on disk are listed at launch, loaded when shown, and
runs that other processes train are watched live."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FakeDialogs, cell, click_train, fill_form, wait_ended

from latent_explorer.explorer.views.run_table import COL_EPOCHS
from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.record.run import Run
from latent_explorer.training.record.workspace import Workspace, read_run

ROOT = Path(__file__).resolve().parents[1]
WAIT_MS = 60_000


def open_window(qtbot, settings, datasets, ws: Workspace, score: bool = True):
    from latent_explorer.explorer.main_window import MainWindow

    w = MainWindow(settings=settings, load_panels=False, datasets=datasets, workspace=ws,
                   score=score)
    qtbot.addWidget(w)
    w.dialogs = FakeDialogs()
    w.show()
    w.finish_startup()
    return w


def names(w) -> list[str]:
    m = w.run_model
    return [m.data(m.index(r, 1)) for r in range(m.rowCount())]


def test_runs_from_earlier_sessions_are_listed_and_load_when_selected(qtbot, settings, datasets,
                                                                      tmp_path, capsys):
    ws = Workspace(tmp_path / "ws")
    assert run_cli(["train", "--model", "vae", "--nz", "2", "--hidden", "8", "--epochs", "2",
                    "--dataset", "mnist-sample", "--quiet", "--workspace", str(ws.root)]) == 0
    w = open_window(qtbot, settings, datasets, ws)
    try:
        qtbot.waitUntil(lambda: names(w) == ["VAE β=0.005 nz=2"], timeout=WAIT_MS)
        (run,) = w.runs
        assert run.state == "finished" and run.model is None  # listed from its run file alone
        assert cell(w, run, COL_EPOCHS) == "2/2"  # how far it got, from the run file
        assert "Select a run" in w.details.text()
        w.run_table.select_run(run)
        assert run.model is not None and len(run.history) == 142  # loaded when shown
        qtbot.waitUntil(lambda: run.dataset is not None, timeout=WAIT_MS)
        assert run in w.usable_runs()
        assert w.session.unsaved_runs() == []  # on disk: nothing to ask about on quit
    finally:
        w.shutdown()


@pytest.mark.slow  # a CLI sweep first
def test_selecting_a_listed_sweep_member_loads_its_whole_sweep(qtbot, settings, datasets,
                                                               tmp_path, capsys):
    """The Sweep tab compares every member: selecting one loads the others' figures too."""
    ws = Workspace(tmp_path / "ws")
    assert run_cli(["sweep", "--model", "vae", "--betas", "0,0.01,1", "--nz", "2", "--hidden",
                    "8", "--epochs", "1", "--iw", "0", "--no-judge", "--quiet", "--dataset",
                    "mnist-sample", "--workspace", str(ws.root),
                    "--out", str(tmp_path / "sweep")]) == 0
    w = open_window(qtbot, settings, datasets, ws)
    try:
        qtbot.waitUntil(lambda: len(w.runs) == 3, timeout=WAIT_MS)
        assert all(r.model is None and r.metrics is None for r in w.runs)  # listed only
        w.run_table.select_run(w.runs[1])
        assert all(r.model is not None and r.metrics is not None for r in w.runs)
        assert len({r.group for r in w.runs}) == 1
    finally:
        w.shutdown()


def test_a_run_trained_in_the_window_is_on_disk_and_back_after_relaunch(qtbot, settings,
                                                                         datasets, tmp_path):
    ws = Workspace(tmp_path / "ws")
    w = open_window(qtbot, settings, datasets, ws)
    try:
        fill_form(w, nz=2, epochs=2)
        run = click_train(qtbot, w)
        assert run.folder is not None and run.folder.parent == ws.root
        wait_ended(qtbot, w, run)
        assert run.state == "finished" and w.session.unsaved_runs() == []
    finally:
        w.shutdown()
    rec = read_run(run.folder)
    assert (rec.state, rec.epoch, rec.step) == ("finished", 2, 20)
    again = open_window(qtbot, settings, datasets, ws)
    try:
        qtbot.waitUntil(lambda: len(again.runs) == 1, timeout=WAIT_MS)
        assert again.runs[0].name == run.name and again.runs[0].state == "finished"
    finally:
        again.shutdown()


def test_removing_a_workspace_run_moves_it_to_the_trash_and_undo_brings_it_back(
        qtbot, settings, datasets, tmp_path):
    ws = Workspace(tmp_path / "ws")
    assert run_cli(["train", "--model", "ae", "--nz", "2", "--hidden", "8", "--epochs", "1",
                    "--dataset", "mnist-sample", "--quiet", "--workspace", str(ws.root)]) == 0
    w = open_window(qtbot, settings, datasets, ws)
    try:
        qtbot.waitUntil(lambda: len(w.runs) == 1, timeout=WAIT_MS)
        run = w.runs[0]
        w.session.remove(run)
        assert w.runs == [] and ws.runs() == [] and len(ws.trashed()) == 1
        assert w.session.undo_remove() is run
        assert w.runs == [run] and [r.name for r in ws.runs()] == ["AE nz=2"]
    finally:
        w.shutdown()


@pytest.mark.slow
def test_a_train_started_in_a_terminal_is_watched_live_and_stopped_from_the_window(
        qtbot, settings, datasets, tmp_path):
    ws = Workspace(tmp_path / "ws")
    w = open_window(qtbot, settings, datasets, ws)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "train", "--model", "vae", "--nz", "2",
         "--hidden", "8", "--epochs", "100000", "--dataset", "mnist-sample", "--quiet",
         "--threads", "1", "--workspace", str(ws.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "LATENT_EXPLORER_CHECKPOINT_INTERVAL_S": "0"})
    try:
        qtbot.waitUntil(lambda: len(w.runs) == 1, timeout=WAIT_MS)
        run = w.runs[0]
        assert run.state == "running"
        qtbot.waitUntil(lambda: len(run.history) > 200, timeout=WAIT_MS)  # its curves grow
        qtbot.waitUntil(lambda: bool(run.history.epochs), timeout=WAIT_MS)
        seen = len(run.history)
        qtbot.waitUntil(lambda: len(run.history) > seen + 100, timeout=WAIT_MS)
        w.loss_plot.flush()
        assert w.loss_plot.step_count(run.id) >= seen + 100  # drawn, not only read
        assert w.loss_plot.marker_count(run.id) >= 1  # its test metrics per epoch too
        x, _y = w.loss_plot.curve_data(run.id)
        assert len(x) >= seen
        w.run_table.select_run(run)
        w.stop_selected()  # through the run's control file: the process ends as stopped
        assert proc.wait(60) == 0
        qtbot.waitUntil(lambda: run.state == "stopped", timeout=WAIT_MS)
    finally:
        proc.kill()
        proc.stderr.close()
        w.shutdown()


@pytest.mark.slow
def test_an_interrupted_run_continues_from_the_window_in_its_own_folder(qtbot, settings,
                                                                        tmp_path):
    import signal
    import time

    from latent_explorer.explorer.session.datasets import DatasetCache

    datasets = DatasetCache()  # the real bundled sample: the run continues on its own data

    ws = Workspace(tmp_path / "ws")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "train", "--model", "vae", "--nz", "2",
         "--hidden", "8", "--epochs", "100000", "--dataset", "mnist-sample", "--quiet",
         "--threads", "1", "--workspace", str(ws.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "LATENT_EXPLORER_CHECKPOINT_INTERVAL_S": "0"})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # another process writes: poll its run file
            recs = ws.runs()
            if recs and recs[0].epoch >= 2 and recs[0].checkpoint:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
    # no scoring: it would train the sample's judge first (seconds, not what is tested here)
    w = open_window(qtbot, settings, datasets, ws, score=False)
    try:
        qtbot.waitUntil(lambda: len(w.runs) == 1, timeout=WAIT_MS)
        run = w.runs[0]
        assert run.state == "interrupted" and "Continue resumes it exactly" in run.error
        w.run_table.select_run(run)
        qtbot.waitUntil(lambda: run.dataset is not None, timeout=WAIT_MS)
        epochs_done = run.resume.epochs_done
        assert w.continue_selected(epochs_done + 2) is run, w.statusBar().currentMessage()
        wait_ended(qtbot, w, run)
        assert run.state == "finished" and run.folder == ws.runs()[0].folder
        rec = read_run(run.folder)
        assert (rec.state, rec.epoch) == ("finished", epochs_done + 2)  # the same run, on disk
    finally:
        w.shutdown()


def test_the_workspace_menu_opens_another_folder_and_undo_and_empty_trash_work(
        qtbot, settings, datasets, tmp_path):
    first, second = Workspace(tmp_path / "one"), Workspace(tmp_path / "two")
    for ws, kind in ((first, "ae"), (second, "vae")):
        assert run_cli(["train", "--model", kind, "--nz", "2", "--hidden", "8", "--epochs", "1",
                        "--dataset", "mnist-sample", "--quiet", "--workspace",
                        str(ws.root)]) == 0
    w = open_window(qtbot, settings, datasets, first)
    try:
        qtbot.waitUntil(lambda: names(w) == ["AE nz=2"], timeout=WAIT_MS)
        w.dialogs.path = str(second.root)  # what the folder dialog answers
        w.menu_actions.open_workspace.trigger()
        qtbot.waitUntil(lambda: names(w) == ["VAE β=0.005 nz=2"], timeout=WAIT_MS)
        assert str(second.root) in w.windowTitle()
        assert w.settings.recent_workspaces()[0] == str(second.root)
        w.run_table.select_run(w.runs[0])
        w.menu_actions.remove.trigger()
        assert names(w) == [] and len(second.trashed()) == 1
        assert "trash" in w.statusBar().currentMessage()
        w.menu_actions.undo_remove.trigger()
        assert names(w) == ["VAE β=0.005 nz=2"] and second.trashed() == []
        w.menu_actions.remove.trigger()
        w.dialogs.answer = False  # Empty trash asks first; refused: nothing is deleted
        w.menu_actions.empty_trash.trigger()
        assert len(second.trashed()) == 1
        w.dialogs.answer = True
        w.menu_actions.empty_trash.trigger()
        assert second.trashed() == [] and second.runs() == []
    finally:
        w.shutdown()


def test_a_confirmation_defaults_to_the_safe_answer(qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

    from latent_explorer.explorer.commands.dialogs import Dialogs

    parent = QWidget()
    qtbot.addWidget(parent)
    defaults = []

    def press_enter():
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        defaults.append(box.defaultButton().text())
        box.defaultButton().click()  # what Enter does

    QTimer.singleShot(0, press_enter)
    assert Dialogs(parent).confirm("Quit", "Quit anyway?") is False
    assert defaults and "No" in defaults[0]


def test_a_full_disk_says_so_in_one_line_and_the_run_still_trains(qtbot, settings, datasets,
                                                                  tmp_path, monkeypatch):
    import errno

    from latent_explorer.training.record import workspace as wsmod

    ws = Workspace(tmp_path / "ws")
    w = open_window(qtbot, settings, datasets, ws)
    try:
        fill_form(w, nz=2, epochs=1)

        def full(path, obj, durable=True):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(wsmod, "write_json_atomic", full)
        run = click_train(qtbot, w)
        wait_ended(qtbot, w, run)
        assert run.state == "finished" and run.model is not None  # trained all the same
        notes = [n for n in run.notices if "the disk is full" in n]
        assert len(notes) == 1 and "\n" not in notes[0]
        assert run in w.session.unsaved_runs()  # so quitting asks before losing it
    finally:
        w.shutdown()


def test_a_ray_sweep_from_the_window_keeps_trial_checkpoints_in_the_workspace(
        qtbot, settings, datasets, tmp_path, monkeypatch):
    """As the CLI's: restarts on another node read the workspace's .ray/, not a temp folder
    on this machine (the sweep itself is not started here: no cluster in this test)."""
    ws = Workspace(tmp_path / "ws")
    w = open_window(qtbot, settings, datasets, ws)
    try:
        asked = []
        queued = Run("member", TrainConfig(), group="g")  # what the session would queue

        def start_sweep(config, ray=None, threads=None):
            asked.append(ray)
            return [queued]

        monkeypatch.setattr(w.session, "start_sweep", start_sweep)
        monkeypatch.setattr(w.run_table, "select_run", lambda run: None)
        w.commands.start_sweep({"kind": "vae", "betas": (0.0, 0.01), "seeds": (0,), "nz": 2,
                                "epochs": 1, "dataset": "mnist-sample", "data_dir": None,
                                "engine": "ray", "address": None})
        assert asked, w.form.message.text()
        assert asked[0].storage == str(ws.root / ".ray")
    finally:
        w.shutdown()
