"""The real main window driven with qtbot: train, stop, pause, fail, close, load, refuse."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from helpers import (LONG, WAIT_MS, cell, click_train, fill_form, make_window, trained_checkpoint,
                     wait_ended, wait_running)
from latent_explorer.explorer.views.time_estimate import RAY_STARTUP_S
from latent_explorer.explorer.main_window import MainWindow
from latent_explorer.explorer.panels.base import Panel
from latent_explorer.explorer.session import worker_threads
from latent_explorer.explorer.views.run_table import COL_BCE, COL_EPOCHS, COL_NAME, COL_PROGRESS, COL_SHOW, COL_STATE
from latent_explorer.explorer.widgets.beta_control import nearest_stop


def test_train_button_runs_to_finished_row_and_plot(qtbot, window):
    fill_form(window, kind="vae", beta=0.005, epochs=1)
    with qtbot.waitSignal(window.session.queue.job_finished, timeout=WAIT_MS):
        run = click_train(qtbot, window)
        assert run.state in ("queued", "running")
    wait_ended(qtbot, window, run)
    assert run.state == "finished"
    assert cell(window, run, COL_STATE) == "finished"
    assert cell(window, run, COL_EPOCHS) == "1/1"
    assert float(cell(window, run, COL_BCE)) > 0
    assert len(run.history) == 10 and run.model is not None and run.dataset is not None
    window.loss_plot.flush()
    assert window.loss_plot.step_count(run.id) == 10
    x, y = window.loss_plot.curve_data(run.id, "total")
    assert len(x) == 10 and np.allclose(y, run.history.total)
    assert window.loss_plot.marker_count(run.id) == 1
    assert window.recon_strip.has_image
    assert window.selected_run() is run and run in window.usable_runs()
    assert "finished" in window.details.text()


def test_stop_marks_stopped_and_keeps_usable_weights(qtbot, window, small_dataset):
    fill_form(window, epochs=LONG)
    run = click_train(qtbot, window)
    wait_running(qtbot, window, run)
    assert window.runs_panel.stop_button.isEnabled()
    qtbot.mouseClick(window.runs_panel.stop_button, Qt.MouseButton.LeftButton)
    wait_ended(qtbot, window, run)
    assert run.state == "stopped" and cell(window, run, COL_STATE) == "stopped"
    assert run.is_usable and len(run.history) > 0
    rec = run.model.reconstruct(small_dataset.test.float_images(slice(0, 4)))
    assert rec.shape == (4, 1, 28, 28) and torch.isfinite(rec).all()
    assert window.runs_panel.save_button.isEnabled()


def test_pause_and_resume(qtbot, window):
    fill_form(window, epochs=LONG)
    run = click_train(qtbot, window)
    wait_running(qtbot, window, run)
    qtbot.mouseClick(window.runs_panel.pause_button, Qt.MouseButton.LeftButton)
    assert run.state == "paused" and window.runs_panel.pause_button.text() == "&Resume"
    job = window.session.job_for(run)
    qtbot.waitUntil(lambda: job.worker.is_paused)
    # The loop is blocked: what it sent before pausing is already posted to the GUI thread.
    QApplication.processEvents()
    steps = window.loss_plot.step_count(run.id)
    with qtbot.assertNotEmitted(window.session.run_event, wait=300):
        pass
    qtbot.mouseClick(window.runs_panel.pause_button, Qt.MouseButton.LeftButton)
    assert run.state == "running"
    qtbot.waitUntil(lambda: window.loss_plot.step_count(run.id) > steps, timeout=WAIT_MS)
    window.stop_selected()
    wait_ended(qtbot, window, run)
    assert run.state == "stopped"


def test_diverging_run_fails_with_message_and_app_goes_on(qtbot, window):
    fill_form(window, kind="vae", lr=1e3, epochs=3)
    assert window.form.lr.text() == "1000"
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    assert run.state == "failed"
    assert "diverged" in run.error
    assert "diverged" in window.details.text()
    assert "diverged" in window.statusBar().currentMessage()
    assert "diverged" in cell(window, run, COL_STATE, Qt.ItemDataRole.ToolTipRole)
    # The app keeps working: a sane run next to it trains to the end.
    fill_form(window, epochs=1)
    ok = click_train(qtbot, window)
    wait_ended(qtbot, window, ok)
    assert ok.state == "finished" and run.state == "failed" and len(window.runs) == 2


def test_bad_dataset_folder_fails_with_the_data_error(qtbot, window, tmp_path):
    window.form.ask_folder = lambda: str(tmp_path)  # the folder dialog's answer
    fill_form(window, epochs=1)
    window.form.dataset.setFocus()
    qtbot.keyClick(window.form.dataset, Qt.Key.Key_End)  # the user picks "Folder…" 
    assert window.form.values()["data_dir"] == str(tmp_path)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    assert run.state == "failed" and "not found" in run.error and run.model is None
    assert "not found" in window.details.text()


def test_close_mid_run_stops_the_thread(qtbot, settings, datasets):
    w = make_window(qtbot, settings, datasets)
    fill_form(w, epochs=LONG)
    run = click_train(qtbot, w)
    wait_running(qtbot, w, run)
    job = w.session.job_for(run)
    thread = job.thread
    w.close()  # how long it takes: benchmarks/control_latency.py
    asked = w.dialogs.asked_close
    assert asked and [r.name for r in asked[0][0]] == [run.name]
    assert thread.isFinished() and job.is_finished  # close returned once the thread had ended
    assert run.state == "stopped"
    assert not w.isVisible()


def test_close_refused_keeps_training(qtbot, window):
    fill_form(window, epochs=LONG)
    run = click_train(qtbot, window)
    wait_running(qtbot, window, run)
    window.dialogs.close = False
    window.close()
    assert window.isVisible() and run.state == "running"
    window.stop_selected()
    wait_ended(qtbot, window, run)


def test_quit_action_asks_about_unsaved_runs(qtbot, settings, datasets):
    w = make_window(qtbot, settings, datasets)
    fill_form(w, epochs=1)
    run = click_train(qtbot, w)
    wait_ended(qtbot, w, run)
    w.menu_actions.quit.trigger()
    assert w.dialogs.asked_close == [([], [run])]
    assert not w.isVisible()


def test_open_checkpoint_plots_its_history(qtbot, window, tmp_path, small_dataset):
    path, result = trained_checkpoint(tmp_path, small_dataset)
    window.dialogs.path = str(path)
    window.menu_actions.open.trigger()
    run = window.runs[-1]
    assert run.name == "loaded run" and run.state == "finished" and run.saved
    assert cell(window, run, COL_NAME) == "loaded run" and cell(window, run, COL_EPOCHS) == "2/2"
    window.loss_plot.flush()
    assert window.loss_plot.step_count(run.id) == len(result.history) == 20
    _, y = window.loss_plot.curve_data(run.id, "recon")
    assert np.allclose(y, result.history.recon)
    assert window.loss_plot.marker_count(run.id) == 2
    qtbot.waitUntil(lambda: run.dataset is not None, timeout=WAIT_MS)
    assert run.dataset is small_dataset and run in window.usable_runs()
    # The live strip shows the loaded run's reconstructions too: originals above, decodings below.
    window.run_table.select_run(run)
    assert window.recon_strip.run_id == run.id and window.recon_strip.has_image
    assert "as loaded from" in window.recon_strip.caption.text()


def test_open_broken_checkpoint_explains_and_keeps_runs(qtbot, window, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"this is not a checkpoint")
    fill_form(window, epochs=1)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    window.dialogs.path = str(bad)
    window.menu_actions.open.trigger()
    assert window.runs == [run]
    errors = window.dialogs.errors
    assert errors and "not a Latent Explorer checkpoint" in errors[0][1]


def test_save_then_reload_and_rename(qtbot, window, tmp_path):
    fill_form(window, kind="ae", epochs=1)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    window.rename_run(run, "my autoencoder")
    assert run.name == "my autoencoder" and cell(window, run, COL_NAME) == "my autoencoder"
    window.dialogs.path = str(tmp_path / "ae")
    window.menu_actions.save.trigger()
    assert run.saved and run.path == tmp_path / "ae.safetensors" and run.path.exists()
    window.dialogs.path = str(run.path)
    window.menu_actions.open.trigger()
    loaded = window.runs[-1]
    # The saved name comes back, told apart from the run still listed under it.
    assert loaded is not run and loaded.name == "my autoencoder (2)" and loaded.kind == "ae"
    assert np.allclose(loaded.history.total, run.history.total)
    window.export_selected(str(tmp_path / "losses.csv"))
    assert (tmp_path / "losses.csv").read_text().count("\n") == len(run.history) + 1
    window.remove_run(loaded)
    assert window.runs == [run] and not window.loss_plot.has_run(loaded.id)


def test_second_run_queues_and_stopping_it_dequeues(qtbot, window):
    fill_form(window, epochs=LONG)
    first = click_train(qtbot, window)
    second = click_train(qtbot, window)
    assert second.state == "queued" and "waiting" in cell(window, second, COL_PROGRESS)
    window.run_table.select_run(second)
    qtbot.mouseClick(window.runs_panel.stop_button, Qt.MouseButton.LeftButton)
    assert second.state == "stopped" and second.model is None
    assert first.state in ("running", "queued")
    window.run_table.select_run(first)
    window.stop_selected()
    wait_ended(qtbot, window, first)
    assert first.state == "stopped"


def test_queued_run_starts_when_the_first_ends(qtbot, window):
    fill_form(window, epochs=1)
    first = click_train(qtbot, window)
    second = click_train(qtbot, window)
    wait_ended(qtbot, window, second)
    assert first.state == "finished" and second.state == "finished"


def test_run_visibility_checkbox_hides_curves(qtbot, window):
    fill_form(window, epochs=1)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    m = window.run_model
    m.setData(m.index(0, COL_SHOW), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert not window.loss_plot.is_run_visible(run.id)
    window.set_run_visible(run, True)
    assert window.loss_plot.is_run_visible(run.id)


def test_invalid_inputs_are_refused_inline(qtbot, window):
    f = window.form
    fill_form(window)
    for beta_text, why in (("abc", "must be a number"), ("20", "between"), ("0.00001", "between"),
                           ("-1", "between")):
        f.beta.edit.setText(beta_text)
        qtbot.mouseClick(f.train_button, Qt.MouseButton.LeftButton)
        assert f.message.isVisible() and why in f.message.text()
    f.beta.edit.setText("0.005")
    f.lr.setText("0")
    qtbot.mouseClick(f.train_button, Qt.MouseButton.LeftButton)
    assert "learning rate" in f.message.text()
    assert window.runs == []
    f.nz.setValue(10_000)
    assert f.nz.value() == 4096  # spin boxes refuse out-of-range values
    f.kind.setCurrentIndex(f.kind.findData("ae"))
    assert not f.beta.isEnabled()
    f.beta.edit.setText("nonsense")  # ignored for an AE
    f.lr.setText("0.001")
    f.nz.setValue(4)
    run = click_train(qtbot, window)
    assert run.kind == "ae" and not f.message.isVisible()
    window.stop_selected()
    wait_ended(qtbot, window, run)


def test_beta_slider_covers_zero_and_log_range_exactly(qtbot, window):
    b = window.form.beta
    b.slider.setValue(0)
    assert b.edit.text() == "0"
    b.slider.setValue(b.slider.maximum())
    assert b.edit.text() == "10"
    b.slider.setValue(1)
    assert b.edit.text() == "0.0001"
    b.edit.clear()
    qtbot.keyClicks(b.edit, "0.0042")  # typed as a user types it
    assert b.value() == (0.0042, None)  # typed values stay exact
    assert b.slider.value() == nearest_stop(0.0042)


def test_settings_remember_form_and_geometry(qtbot, settings, datasets):
    w = make_window(qtbot, settings, datasets)
    fill_form(w, kind="cvae", beta=0.3, nz=12, epochs=7, lr=0.002, seed=5)
    wait_ended(qtbot, w, click_train(qtbot, w))  # the form is remembered once it has trained
    w.resize(w.minimumSizeHint().width(), 577)  # the offscreen screen is only 800x600
    size = (w.width(), w.height())
    w.close()
    w2 = make_window(qtbot, settings, datasets)
    v = w2.form.values()
    assert (v["kind"], v["beta"], v["nz"], v["epochs"], v["lr"], v["seed"]) == \
        ("cvae", 0.3, 12, 7, 0.002, 5)
    assert (w2.width(), w2.height()) == size
    assert settings.value("window/geometry") is not None
    w2.close()


class FakePanel(Panel):
    title = "Fake"

    def __init__(self) -> None:
        super().__init__()
        self.runs_seen: list[list] = []
        self.run_seen: list = []

    def set_runs(self, runs) -> None:
        self.runs_seen.append(list(runs))

    def set_run(self, run) -> None:
        self.run_seen.append(run)


def test_panels_get_the_usable_runs_and_the_selection(qtbot, window):
    panel = FakePanel()
    window.add_panel(panel)
    assert window.tabs.indexOf(panel) > 0
    assert panel.runs_seen == [[]] and panel.run_seen == [None]
    fill_form(window, epochs=1)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    assert panel.runs_seen[-1] == [run] and panel.run_seen[-1] is run
    window.run_table.select_run(None)
    assert panel.run_seen[-1] is None
    window.rename_run(run, "renamed")
    assert panel.runs_seen[-1] == [run]
    window.remove_run(run)
    assert panel.runs_seen[-1] == []


def test_about_names_versions_and_licence(window):
    text = window.about_text()
    assert "PySide6" in text and "torch" in text and "Creative Commons" in text


def test_real_panels_slot_in_and_follow_the_selection(qtbot, settings, datasets):
    w = make_window(qtbot, settings, datasets, load_panels=True)
    assert len(w.panels) >= 1 and w.tabs.count() == 1 + len(w.panels)
    fill_form(w, kind="cvae", epochs=1)
    run = click_train(qtbot, w)
    wait_ended(qtbot, w, run)
    assert run in w.usable_runs() and w.selected_run() is run
    for panel in w.panels:  # each tab shows the run (a panel that raises fails the test)
        w.tabs.setCurrentWidget(panel)
        qtbot.waitExposed(panel)
        assert not panel.is_showing_hint or "CVAE" in panel.hint.text() or run.kind == "cvae"
    w.close()
    assert not w.session.has_active


def test_remove_a_training_run_stops_it_quietly(qtbot, window):
    fill_form(window, epochs=LONG)
    run = click_train(qtbot, window)
    wait_running(qtbot, window, run)
    window.remove_selected()
    assert window.runs == [] and not window.loss_plot.has_run(run.id)
    qtbot.waitUntil(lambda: not window.session.has_active, timeout=WAIT_MS)
    assert run.state == "stopped" and "failed" not in window.statusBar().currentMessage()


def test_close_while_paused_and_queued(qtbot, settings, datasets):
    w = make_window(qtbot, settings, datasets)
    fill_form(w, epochs=LONG)
    first = click_train(qtbot, w)
    second = click_train(qtbot, w)
    wait_running(qtbot, w, first)
    w.run_table.select_run(first)
    w.toggle_pause()
    assert first.state == "paused" and second.state == "queued"
    thread = w.session.job_for(first).thread
    w.close()  # how long it takes: benchmarks/control_latency.py
    assert thread.isFinished()  # the paused loop saw the stop; close returned after it ended
    assert first.state == "stopped" and second.state == "stopped"
    assert not w.session.has_active


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice values are per thread on Linux")
def test_training_threads_run_nicer_than_the_gui_thread(qtbot, window, monkeypatch):
    # Observed from inside the worker, during training, while the GUI thread keeps its own.
    # (Threads inherit their creator's nice value, so the OpenMP team torch starts for the
    # worker runs at the worker's.)
    gui_tid = threading.get_native_id()
    gui_nice = os.getpriority(os.PRIO_PROCESS, gui_tid)
    seen: dict[str, int] = {}
    from latent_explorer.explorer.session import jobs

    real_on_epoch_end = jobs.TrainingWorker.on_epoch_end

    def on_epoch_end(self, event):
        seen["worker"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return real_on_epoch_end(self, event)

    monkeypatch.setattr(jobs.TrainingWorker, "on_epoch_end", on_epoch_end)
    from latent_explorer import cpu_policy

    # a quiet machine (on a busy one the worker keeps normal priority: test_worker_nice.py)
    monkeypatch.setattr(cpu_policy, "machine_is_busy", lambda: False)
    fill_form(window, epochs=1)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    assert run.state == "finished"
    assert seen["worker"] == min(19, gui_nice + worker_threads.WORKER_NICE)
    assert os.getpriority(os.PRIO_PROCESS, gui_tid) == gui_nice


def test_the_app_shortens_the_gil_switch_interval():
    from latent_explorer.explorer.app import GIL_SWITCH_INTERVAL_S, create_app

    before = sys.getswitchinterval()
    try:
        create_app()
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
    finally:
        sys.setswitchinterval(before)


def test_falling_back_to_the_bundled_sample_is_said_plainly_once(qtbot, window):
    fill_form(window, dataset="auto", epochs=1, batch_size=1024)  # offline in tests: 'auto' cannot have MNIST
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    monitor = window.monitor
    assert monitor.notice.isVisible()
    assert "bundled 5,000-digit MNIST sample" in monitor.notice_label.text()
    assert "mnist" in monitor.notice_label.text()  # and how to get the full set
    qtbot.mouseClick(monitor.notice_close, Qt.MouseButton.LeftButton)
    assert not monitor.notice.isVisible()
    again = click_train(qtbot, window)
    wait_ended(qtbot, window, again)
    assert not monitor.notice.isVisible()  # said once per session, not at every run


def test_epochs_follow_the_dataset_until_the_user_sets_them(qtbot, window):
    f = window.form
    f.set_values({"dataset": "mnist-sample", "batch_size": 64, "epochs": None})
    assert f.epochs.value() == 64  # ~4,500 steps on the 4,500-image sample
    assert "4,544 steps" in f.estimate.text()
    f.dataset.setFocus()
    qtbot.keyClick(f.dataset, Qt.Key.Key_Down)  # the user picks full MNIST (next entry)
    assert f.dataset.currentData() == "mnist" and f.epochs.value() == 20
    assert "18,760 steps" in f.estimate.text()
    f.epochs.clear()
    qtbot.keyClicks(f.epochs, "3")  # the user's own choice sticks
    qtbot.keyClick(f.dataset, Qt.Key.Key_Up)
    assert f.epochs.value() == 3 and f.stored_values()["epochs"] == 3
    f.set_steps_per_second(100.0)
    assert "213 steps" in f.estimate.text() and "00:02 here" in f.estimate.text()


def eta_of(text: str) -> str:
    """The 'ETA …' figure in a progress text."""
    assert "ETA " in text, text
    return text.split("ETA ", 1)[1].split()[0]


def test_eta_is_one_smoothed_figure_in_the_cell_its_tooltip_and_the_status_bar(qtbot, window):
    fill_form(window, epochs=LONG)
    run = click_train(qtbot, window)
    wait_running(qtbot, window, run)
    qtbot.waitUntil(lambda: window.progress_label.isVisible()
                    and eta_of(window.progress_label.text()) != "--", timeout=WAIT_MS)
    shown = cell(window, run, COL_PROGRESS)
    tip = cell(window, run, COL_PROGRESS, Qt.ItemDataRole.ToolTipRole)
    status = window.progress_label.text()
    assert eta_of(shown) == eta_of(tip) == eta_of(status)
    assert status.startswith(run.name) and "epoch " in status
    # The figure is the session's smoothed one, not the loop's latest steps/s.
    p = window.session.progress[run.id]
    assert p.steps_per_second == pytest.approx(window.session.speed_of(run))
    window.stop_selected()
    wait_ended(qtbot, window, run)
    assert not window.progress_label.isVisible()  # nothing left to estimate


def mmss(seconds: float) -> str:
    return f"{int(seconds) // 60:02d}:{int(seconds) % 60:02d}"


def test_form_estimate_uses_the_speed_of_its_kind_of_job(qtbot, window):
    f = window.form
    f.set_values({"dataset": "mnist-sample", "batch_size": 64, "epochs": 3})  # 213 steps
    f.set_speeds(10.0, None)  # a single run measured at 10 steps/s, no sweep yet
    assert "213 steps (" in f.estimate.text() and "about 00:21 here" in f.estimate.text()
    f.sweep.setChecked(True)
    f.betas.setText("0, 1e-3, 1e-2, 0.1, 1, 5, 10")  # 7 members
    # No sweep measured: as 7 single runs one after another, an upper bound.
    assert "213 steps × 7 members" in f.estimate.text()
    assert "at most 02:29 here" in f.estimate.text()
    f.set_speeds(10.0, 35.0)  # a sweep trained 35 model-steps/s: 7 members share it
    assert "about 00:43 here" in f.estimate.text()
    f.run_on.setCurrentIndex(f.run_on.findData("ray"))  # Ray's start-up comes first
    assert f"about {mmss(43 + RAY_STARTUP_S)} here" in f.estimate.text()
    f.run_on.setCurrentIndex(f.run_on.findData("local"))
    assert "about 00:43 here" in f.estimate.text()
    f.sweep.setChecked(False)  # a single run is not estimated with the sweep's speed
    assert "about 00:21 here" in f.estimate.text()
    # A conv model trains at its own speed: none measured yet, so no estimate rather than
    # the MLP's (which would promise a conv run 13x too soon); once measured, its own.
    f.arch.setCurrentIndex(f.arch.findData("conv"))
    assert "213 steps (" in f.estimate.text() and " here" not in f.estimate.text()
    f.set_speeds({"mlp": 10.0, "conv": 1.0}, {"mlp": 35.0})
    assert "about 03:33 here" in f.estimate.text()
    f.prior.set_value("vamp")  # a VampPrior's step is slower again: its own family
    assert " here" not in f.estimate.text()
    f.arch.setCurrentIndex(f.arch.findData("mlp"))
    f.prior.set_value("normal")
    assert "about 00:21 here" in f.estimate.text()


def test_a_finished_sweep_teaches_the_form_its_own_speed(qtbot, window, settings):
    fill_form(window, epochs=1)
    window.form.sweep.setChecked(True)
    window.form.betas.setText("0, 0.01")
    with qtbot.waitSignal(window.session.queue.job_finished, timeout=WAIT_MS):
        qtbot.mouseClick(window.form.train_button, Qt.MouseButton.LeftButton)
    runs = window.runs
    assert len(runs) == 2 and all(r.state == "finished" for r in runs)
    assert window.settings.steps_per_second() is None  # a sweep's speed is not a single run's
    sweep_rate = window.settings.sweep_speed()
    assert sweep_rate == pytest.approx(2 * window.session.speed_of(runs[0]))
    assert "about " in window.form.estimate.text()
    assert window.settings.sweep_speed("conv") is None  # an MLP sweep's is the MLP's only


def panel_titled(w: MainWindow, title: str) -> Panel:
    return next(p for p in w.panels if p.title == title)


def snapshot_epoch_in(caption: str) -> int:
    """The epoch in a caption's 'its weights as of epoch N'."""
    assert "its weights as of epoch " in caption, caption
    return int(caption.split("its weights as of epoch ", 1)[1].split()[0].strip(".,:;"))


def test_explore_a_run_while_it_trains_and_while_paused(qtbot, settings, datasets, monkeypatch):
    from latent_explorer.explorer.session import jobs

    monkeypatch.setattr(jobs, "WEIGHTS_INTERVAL_S", 0.3)  # a new copy of the weights often
    w = make_window(qtbot, settings, datasets, load_panels=True)
    recon, prior = panel_titled(w, "Reconstructions"), panel_titled(w, "Prior samples")
    w.tabs.setCurrentWidget(recon)
    fill_form(w, epochs=LONG)
    run = click_train(qtbot, w)
    assert w.selected_run() is run
    # Until its first epoch ends it has no weights: the tab says so (not "select a run").
    qtbot.waitUntil(lambda: not recon.is_showing_hint, timeout=WAIT_MS)
    assert run.is_active and run in w.usable_runs()
    assert recon.view.has_image and "training: its weights as of epoch" in recon.caption.text()
    first = snapshot_epoch_in(recon.caption.text())
    # Newer weights redraw the tab in front as the run trains on.
    qtbot.waitUntil(lambda: snapshot_epoch_in(recon.caption.text()) > first, timeout=WAIT_MS)
    # Paused: the tabs go on exploring its latest weights.
    qtbot.mouseClick(w.runs_panel.pause_button, Qt.MouseButton.LeftButton)
    job = w.session.job_for(run)
    qtbot.waitUntil(lambda: job.worker.is_paused, timeout=WAIT_MS)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: "paused: its weights as of epoch" in recon.caption.text(),
                    timeout=WAIT_MS)
    paused_at = snapshot_epoch_in(recon.caption.text())
    assert paused_at == run.snapshot_epoch and not recon.is_showing_hint
    # A tab behind shows the newest weights when it is brought forward.
    w.tabs.setCurrentWidget(prior)
    qtbot.waitExposed(prior)
    assert not prior.is_showing_hint and prior.views[0].has_image
    assert snapshot_epoch_in(prior.captions[0].text()) == paused_at
    w.stop_selected()
    wait_ended(qtbot, w, run)
    assert run.state == "stopped" and run.snapshot_epoch is None
    assert "its weights as of" not in prior.captions[0].text()  # the final weights now
    w.close()


def test_tabs_say_why_a_queued_run_cannot_be_explored_yet(qtbot, settings, datasets):
    w = make_window(qtbot, settings, datasets, load_panels=True)
    recon = panel_titled(w, "Reconstructions")
    fill_form(w, epochs=LONG)
    first = click_train(qtbot, w)
    queued = click_train(qtbot, w)
    assert queued.state == "queued" and w.selected_run() is queued
    assert recon.is_showing_hint and "is queued" in recon.hint.text()
    assert "Select a run" not in recon.hint.text()
    w.stop_selected()  # a queued run leaves the queue untrained
    assert queued.state == "stopped"
    assert "stopped before it trained" in recon.hint.text()
    w.run_table.select_run(first)
    w.stop_selected()
    wait_ended(qtbot, w, first)
    w.close()


def test_remove_asks_in_plain_words(qtbot, window):
    fill_form(window, epochs=1)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    window.dialogs.answer = False
    qtbot.mouseClick(window.runs_panel.remove_button, Qt.MouseButton.LeftButton)
    title, text = window.dialogs.confirms[-1]
    assert run in window.runs  # refused: kept
    assert text == (f"{run.name} has not been saved: its weights will be lost when it is "
                    "removed. Remove it?")
    window.dialogs.answer = True
    qtbot.mouseClick(window.runs_panel.remove_button, Qt.MouseButton.LeftButton)
    assert run not in window.runs


def test_opening_the_same_checkpoint_twice_gives_two_names(qtbot, window, tmp_path):
    fill_form(window, epochs=1)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    path = tmp_path / "a.safetensors"
    assert window.save_selected(str(path)) is not None
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(path.read_bytes())
    first = window.open_checkpoint(str(path))
    second = window.open_checkpoint(str(copy))
    names = [cell(window, r, COL_NAME) for r in (run, first, second)]
    assert names == [run.name, f"{run.name} (2)", f"{run.name} (3)"]
    # Each copy loads its dataset in the background and becomes explorable, as the first did.
    qtbot.waitUntil(lambda: first in window.usable_runs() and second in window.usable_runs(),
                    timeout=WAIT_MS)


def test_a_one_class_folder_fails_the_run_with_one_plain_line(qtbot, window, tmp_path):
    from PIL import Image

    (tmp_path / "only").mkdir()
    for i in range(2):
        Image.fromarray(np.full((28, 28), 255 * i, np.uint8), "L").save(
            tmp_path / "only" / f"{i}.png")
    window.form.set_folder(str(tmp_path))
    fill_form(window, epochs=1, data_dir=str(tmp_path), dataset="folder")
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    assert run.state == "failed" and run.model is None
    assert "at least 2 classes" in run.error and "\n" not in run.error
    assert "at least 2 classes" in window.statusBar().currentMessage()
    assert "at least 2 classes" in window.details.text()


def test_the_window_gives_its_actions_and_commands_what_they_ask(window):
    """actions.py and run_commands.py know the window by a Protocol, not by importing it."""
    from latent_explorer.explorer.commands.actions import ActionsWindow
    from latent_explorer.explorer.commands.run_commands import CommandsWindow

    assert isinstance(window, ActionsWindow) and isinstance(window, CommandsWindow)
    assert not isinstance(object(), ActionsWindow) and not isinstance(object(), CommandsWindow)
    assert window.menu_actions.window is window and window.commands.window is window
