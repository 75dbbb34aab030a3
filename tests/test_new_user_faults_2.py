"""More faults a new user hit (issue 35 §3), each driven through the real widgets (qtbot):

1. A Ray sweep that never reached its cluster looked trained (random weights kept, Save on,
   counted as unsaved at quit, a plain "failed").
2. Interpolation after "Send to": captions said "your drawing" for any sent image, the class
   boxes kept stale digits, the gallery stayed blank after a hint had shown.
3. Numbers wrong or missing: an AE's KL drawn as a flat 0 under "Total loss (recon + β·KL)",
   a loaded run's blank Progress cell, a paused run's ETA.
4. Clipped text: the paused Progress cell, the KL plot's "target" label, the fallback notice in
   the status bar, the Continue dialog's title, the Compare-with box (which offered the selected
   run itself), the Draw tab's probabilities as a wall of text.
"""

from __future__ import annotations

import socket

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

from helpers import (LEFT, WAIT_MS, cell, click_train, fill_form, make_draw, make_panel,
                     make_window, train_config, trained_checkpoint, wait_ended)
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.record.history import History
from latent_explorer.training.record.run import Run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def quick(small_dataset) -> dict[str, Run]:
    """An AE, a VAE and a CVAE after 2 epochs (20 steps) each: enough to draw and encode."""
    out = {}
    for kind in ("ae", "vae", "cvae"):
        cfg = train_config(kind=kind, nz=4, epochs=2, lr=3e-3)
        r = Trainer(cfg, small_dataset).run()
        assert r.state == "finished", r.error
        out[kind] = Run(f"{kind.upper()} quick", cfg, r.model, r.history, state="finished",
                        metrics=r.metrics, dataset=small_dataset)
    return out


# -- 1. A Ray sweep that never connected is not a trained run -------------------------------------
def test_a_ray_sweep_that_never_connected_has_no_weights_to_show_save_or_lose(qtbot, settings,
                                                                               datasets):
    w = make_window(qtbot, settings, datasets)
    fill_form(w, nz=8, epochs=1)
    w.form.sweep.setChecked(True)
    w.form.betas.setText("0.005, 1")
    w.form.run_on.setCurrentIndex(w.form.run_on.findData("ray"))
    w.form.ray_address.setText(f"127.0.0.1:{free_port()}")  # nothing listens there
    qtbot.mouseClick(w.form.train_button, LEFT)
    members = [r for r in w.runs if r.group]
    assert len(members) == 2
    qtbot.waitUntil(lambda: all(r.state == "failed" for r in members), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not w.session.has_active, timeout=WAIT_MS)
    for r in members:
        assert r.error.startswith("never started (could not reach the Ray cluster): "
                                  "no Ray cluster at 127.0.0.1:"), r.error
        assert len(r.history) == 0
        # No random weights kept as if trained: nothing for the grid, the panels or Save.
        assert r.model is None and r.metrics is None
        w.run_table.select_run(r)  # selecting it never reads the job's own folder back
        assert r.model is None
        assert not w.menu_actions.save.isEnabled()
        assert not w.menu_actions.save_sweep.isEnabled()
        assert not w.runs_panel.save_button.isEnabled()
    assert w.commands.sweep_save_problem(members[0]) == \
        f"no member of {members[0].group} has weights to save"
    assert not any(r in w.session.usable_runs() for r in members)
    assert not any(r in w.session.unsaved_runs() for r in members)
    w.close()
    assert w.dialogs.asked_close == []  # nothing to lose: quitting asks nothing


def test_a_member_that_failed_before_its_first_step_says_so_and_one_that_trained_keeps_weights(
        quick):
    """The job's own mapping, with results as a Ray sweep's driver hands them over."""
    from latent_explorer.explorer.session.datasets import DatasetCache
    from latent_explorer.explorer.session.job_events import MemberEvent, TrainingEnded
    from latent_explorer.explorer.session.jobs import SweepJob
    from latent_explorer.training.engine.events import TrainResult
    from helpers import sweep_config

    cfg = sweep_config(betas=(0.005, 1.0))
    runs = [Run(f"m{m}", cfg.member_config(m), group="sweep 1") for m in range(2)]
    job = SweepJob(runs, cfg, DatasetCache())
    model = quick["vae"].model  # as the driver hands back a member's (initial) weights
    trained = History()
    trained.append(0.3, 2.0, 0.31)
    err = "RayUnavailable: no Ray cluster at 10.0.0.1:6379: Connection refused"
    list(job.apply(MemberEvent(0, TrainingEnded(TrainResult("failed", model, History(), None,
                                                            err)))))
    list(job.apply(MemberEvent(1, TrainingEnded(TrainResult("failed", model, trained, None,
                                                            "diverged")))))
    assert runs[0].model is None and runs[0].state == "failed"
    assert runs[0].error == ("never started (could not reach the Ray cluster): no Ray cluster "
                             "at 10.0.0.1:6379: Connection refused")
    assert runs[1].model is model and runs[1].error == "diverged"  # its last good weights
    job.disconnect_worker()


# -- 2. Interpolation after "Send to" --------------------------------------------------------------
def test_sent_images_are_captioned_as_sent_and_the_class_boxes_say_so(qtbot, quick):
    from latent_explorer.explorer.panels.base import INTERPOLATION_END, INTERPOLATION_START
    from latent_explorer.explorer.panels.interpolation import SENT_PLACEHOLDER, InterpolationPanel

    vae = quick["vae"]
    p = make_panel(qtbot, InterpolationPanel, [vae], vae, show=True)
    test = vae.dataset.test
    labels = test.labels.numpy()
    assert p.start_digit.currentText() == str(labels[p.i0])
    # Two lasso means sent from the Latent map: images the test split does not hold.
    a = test.images[:20].float().mean(0).numpy() / 255
    b = test.images[20:40].float().mean(0).numpy() / 255
    p.receive_image(INTERPOLATION_START, a)
    p.receive_image(INTERPOLATION_END, b)
    text = p.captions[0].text()
    assert "your drawing" not in text
    assert "start the image sent from another tab" in text
    assert "end the image sent from another tab" in text
    for combo, another in ((p.start_digit, p.start_another), (p.end_digit, p.end_another)):
        assert combo.currentIndex() == -1 and combo.placeholderText() == SENT_PLACEHOLDER
        assert not another.isEnabled()
    # Picking a class again takes a test image of it, and the box shows that class.
    p.end_digit.activated.emit(p.end_digit.findData(3))
    assert p.custom[1] is None and labels[p.i1] == 3
    assert p.end_digit.currentText() == "3" and p.end_another.isEnabled()
    assert "end image #" in p.captions[0].text()


def test_the_gallery_is_drawn_again_after_a_hint_showed(qtbot, quick):
    from latent_explorer.explorer.panels.interpolation import InterpolationPanel

    vae = quick["vae"]
    p = make_panel(qtbot, InterpolationPanel, [vae], vae, show=True)
    assert p.gallery.has_image
    p.set_run(None)  # a hint ("select a run") clears the images
    assert not p.gallery.has_image
    p.set_run(vae)
    assert p.gallery.has_image
    np.testing.assert_array_equal(p.gallery_indices, np.arange(32))


# -- 3. Numbers that are wrong or missing ------------------------------------------------------------
def test_an_ae_has_no_kl_curve_and_its_first_plot_is_its_reconstruction_loss(qtbot, quick):
    from latent_explorer.explorer.views.loss_plot import TITLES, LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    ae, vae = quick["ae"], quick["vae"]
    plot.add_run(ae, "#e6550d")
    plot.flush()
    # The only run: an AE. Its KL is not drawn as a flat line at 0, and the plots say why.
    assert not plot.is_curve_shown(ae.id, "kl") and plot.is_curve_shown(ae.id, "total")
    assert len(plot.drawn_data(ae.id, "kl")[0] if plot.drawn_data(ae.id, "kl")[0] is not None
               else []) == 0
    assert plot.title("total") == "Reconstruction loss"
    assert "an AE has no KL" in plot.title("kl")
    assert plot.plots["total"].titleLabel.text == "Reconstruction loss"
    plot.add_run(vae, "#3182bd")
    plot.set_highlighted(vae.id)
    plot.flush()
    assert plot.title("total") == TITLES["total"] and plot.title("kl") == TITLES["kl"]
    x, y = plot.drawn_data(vae.id, "kl")
    assert len(x) > 0 and np.all(y > 0)  # the VAE's KL is drawn
    assert not plot.is_curve_shown(ae.id, "kl")
    plot.set_run_visible(ae.id, False)
    plot.set_run_visible(ae.id, True)  # shown again: still no KL
    assert not plot.is_curve_shown(ae.id, "kl")
    plot.set_highlighted(ae.id)
    assert plot.plots["kl"].titleLabel.text == plot.title("kl") != TITLES["kl"]
    plot.stop_redrawing()


def test_a_loaded_run_says_how_far_it_trained_and_a_paused_one_shows_no_eta(qtbot, settings,
                                                                             datasets, tmp_path,
                                                                             small_dataset):
    from latent_explorer.explorer.views.run_table import COL_PROGRESS

    w = make_window(qtbot, settings, datasets)
    path, result = trained_checkpoint(tmp_path, small_dataset)
    loaded = w.open_checkpoint(str(path))
    assert loaded is not None
    assert cell(w, loaded, COL_PROGRESS) == f"finished · {len(result.history):,} steps"

    fill_form(w, epochs=2000)
    run = click_train(qtbot, w)
    qtbot.waitUntil(lambda: run.id in w.session.progress, timeout=WAIT_MS)
    w.toggle_pause()
    qtbot.waitUntil(lambda: w.session.job_for(run).worker.is_paused, timeout=WAIT_MS)
    assert run.state == "paused"
    qtbot.waitUntil(lambda: w.run_model.progress_text(run).startswith("paused"), timeout=WAIT_MS)
    text = w.run_model.progress_text(run)
    p = w.session.progress[run.id]
    assert text == f"paused · epoch {p.epoch}/2000 · step {p.step:,}/20,000"  # no rate, no ETA
    assert "ETA" not in w.progress_label.text()
    # The cell's bar text fits its column and begins with "paused" (centred text wider than
    # the bar lost both ends: "aused · epoch 6/64 · ETA / 05:00").
    table = w.run_table
    delegate = table.itemDelegateForColumn(COL_PROGRESS)
    fm = QFontMetrics(table.font())
    width = table.columnWidth(COL_PROGRESS) - 12  # the bar's rect, less its text margin
    shown = delegate.bar_text(run, fm, width)
    assert fm.horizontalAdvance(shown) <= width and shown.startswith("paused")
    w.stop_selected()
    wait_ended(qtbot, w, run)
    w.close()


def test_progress_text_pauses_without_rate_or_eta():
    from latent_explorer.explorer.session.jobs import Progress

    p = Progress(6, 64, 600, 6400, 120.0, 300.0)
    assert p.text(short=True) == "epoch 6/64 · ETA 05:00"
    assert p.text(short=True, paused=True) == "paused · epoch 6/64"
    assert p.text(paused=True) == "paused · epoch 6/64 · step 600/6,400"


# -- 4. Clipped text ---------------------------------------------------------------------------------
def test_the_target_label_stays_inside_the_kl_plot(qtbot, quick):
    from dataclasses import replace

    from latent_explorer.explorer.views.loss_plot import LossPlot

    vae = quick["vae"]
    h = History()
    for i in range(200):  # the KL climbs towards the target from below: the line is on top
        h.append(0.3, 20.0 * (1 - np.exp(-i / 30)) - 1.0, 0.31, 0.01)
    run = Run("steered", replace(vae.config, target_rate=20.0), vae.model, h, state="finished")
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(900, 300)
    plot.show()
    qtbot.waitExposed(plot)
    plot.add_run(run, "#e6550d")
    plot.flush()
    vb = plot.plots["kl"].getViewBox()
    vb.autoRange(padding=0)  # the line at the very top edge of the view
    qtbot.wait(20)
    label = plot.target_label(run.id)
    assert label.toPlainText() == "target 20"
    box, rect = vb.sceneBoundingRect(), label.sceneBoundingRect()
    # Inside the view box (half a pixel for float rounding): no longer cut at its top edge.
    assert box.top() - 0.5 <= rect.top() and rect.bottom() <= box.bottom() + 0.5, (box, rect)
    plot.stop_redrawing()


def test_the_fallback_notice_fits_the_status_bar_and_the_tab_says_it_all(qtbot, settings,
                                                                        small_dataset,
                                                                        monkeypatch):
    from latent_explorer.explorer.session.datasets import DatasetCache
    from latent_explorer.training.data import datasets as ds_module
    from latent_explorer.training.data import sources
    from latent_explorer.training.data.datasets import DataError

    def offline(*a, **k):
        raise DataError("no connection (offline)")

    monkeypatch.setattr(sources, "load_dataset", offline)
    monkeypatch.setattr(ds_module, "load_mnist_sample", lambda: small_dataset)

    class Offline(DatasetCache):
        """'auto' without a network: the bundled sample, with the engine's own notice."""

        def get(self, source, data_dir=None, notify=None, **kw):
            return sources.load_auto(notify=notify, allow_download=False)

    w = make_window(qtbot, settings, Offline())
    w.resize(1280, 800)
    fill_form(w, epochs=1)
    run = click_train(qtbot, w)
    qtbot.waitUntil(lambda: w.monitor.notice.isVisibleTo(w.monitor), timeout=WAIT_MS)
    full = w.monitor.notice_label.text()
    assert full.startswith("Using the bundled 5,000-digit MNIST sample: full MNIST is "
                           "unavailable (no connection (offline))")
    qtbot.waitUntil(lambda: w.statusBar().currentMessage().startswith("Using the bundled"),
                    timeout=WAIT_MS)
    shown = w.statusBar().currentMessage()
    bar = w.statusBar()
    room = bar.width() - sum(x.width() for x in (w.progress_label, w.dataset_label,
                                                 w.device_label) if x.isVisible())
    assert QFontMetrics(bar.font()).horizontalAdvance(shown) <= room, (shown, room)
    assert QFontMetrics(bar.font()).horizontalAdvance(full) > room  # what was cut before
    wait_ended(qtbot, w, run)
    w.close()


def test_the_continue_dialog_title_is_whole_and_the_question_in_its_body(qtbot):
    from latent_explorer.explorer.commands.dialogs import TITLE_BAR_ROOM, epochs_dialog

    d = epochs_dialog(None, 5, 6)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    assert d.windowTitle() == "Continue"
    assert "Continue training" in d.labelText() and "5 epochs" in d.labelText()
    assert d.width() >= QFontMetrics(d.font()).horizontalAdvance(d.windowTitle()) + TITLE_BAR_ROOM
    assert (d.intMinimum(), d.intValue()) == (6, 10)
    d.reject()


def test_compare_with_never_offers_the_selected_run_and_long_names_fit(qtbot, quick):
    from latent_explorer.explorer.panels.interpolation import InterpolationPanel

    vae, cvae = quick["vae"], quick["cvae"]
    long = Run("VAE with a name long enough to push the settings off their row", vae.config,
               vae.model, vae.history, state="finished", dataset=vae.dataset)
    runs = [vae, cvae, long]
    p = make_panel(qtbot, InterpolationPanel, runs, vae, show=True)
    box = p.compare
    assert box.offered_runs() == [cvae, long]
    assert box.combo.findData(vae.id) == -1
    box.select_run(long)
    assert box.other_than(vae) is long
    p.set_run(long)  # the compared run becomes the selected one: no longer offered
    assert box.offered_runs() == [vae, cvae] and box.current_run() is None
    box.select_run(vae)
    combo = box.combo
    fm = combo.fontMetrics()
    box.set_runs(runs)
    p.set_run(vae)
    i = combo.findData(long.id)
    text = combo.itemText(i)
    assert "…" in text and combo.itemData(i, Qt.ItemDataRole.ToolTipRole) == \
        f"{long.name} (VAE)"
    # Every item's text fits the box's text area (the box less its arrow).
    room = combo.width() - combo.iconSize().width() - 16
    assert all(fm.horizontalAdvance(t) <= room for t in box.item_texts()), \
        (box.item_texts(), room)
    combo.setCurrentIndex(i)
    assert long.name in combo.toolTip()


def test_the_draw_tab_names_the_likeliest_classes_and_keeps_the_rest_in_a_tooltip(qtbot, quick):
    from helpers import draw_seven, wait_drawn

    cvae = quick["cvae"]
    panel = make_draw(qtbot, [cvae], cvae)
    draw_seven(qtbot, panel.canvas)
    wait_drawn(qtbot, panel)
    qtbot.waitUntil(lambda: panel.scores_label.text() != "", timeout=10_000)
    from latent_explorer.training.explore import drawing

    probs = drawing.label_probabilities(panel.analyses[0][1].scores)
    top = np.argsort(-probs, kind="stable")[:3]
    text = panel.scores_label.text()
    assert text == "Likeliest: " + " · ".join(f"{i}\u00a0{probs[i]:.2f}" for i in top
                                               if probs[i] >= 0.005)
    fm = panel.scores_label.fontMetrics()
    assert fm.horizontalAdvance(text) <= panel.scores_label.width()  # one line, not a wall
    tip = panel.scores_label.toolTip()
    assert all(f"{i}: {p:.3f}" in tip for i, p in enumerate(probs))
