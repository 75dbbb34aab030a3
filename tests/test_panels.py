"""The exploration panels, offscreen with pytest-qt, on small trained AE, VAE and CVAE runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from helpers import CELL, PAD, assert_image, grid_cell, grid_shape, make_panel
from latent_explorer.explorer.panels import Panel, create_panels
from latent_explorer.explorer.panels.base import PNG_SCALE, TAB10
from latent_explorer.explorer.panels.conditional import ConditionalPanel
from latent_explorer.explorer.panels.directions import DirectionsPanel
from latent_explorer.explorer.panels.draw import DrawPanel
from latent_explorer.explorer.panels.factors import FactorsPanel
from latent_explorer.explorer.panels.interpolation import GALLERY_COLS, InterpolationPanel
from latent_explorer.explorer.panels.latent_map import LatentMapPanel
from latent_explorer.explorer.panels.prior import PriorPanel
from latent_explorer.explorer.panels.reconstructions import ReconstructionsPanel
from latent_explorer.explorer.panels.sweep import SweepPanel
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.record.run import Run

def test_create_panels_gives_one_panel_per_view(qtbot):
    panels = create_panels()
    for p in panels:
        qtbot.addWidget(p)
    assert all(isinstance(p, Panel) for p in panels)
    titles = [p.title for p in panels]
    assert len(set(titles)) == len(titles) == 9


@pytest.mark.parametrize("cls", [ReconstructionsPanel, PriorPanel, ConditionalPanel,
                                 InterpolationPanel, LatentMapPanel, DrawPanel])
def test_panels_explain_what_they_cannot_show(qtbot, runs, all_runs, cls):
    p = make_panel(qtbot, cls, all_runs, None)
    assert p.is_showing_hint and "Select a run" in p.hint.text()
    # A run with no weights yet, or none at all: the hint says which, never "Select a run".
    ds = runs["vae"].dataset
    cfg = runs["vae"].config
    for state, error, said in (("queued", None, "is queued"),
                               ("running", None, "has not finished its first epoch"),
                               ("paused", None, "is paused"),
                               ("failed", "folder x: not found", "failed before it had trained"),
                               ("stopped", None, "stopped before it trained")):
        p.set_run(Run("fresh", cfg, None, dataset=ds, state=state, error=error))
        assert p.is_showing_hint and said in p.hint.text(), (state, p.hint.text())
        assert "Select a run" not in p.hint.text()
    assert "not found" in (p.set_run(Run("bad", cfg, None, state="failed", error="x: not found"))
                           or p.hint.text())
    loading = Run("loading", runs["cvae"].config, runs["cvae"].model, state="finished")
    p.set_run(loading)
    assert p.is_showing_hint == p.needs_data
    if p.needs_data:
        assert "still loading" in p.hint.text()
    p.set_run(runs["cvae"])
    assert not p.is_showing_hint


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_conditional_panel_says_why_for_a_non_cvae(qtbot, runs, all_runs, kind):
    p = make_panel(qtbot, ConditionalPanel, all_runs, runs[kind])
    assert p.is_showing_hint
    assert "needs a CVAE" in p.hint.text() and kind.upper() in p.hint.text()
    qtbot.keyClick(p, Qt.Key.Key_3)  # digit keys do nothing here, and fail nothing
    assert p.grid is None


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_every_panel_renders_nonblank_images_of_the_right_size(qtbot, runs, all_runs, kind):
    run = runs[kind]
    rec = make_panel(qtbot, ReconstructionsPanel, all_runs, run)
    assert_image(rec.view, grid_shape(2, 8))
    prior = make_panel(qtbot, PriorPanel, all_runs, run)
    assert_image(prior.views[0], grid_shape(4, 4))
    interp = make_panel(qtbot, InterpolationPanel, all_runs, run)
    assert_image(interp.views[0], grid_shape(1, 12))
    assert_image(interp.gallery, grid_shape(2, GALLERY_COLS))
    assert interp.scrub_view.image.image.shape == grid_shape(1, 1)
    latent = make_panel(qtbot, LatentMapPanel, all_runs, run, show=True)
    assert_image(latent.preview, grid_shape(1, 2))
    assert latent.traversal_view.image.image.shape == grid_shape(1, 1)
    if kind == "cvae":
        cond = make_panel(qtbot, ConditionalPanel, all_runs, run)
        assert_image(cond.view, grid_shape(6, 6))


def test_panels_ask_the_kind_not_its_name(qtbot, monkeypatch, small_dataset, all_runs):
    """A kind the panels have never heard of, conditional but not variational, is drawn as such."""
    import latent_explorer.models.registry as registry
    from latent_explorer.explorer.panels.base import run_caption
    from latent_explorer.explorer.panels.prior import AE_NOTE
    from latent_explorer.models.registry import ModelKind
    from latent_explorer.training.engine.loop import TrainConfig, Trainer

    monkeypatch.setitem(registry.MODEL_KINDS, "cae", ModelKind(
        "cae", "CAE", "a conditional plain auto-encoder", variational=False, conditional=True))
    cfg = TrainConfig(kind="cae", beta=0.5, nz=4, hidden=(32,), epochs=1, device="cpu")
    result = Trainer(cfg, small_dataset).run()
    assert result.state == "finished", result.error
    run = Run("cae", cfg, result.model, result.history, state="finished", dataset=small_dataset)
    cond = make_panel(qtbot, ConditionalPanel, all_runs + [run], run)
    assert not cond.is_showing_hint
    assert_image(cond.view, grid_shape(6, 6))
    prior = make_panel(qtbot, PriorPanel, all_runs + [run], run)
    assert prior.label.isVisibleTo(prior) and AE_NOTE in prior.captions[0].text()
    assert "(CAE, nz = 4)" in run_caption(run)  # no β: it has no KL term
    interp = make_panel(qtbot, InterpolationPanel, all_runs + [run], run)
    assert interp.mix_label.isEnabled()
    rec = make_panel(qtbot, ReconstructionsPanel, all_runs + [run], run)
    assert "The CAE is given each image's true label." in rec.caption.text()


# -- reconstructions ----------------------------------------------------------------------------
def test_reconstructions_use_the_posterior_mean(qtbot, runs, all_runs):
    run = runs["vae"]
    p = make_panel(qtbot, ReconstructionsPanel, all_runs, run)
    first = p.view.grid.copy()
    p.set_run(run)
    np.testing.assert_array_equal(p.view.grid, first)  # no sampling: two renders are identical
    x, y = explore.split_images(run.dataset.test, np.arange(8))
    expected = run.model.decode(run.model.encode(x).mean).detach().numpy()
    np.testing.assert_allclose(grid_cell(first, 1, 3), expected[3, 0], atol=1e-6)  # (C, H, W)
    np.testing.assert_allclose(grid_cell(first, 0, 3), x[3, 0].numpy(), atol=1e-6)
    errors = p.view.label_texts()
    assert len(errors) == 8 and errors[0] == f"{p.results[0][1].errors[0]:.3f}"


def test_reconstructions_count_random_reshuffle_and_compare(qtbot, runs, all_runs):
    p = make_panel(qtbot, ReconstructionsPanel, all_runs, runs["cvae"])
    p.count.setValue(5)
    assert p.view.grid.shape == grid_shape(2, 5)
    np.testing.assert_array_equal(p.indices, np.arange(5))
    assert not p.reshuffle.isEnabled()
    p.random.setChecked(True)
    assert p.reshuffle.isEnabled()
    before = p.indices.copy()
    qtbot.mouseClick(p.reshuffle, Qt.MouseButton.LeftButton)
    assert not np.array_equal(before, p.indices)
    p.compare.select_run(runs["ae"])
    assert p.view.grid.shape == grid_shape(3, 5)
    assert [r.kind for r, _ in p.results] == ["cvae", "ae"]
    assert "The CVAE is given each image's true label" in p.caption.text()


# -- prior ------------------------------------------------------------------------------------
def test_prior_grid_seed_resample_and_compare(qtbot, runs, all_runs):
    p = make_panel(qtbot, PriorPanel, all_runs, runs["vae"])
    p.seed.setValue(7)
    np.testing.assert_allclose(p.views[0].grid, explore_grid(runs["vae"], 4, 1.0, 7), atol=1e-6)
    p.k.setValue(16)
    assert p.views[0].grid.shape == grid_shape(16, 16)
    p.k.setValue(3)
    qtbot.mouseClick(p.resample, Qt.MouseButton.LeftButton)
    assert p.seed.value() != 7
    assert not p.views[1].isVisibleTo(p)
    p.compare.select_run(runs["ae"])
    assert len(p.grids) == 2 and p.views[1].isVisibleTo(p)
    assert "was never asked to fit N(0, I)" in p.captions[1].text()
    assert p.export_grid().shape[1] > 2 * p.grids[0].shape[1]


def explore_grid(run, k, t, seed):
    from latent_explorer.training.explore.render import make_grid
    return make_grid(explore.prior_grid(run.model, k, t, seed), ncols=k)


def test_temperature_slider_redraws_with_the_latest_value(qtbot, runs, all_runs):
    p = make_panel(qtbot, PriorPanel, all_runs, runs["vae"])
    draws = []
    p.views[0].updated.connect(lambda: draws.append(1))
    for v in (30, 60, 90, 150):  # a fast drag: four values before the event loop runs
        p.temperature.setValue(v)
    assert draws == []
    qtbot.waitUntil(lambda: len(draws) == 1)
    np.testing.assert_allclose(p.views[0].grid, explore_grid(runs["vae"], 4, 1.5, 0), atol=1e-6)
    assert p.temperature_label.text() == "T = 1.50"


# -- conditional -------------------------------------------------------------------------------
def test_conditional_digits_by_button_and_key(qtbot, runs, all_runs):
    run = runs["cvae"]
    p = make_panel(qtbot, ConditionalPanel, all_runs, run)
    qtbot.mouseClick(p.digits.button(4), Qt.MouseButton.LeftButton)
    assert p.digit == 4
    from latent_explorer.training.explore.render import make_grid
    np.testing.assert_allclose(p.grid, make_grid(explore.digit_grid(run.model, 4, 6, 1.0, 0), ncols=6),
                               atol=1e-6)
    qtbot.keyClick(p, Qt.Key.Key_7)
    assert p.digit == 7 and p.digits.button(7).isChecked()
    np.testing.assert_allclose(p.grid, make_grid(explore.digit_grid(run.model, 7, 6, 1.0, 0), ncols=6),
                               atol=1e-6)


def test_conditional_all_classes_rows_by_class_columns_share_z(qtbot, runs, all_runs):
    run = runs["cvae"]
    p = make_panel(qtbot, ConditionalPanel, all_runs, run)
    p.k.setValue(5)
    p.all_classes.setChecked(True)
    assert p.grid.shape == grid_shape(10, 5)
    z = explore.prior_latents(run.model, 5, 1.0, 0)
    for c in (0, 5, 9):
        expected = explore.decode(run.model, z, c)
        for j in range(5):
            np.testing.assert_allclose(grid_cell(p.grid, c, j), expected[j], atol=1e-6)
    # A digit key goes back to one digit.
    qtbot.keyClick(p, Qt.Key.Key_2)
    assert p.one_digit.isChecked() and p.grid.shape == grid_shape(5, 5)


# -- interpolation -----------------------------------------------------------------------------
def test_interpolation_strip_endpoints_and_methods(qtbot, runs, all_runs):
    run = runs["vae"]
    p = make_panel(qtbot, InterpolationPanel, all_runs, run)
    p.steps.setValue(5)
    p.set_endpoints(3, 9)
    strip = p.views[0].grid
    assert strip.shape == grid_shape(1, 7)
    x, _ = explore.split_images(run.dataset.test, [3, 9])
    np.testing.assert_allclose(grid_cell(strip, 0, 0), x[0, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(grid_cell(strip, 0, 6), x[1, 0].numpy(), atol=1e-6)
    ends = explore.decode(run.model, run.model.encode(x).mean)
    np.testing.assert_allclose(grid_cell(strip, 0, 1), ends[0], atol=1e-5)
    np.testing.assert_allclose(grid_cell(strip, 0, 5), ends[1], atol=1e-5)
    p.method.setCurrentIndex(p.method.findData("slerp"))
    sl = p.views[0].grid
    np.testing.assert_allclose(grid_cell(sl, 0, 1), grid_cell(strip, 0, 1), atol=1e-5)
    np.testing.assert_allclose(grid_cell(sl, 0, 5), grid_cell(strip, 0, 5), atol=1e-5)
    assert np.abs(grid_cell(sl, 0, 3) - grid_cell(strip, 0, 3)).max() > 1e-3


def test_interpolation_pick_by_label_and_another_one(qtbot, runs, all_runs):
    run = runs["ae"]
    labels = run.dataset.test.labels
    p = make_panel(qtbot, InterpolationPanel, all_runs, run)
    p.start_digit.setCurrentIndex(6)
    p.start_digit.activated.emit(6)
    assert int(labels[p.i0]) == 6
    first = p.i0
    qtbot.mouseClick(p.start_another, Qt.MouseButton.LeftButton)
    assert int(labels[p.i0]) == 6 and p.i0 != first
    p.pick_by_label("end", 2)
    assert int(labels[p.i1]) == 2 and p.end_digit.currentData() == 2


def test_interpolation_gallery_click_sets_start_then_end(qtbot, runs, all_runs):
    run = runs["vae"]
    p = make_panel(qtbot, InterpolationPanel, all_runs, run, show=True)
    g = p.gallery

    def click(index, button=Qt.MouseButton.LeftButton):
        r, c = divmod(index, GALLERY_COLS)
        scene = g.image.mapToScene(QPointF(PAD + c * CELL + 14, PAD + r * CELL + 14))
        pos = g.mapFromScene(scene)
        qtbot.mouseClick(g.viewport(), button, pos=QPoint(pos.x(), pos.y()))

    click(GALLERY_COLS + 3)
    assert p.i0 == int(p.gallery_indices[GALLERY_COLS + 3]) and p.click_end.isChecked()
    click(5)
    assert p.i1 == int(p.gallery_indices[5]) and p.click_start.isChecked()
    click(7, Qt.MouseButton.RightButton)
    assert p.i1 == int(p.gallery_indices[7])
    x, _ = explore.split_images(run.dataset.test, [p.i0, p.i1])
    np.testing.assert_allclose(grid_cell(p.views[0].grid, 0, 0), x[0, 0].numpy(), atol=1e-6)


def test_interpolation_compares_two_runs_on_the_same_pair(qtbot, runs, all_runs):
    p = make_panel(qtbot, InterpolationPanel, all_runs, runs["ae"])
    p.set_endpoints(0, 4)
    assert not p.views[1].isVisibleTo(p)
    p.compare.select_run(runs["vae"])
    assert p.views[1].isVisibleTo(p) and len(p.strips) == 2
    a, b = p.strips
    np.testing.assert_array_equal(grid_cell(a, 0, 0), grid_cell(b, 0, 0))  # the same start image
    assert np.abs(grid_cell(a, 0, 5) - grid_cell(b, 0, 5)).max() > 1e-3
    assert p.scrub_view.grid.shape == grid_shape(2, 1)
    assert p.export_grid().shape[0] > 2 * a.shape[0]


def test_scrubber_decodes_the_point_at_t(qtbot, runs, all_runs):
    run = runs["cvae"]
    p = make_panel(qtbot, InterpolationPanel, all_runs, run)
    p.set_endpoints(0, 4)
    for v in (100, 200, 250):
        p.scrub.setValue(v)
    pair = p.pairs[run.id]
    expected = explore.decode_pair_at(run.model, pair, 0.25)[0]

    def shows_t_025():
        assert p.scrub_label.text() == "t = 0.25"
        np.testing.assert_allclose(p.scrub_images[0], expected, atol=1e-6)

    qtbot.waitUntil(shows_t_025)
    # The CVAE keeps the start label unless asked to interpolate the one-hot too.
    assert p.mix_label.isEnabled()
    p.mix_label.setChecked(True)
    np.testing.assert_allclose(p.scrub_images[0],
                               explore.decode_pair_at(run.model, pair, 0.25, mix_label=True)[0], atol=1e-6)
    assert "one-hot" in p.captions[0].text()
    p.set_run(runs["vae"])
    assert not p.mix_label.isEnabled()


# -- latent map --------------------------------------------------------------------------------
def test_latent_map_has_one_point_per_test_image_coloured_by_label(qtbot, runs, all_runs):
    run = runs["cvae"]
    p = make_panel(qtbot, LatentMapPanel, all_runs, run, show=True)
    labels = run.dataset.test.labels.numpy()
    assert sum(len(item.data) for item in p.scatters) == len(labels) == len(p.map.coords)
    for c, item in enumerate(p.scatters):
        assert len(item.data) == int((labels == c).sum())
        if len(item.data):
            assert item.opts["brush"].color().name() == TAB10[c]
            np.testing.assert_allclose(np.c_[item.data["x"], item.data["y"]], p.map.coords[labels == c])
    assert "PC 1" in p.plot.getAxis("bottom").labelText


def test_latent_map_hover_previews_a_point_then_restores_the_chosen_one(qtbot, runs, all_runs):
    run = runs["ae"]
    p = make_panel(qtbot, LatentMapPanel, all_runs, run, show=True)
    p.select_point(3)
    chosen = p.preview.grid.copy()
    vb = p.plot.getViewBox()
    x, y = p.map.coords[11]

    def move_to(x: float, y: float) -> None:
        """A mouse-move event to the plot's viewport, at the pixel showing (x, y) now.

        Sent to the widget itself: QTest.mouseMove moves the cursor, and on the offscreen
        platform the event then goes to whichever window is under it.
        """
        viewport = p.plot.viewport()
        local = QPointF(p.plot.mapFromScene(vb.mapViewToScene(QPointF(x, y))))
        event = QMouseEvent(QEvent.Type.MouseMove, local, viewport.mapToGlobal(local),
                            Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, event)

    def hovers_point_11():
        move_to(float(x), float(y))  # again if a relayout moved the plot under the mouse
        assert p.hovered is not None and p.point_at(float(x), float(y)) == p.hovered

    qtbot.waitUntil(hovers_point_11)
    imgs, _ = explore.split_images(run.dataset.test, [p.hovered])
    np.testing.assert_allclose(grid_cell(p.preview.grid, 0, 0), imgs[0, 0].numpy(), atol=1e-6)
    assert "Hovering" in p.preview_caption.text()
    # The empty spot of the plot farthest from every point.
    (x0, x1), (y0, y1) = vb.viewRange()
    gx, gy = np.meshgrid(np.linspace(x0, x1, 25)[1:-1], np.linspace(y0, y1, 25)[1:-1])
    spots = np.c_[gx.ravel(), gy.ravel()]
    scale = np.array([x1 - x0, y1 - y0])
    gaps = np.min(np.linalg.norm((spots[:, None] - p.map.coords[None]) / scale, axis=2), axis=1)
    far = spots[np.argmax(gaps)]

    def leaves_the_points():
        move_to(float(far[0]), float(far[1]))
        assert p.hovered is None

    qtbot.waitUntil(leaves_the_points)
    np.testing.assert_array_equal(p.preview.grid, chosen)
    assert p.selected == 3


def test_latent_map_is_computed_lazily_and_cached(qtbot, runs, all_runs, monkeypatch):
    p = make_panel(qtbot, LatentMapPanel, all_runs, runs["vae"])
    assert p.map is None  # not shown yet: nothing encoded
    calls = []
    real = explore.encode_split
    monkeypatch.setattr(explore, "encode_split", lambda *a, **k: calls.append(1) or real(*a, **k))
    p.show()
    qtbot.waitUntil(lambda: p.map is not None)
    p.set_run(runs["vae"])
    assert len(calls) == 1  # the same run at the same step: cached


def test_latent_map_click_point_or_empty_space_and_traverse(qtbot, runs, all_runs):
    run = runs["vae"]
    p = make_panel(qtbot, LatentMapPanel, all_runs, run, show=True)
    i = 17
    x, y = p.map.coords[i]
    p.click_at(float(x), float(y))
    assert p.selected == i
    torch.testing.assert_close(p.z, p.encoded.means[i])
    imgs, _ = explore.split_images(run.dataset.test, [i])
    np.testing.assert_allclose(p.preview_images[0], imgs[0, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(p.preview_images[1], explore.reconstruct(run.model, imgs).reconstructions[0],
                               atol=1e-6)
    # Empty space far from every point: decode mean + x·pc1 + y·pc2.
    far = p.map.coords.max(axis=0) + 10 * (np.ptp(p.map.coords, axis=0) + 1)
    p.click_at(float(far[0]), float(far[1]))
    assert p.selected is None
    z = p.map.to_latent(far)[0]
    torch.testing.assert_close(p.z, z)
    np.testing.assert_allclose(p.preview_images[0], explore.decode(run.model, z)[0], atol=1e-6)
    # Traversal: the first slider is the most used dimension and decodes live.
    d = p.slider_dims[0]
    assert p.usage.usage[d] == p.usage.usage.max()
    p.sliders[0].setValue(0)
    edited = z.clone()
    edited[d] = float(p.usage.low[d])
    expected = explore.decode(run.model, edited)[0]
    qtbot.waitUntil(lambda: np.testing.assert_allclose(p.traversal_image[0], expected, atol=1e-5))
    qtbot.mouseClick(p.reset_button, Qt.MouseButton.LeftButton)
    torch.testing.assert_close(p.z, z, atol=1e-5, rtol=0)


# -- selection changes and export ------------------------------------------------------------
def test_changing_the_selected_run_updates_every_panel(qtbot, runs, all_runs):
    panels = create_panels()
    for p in panels:
        qtbot.addWidget(p)
        p.resize(1000, 700)
        p.show()
        p.set_runs(all_runs)
    def images(p):
        if isinstance(p, LatentMapPanel):
            return p.preview.grid.copy()
        return p.export_grid().copy()
    for p in panels:
        if isinstance(p, (SweepPanel, FactorsPanel)):  # their own tests (sweep_gui, factors_panel)
            continue
        p.set_run(runs["cvae"])
        if isinstance(p, DirectionsPanel):  # its strip follows the test codes, encoded off-thread
            qtbot.waitUntil(lambda: p.export_grid() is not None)
        if isinstance(p, DrawPanel):  # it shows nothing until something is drawn
            digit = explore.split_images(p.run.dataset.test, [0])[0][0, 0].numpy()
            p.canvas.set_image(np.kron(digit, np.ones((8, 8))))
            qtbot.waitUntil(lambda: p.export_grid() is not None)
        before = images(p)
        p.set_run(runs["vae"] if not isinstance(p, ConditionalPanel) else runs["ae"])
        if isinstance(p, ConditionalPanel):
            assert p.is_showing_hint and p.grid is None
            continue
        qtbot.waitUntil(lambda: not p.is_showing_hint)
        if isinstance(p, DirectionsPanel):
            qtbot.waitUntil(lambda: p.export_grid() is not None
                            and p.export_grid().shape == before.shape
                            and np.abs(p.export_grid() - before).max() > 1e-3)
        after = images(p)
        assert after.shape != before.shape or np.abs(after - before).max() > 1e-3, p.title
        assert "VAE" in (p.caption.text() if hasattr(p, "caption") else p.captions[0].text())


def test_compare_picker_follows_the_run_list(qtbot, runs, all_runs):
    p = make_panel(qtbot, PriorPanel, all_runs, runs["vae"])
    p.compare.select_run(runs["ae"])
    p.set_runs([runs["cvae"], runs["ae"]])
    assert p.compare.current_run() is runs["ae"] and len(p.grids) == 2
    p.set_runs([runs["vae"]])  # the compared run was removed
    assert p.compare.current_run() is None and len(p.grids) == 1


@pytest.mark.parametrize("cls", [ReconstructionsPanel, PriorPanel, ConditionalPanel,
                                 InterpolationPanel, LatentMapPanel])
def test_save_png_through_a_patched_dialog(qtbot, runs, all_runs, tmp_path, monkeypatch, cls):
    p: Panel = make_panel(qtbot, cls, all_runs, runs["cvae"], show=cls is LatentMapPanel)
    target = tmp_path / "out"
    asked = []
    monkeypatch.setattr(p, "ask_save_path", lambda name: asked.append(name) or str(target))
    qtbot.mouseClick(p.save_button, Qt.MouseButton.LeftButton)
    assert asked and asked[0].endswith(".png")
    with Image.open(tmp_path / "out.png") as im:
        size = im.size
    if cls is not LatentMapPanel:
        grid = p.export_grid()
        assert size == (grid.shape[1] * PNG_SCALE, grid.shape[0] * PNG_SCALE)
    else:
        assert size[0] > 100 and size[1] > 100
    # Cancelling the dialog writes nothing.
    monkeypatch.setattr(p, "ask_save_path", lambda name: None)
    (tmp_path / "out.png").unlink()
    qtbot.mouseClick(p.save_button, Qt.MouseButton.LeftButton)
    assert not (tmp_path / "out.png").exists()


def test_costly_work_waits_for_the_tab_to_be_seen(qtbot, runs):
    # The Panel contract the Draw, Latent map and Directions tabs share: work marked stale
    # while the tab is hidden runs once when it is shown, at once while it is visible.
    class Counting(Panel):
        def __init__(self) -> None:
            super().__init__()
            self.refreshed: list[str] = []

        def _update_run(self) -> None:
            self.mark_stale()

        def refresh(self) -> None:
            self.refreshed.append(self.run.name)

    p = Counting()
    qtbot.addWidget(p)
    p.set_run(runs["vae"])
    p.set_run(runs["ae"])  # hidden: nothing yet, and only the last run counts
    assert p.refreshed == [] and p.is_stale
    p.show()
    qtbot.waitExposed(p)
    assert p.refreshed == [runs["ae"].name] and not p.is_stale
    p.hide()
    p.show()  # seen again, nothing new: no second refresh
    assert p.refreshed == [runs["ae"].name]
    p.set_run(runs["vae"])  # visible: at once
    assert p.refreshed == [runs["ae"].name, runs["vae"].name]
    p.set_run(None)  # the hint page: nothing to refresh
    p.mark_stale()
    assert p.refreshed == [runs["ae"].name, runs["vae"].name] and p.is_stale
