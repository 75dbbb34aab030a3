"""The timeline in the GUI: the Training tab's strip, the latent-map replay, Continue training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from helpers import LONG, WAIT_MS, cell, click_train, fill_form, trained_checkpoint, train_config, wait_ended
from latent_explorer.explorer.session.datasets import DatasetCache
from latent_explorer.explorer.panels.latent_map import LatentMapPanel
from latent_explorer.explorer.views.run_table import COL_EPOCHS
from latent_explorer.explorer.session.session import RunSession
from latent_explorer.explorer.views.timeline_view import TimelineView
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.record.run import Run, RunState
from latent_explorer.training.record.timeline import TimelineRecorder, snapshot_grid


@pytest.fixture(scope="module")
def timeline_run(small_dataset) -> Run:
    """3 epochs (30 steps) with a 10-snapshot timeline of 200 codes."""
    cfg = train_config(epochs=3, lr=3e-3)
    t = Trainer(cfg, small_dataset, timeline=TimelineRecorder(n_codes=200, max_snapshots=10))
    r = t.run()
    assert r.state == "finished"
    return Run("with timeline", cfg, r.model, r.history, state="finished",
               dataset=small_dataset, timeline=t.timeline_recorder.timeline)


# -- the Training tab's strip ----------------------------------------------------------------------
def test_slider_shows_the_snapshot_and_marks_its_step_on_the_loss_curves(qtbot, window):
    fill_form(window, epochs=3)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    tv = window.monitor.timeline
    assert tv.run is run and run.timeline is not None and tv.count == len(run.timeline) > 3
    assert tv.index == tv.count - 1 and tv.is_following  # the newest, after training
    i = 2
    tv.slider.setValue(i)  # as a drag would
    snap = run.timeline.snapshots[i]
    assert np.array_equal(tv.view.grid, snapshot_grid(run.timeline, i))
    assert f"step {snap.step:,}" in tv.step_label.text() and not tv.is_following
    assert window.loss_plot.step_marker() == snap.step
    assert window.loss_plot.step_marker() != run.timeline.snapshots[-1].step
    tv.slider.setValue(tv.count - 1)  # to the end: following again
    assert tv.is_following and window.loss_plot.step_marker() == run.timeline.snapshots[-1].step


def test_strip_follows_the_newest_snapshot_until_the_user_moves_it(qtbot, window):
    fill_form(window, epochs=LONG)
    run = click_train(qtbot, window)
    tv = window.monitor.timeline
    shown = tv.slider  # what the user sees: the slider's range grows as snapshots are shown
    qtbot.waitUntil(lambda: shown.maximum() >= 2, timeout=WAIT_MS)
    assert shown.value() == shown.maximum() and tv.is_following and run.is_active
    tv.slider.setFocus()
    qtbot.keyClick(tv.slider, Qt.Key.Key_Home)  # the user goes back to the start
    assert tv.index == 0 and not tv.is_following
    top = shown.maximum()
    qtbot.waitUntil(lambda: shown.maximum() > top, timeout=WAIT_MS)  # newer snapshots come...
    assert tv.index == 0  # ... and the user's choice stays
    qtbot.mouseClick(tv.follow_button, Qt.MouseButton.LeftButton)
    assert tv.is_following and shown.value() == shown.maximum()
    top = shown.maximum()
    # New snapshots are shown at most twice a second while the run trains (LIVE_REFRESH_MS).
    qtbot.waitUntil(lambda: shown.maximum() > top, timeout=WAIT_MS)
    assert shown.value() == shown.maximum()
    window.stop_selected()
    wait_ended(qtbot, window, run)


def test_play_steps_through_every_snapshot_then_follows(qtbot, timeline_run):
    tv = TimelineView()
    qtbot.addWidget(tv)
    tv.show()
    tv.set_run(timeline_run)
    n = tv.count
    assert n == len(timeline_run.timeline) >= 5 and tv.play_button.isEnabled()
    tv.show_index(0)
    seen = []
    tv.slider.valueChanged.connect(seen.append)
    qtbot.mouseClick(tv.play_button, Qt.MouseButton.LeftButton)
    assert tv.is_playing and tv.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: tv.index == n - 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not tv.is_playing, timeout=WAIT_MS)
    assert seen == list(range(1, n)) and tv.is_following and tv.play_button.text() == "Play"
    assert np.array_equal(tv.view.grid, snapshot_grid(timeline_run.timeline, n - 1))


def test_a_run_without_timeline_disables_the_slider(qtbot, runs):
    tv = TimelineView()
    qtbot.addWidget(tv)
    steps = []
    tv.step_selected.connect(steps.append)
    old = runs["vae"]  # trained without a timeline, as an older checkpoint is
    assert old.timeline is None
    tv.set_run(old)
    assert not tv.slider.isEnabled() and not tv.play_button.isEnabled()
    assert "no training timeline" in tv.caption.text() and not tv.view.has_image
    assert steps[-1] is None


@pytest.mark.parametrize("state,group,model,said", [
    ("finished", "sweep 1: VAE β×3", True, "sweep members record no timeline"),
    ("running", "sweep 1: VAE β×3", True, "sweep members record no timeline"),
    ("stopped", "", False, "was stopped before it trained"),
    ("failed", "", False, "failed before it trained"),
    ("queued", "", False, "is queued"),
    ("running", "", False, "fills in as it trains"),
])
def test_the_timeline_strip_says_the_true_reason_it_is_empty(qtbot, runs, state, group, model,
                                                             said):
    tv = TimelineView()
    qtbot.addWidget(tv)
    vae = runs["vae"]
    tv.set_run(Run("r", vae.config, vae.model if model else None, vae.history, state=state,
                   group=group))
    assert said in tv.caption.text() and not tv.view.has_image
    assert "older" not in tv.caption.text()


# -- the latent map's replay ---------------------------------------------------------------------
def test_latent_map_replay_draws_the_aligned_codes_of_the_snapshot(qtbot, timeline_run, runs):
    panel = LatentMapPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_runs([timeline_run])
    panel.set_run(timeline_run)
    tl = timeline_run.timeline
    assert panel.replay_check.isEnabled() and not panel.replay_slider.isEnabled()
    qtbot.mouseClick(panel.replay_check, Qt.MouseButton.LeftButton)
    assert panel.is_replaying and panel.replay_slider.isEnabled()
    aligned = tl.aligned_coords()
    for i in (1, len(tl) - 2):
        panel.replay_slider.setValue(i)
        for c in range(10):
            x, y = panel.scatters[c].getData()
            want = aligned[i][tl.code_labels == c]
            assert np.allclose(np.column_stack([x, y]), want), (i, c)
        assert f"training step {tl.snapshots[i].step:,}" in panel.caption.text()
    # Off again: the live map of the whole test split is back.
    qtbot.mouseClick(panel.replay_check, Qt.MouseButton.LeftButton)
    x, _ = panel.scatters[3].getData()
    assert len(x) == int((panel.map.labels == 3).sum()) and "PCA" in panel.caption.text()
    panel.set_run(runs["vae"])  # no timeline: nothing to replay
    assert not panel.replay_check.isEnabled() and not panel.is_replaying


# -- Continue training ---------------------------------------------------------------------------
def test_continue_training_a_finished_run_trains_the_same_run_further(qtbot, window):
    fill_form(window, epochs=2)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    name, steps_before = run.name, len(run.history)
    first_timeline = run.timeline
    assert window.runs_panel.continue_button.isEnabled() and window.menu_actions.continue_.isEnabled()
    window.dialogs.epochs = 4
    qtbot.mouseClick(window.runs_panel.continue_button, Qt.MouseButton.LeftButton)
    assert window.dialogs.asked_epochs == [(2, 3)]
    assert run.is_active and not window.runs_panel.continue_button.isEnabled()
    wait_ended(qtbot, window, run)
    assert window.runs == [run] and run.name == name and run.state == RunState.FINISHED
    assert steps_before == 20 and len(run.history) == 40 and run.epochs_done == 4
    assert [e.epoch for e in run.history.epochs] == [1, 2, 3, 4]
    assert cell(window, run, COL_EPOCHS) == "4/4" and not run.saved
    assert len(run.timeline) > len(first_timeline) and run.timeline.steps.max() == 40
    assert run.resume is not None and run.resume.epochs_done == 4
    window.loss_plot.flush()
    assert window.loss_plot.step_count(run.id) == 40 and window.loss_plot.marker_count(run.id) == 4
    tv = window.monitor.timeline
    assert tv.count == len(run.timeline) and tv.index == tv.count - 1


def test_continue_an_old_checkpoint_says_it_uses_a_fresh_optimizer(qtbot, window, tmp_path,
                                                                   small_dataset):
    path, result = trained_checkpoint(tmp_path, small_dataset)  # no optimizer state, no timeline
    run = window.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: run.dataset is not None, timeout=WAIT_MS)
    assert run.timeline is None and run.resume is None
    assert not window.monitor.timeline.slider.isEnabled()
    window.dialogs.epochs = 3
    window.menu_actions.continue_.trigger()
    assert "fresh Adam optimizer" in window.statusBar().currentMessage()
    wait_ended(qtbot, window, run)
    assert run.state == RunState.FINISHED and len(run.history) == 30
    assert "fresh Adam optimizer" in window.details.text()
    assert run.timeline is not None and run.timeline.steps.min() > 20  # from where it went on
    assert window.monitor.timeline.slider.isEnabled()


def test_a_refused_continuation_is_a_message_and_the_run_is_unchanged(qtbot, window):
    fill_form(window, epochs=1)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    before = (run.state, len(run.history), run.config)
    assert window.continue_selected(epochs=1) is None  # not more than it has done
    title, text = window.dialogs.errors[-1]
    assert title == "Cannot continue training" and "already trained 1 epoch" in text
    assert "already trained 1 epoch" in window.statusBar().currentMessage()
    assert (run.state, len(run.history), run.config) == before and not run.is_active


# -- through the session -------------------------------------------------------------------------
@pytest.fixture
def session(qtbot, small_dataset):
    cache = DatasetCache()
    cache.put("mnist-sample", None, small_dataset)
    s = RunSession(cache)
    yield s
    assert s.shutdown(2000)


def ended(session, run):
    return lambda: not run.is_active and not session.has_active


def test_continued_in_the_session_equals_trained_straight(qtbot, session):
    run = session.start(train_config(epochs=2))
    qtbot.waitUntil(ended(session, run), timeout=WAIT_MS)
    session.continue_run(run, 4)
    qtbot.waitUntil(ended(session, run), timeout=WAIT_MS)
    straight = session.start(train_config(epochs=4))
    qtbot.waitUntil(ended(session, straight), timeout=WAIT_MS)
    assert run.state == straight.state == RunState.FINISHED
    a, b = run.model.state_dict(), straight.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b)  # bit for bit on the CPU
    assert np.array_equal(run.history.total, straight.history.total)
    assert run.timeline.steps.tolist() == straight.timeline.steps.tolist()


def test_a_continuation_cancelled_in_the_queue_leaves_the_run_as_it_was(qtbot, session):
    done = session.start(train_config(epochs=1))
    qtbot.waitUntil(ended(session, done), timeout=WAIT_MS)
    busy = session.start(train_config(epochs=LONG))
    qtbot.waitUntil(lambda: busy.state == RunState.RUNNING, timeout=WAIT_MS)
    session.continue_run(done, 3)
    assert done.state == RunState.QUEUED and done.config.epochs == 3
    session.stop(done)
    assert done.state == RunState.FINISHED and done.config.epochs == 1 and len(done.history) == 10
    session.stop(busy)
    qtbot.waitUntil(ended(session, busy), timeout=WAIT_MS)
