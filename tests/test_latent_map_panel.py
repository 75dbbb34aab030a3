"""The Latent map tab with a colour model: hover, selection, traversal, thumbnails and "send
to" at the images' own size and in colour, read from the widgets the user sees; controls
built from the map-method registry; the legend above the plot; each map framed to its points.

Real widgets offscreen (qtbot), a tiny in-test colour dataset (3×32×32, three classes) and a
VAE trained on it for two epochs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from helpers import LEFT, make_panel
from latent_explorer.explorer.panels.base import INTERPOLATION_END, INTERPOLATION_START
from latent_explorer.explorer.panels.latent_map import LatentMapPanel, model_layout
from latent_explorer.explorer.panels.map_plot import HOVER_SCALE, thumb_px
from latent_explorer.explorer.panels.map_traversal import MIN_ROWS_SHOWN
from latent_explorer.explorer.widgets.image_view import PAD
from latent_explorer.training.data.datasets import Dataset, Split
from latent_explorer.training.engine.loop import TrainConfig, Trainer
from latent_explorer.training.explore import latent_methods as lm
from latent_explorer.training.record.run import Run

C, H, W = 3, 32, 32
FIT_MS = 30_000


def colour_split(n: int, seed: int) -> Split:
    """Discs of a random size and place, class c bright in channel c (and a little in c+1)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    yy, xx = np.mgrid[:H, :W]
    x = np.zeros((n, C, H, W), np.uint8)
    for i, c in enumerate(labels):
        r, (cx, cy) = rng.uniform(5, 12), rng.uniform(10, 22, 2)
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        x[i, c][disc] = 255
        x[i, (c + 1) % 3][disc] = int(rng.integers(0, 150))
    return Split(torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64)))


@pytest.fixture(scope="module")
def colour_run() -> Run:
    ds = Dataset("colour-test", colour_split(192, 0), colour_split(60, 1), "colour discs",
                 class_names=("a", "b", "c"))
    cfg = TrainConfig(kind="vae", nz=8, hidden=(32,), epochs=2, batch_size=64, lr=3e-3, seed=0,
                      device="cpu", dataset="colour-test")
    r = Trainer(cfg, ds).run()
    assert r.state == "finished", r.error
    assert r.model.config.image_shape == (C, H, W)
    return Run("colour", cfg, r.model, r.history, state="finished", dataset=ds)


def rgb(split: Split, i: int) -> np.ndarray:
    """Test image i as the user should see it: (H, W, 3) in [0, 1]."""
    return split.images[i].permute(1, 2, 0).float().numpy() / 255.0


@torch.no_grad()
def decoded(run: Run, z: torch.Tensor) -> np.ndarray:
    """The model's decoding of one code as (H, W, 3)."""
    return run.model.decode(z.reshape(1, -1))[0].permute(1, 2, 0).numpy()


def cell(grid: np.ndarray, c: int) -> np.ndarray:
    """Image c of a one-row mosaic of H×W images."""
    return grid[PAD:PAD + H, PAD + c * (W + PAD):PAD + c * (W + PAD) + W]


def move_mouse(panel: LatentMapPanel, x: float, y: float) -> None:
    vb = panel.plot.getViewBox()
    local = QPointF(panel.plot.mapFromScene(vb.mapViewToScene(QPointF(x, y))))
    viewport = panel.plot.viewport()
    QApplication.sendEvent(viewport, QMouseEvent(
        QEvent.Type.MouseMove, local, viewport.mapToGlobal(local), Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))


def test_preview_and_traversal_show_the_colour_images_at_their_size(qtbot, colour_run):
    p = make_panel(qtbot, LatentMapPanel, [colour_run], colour_run, show=True)
    test = colour_run.dataset.test
    grid = p.preview.image.image  # what the view draws
    assert grid.shape == (H + 2 * PAD, 2 * (W + PAD) + PAD, 3)
    np.testing.assert_allclose(cell(grid, 0), rgb(test, 0), atol=1e-6)
    x = test.images[:1].float().div(255).flatten(1)
    with torch.no_grad():
        recon = colour_run.model.decode(colour_run.model.encode(x).mean)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(cell(grid, 1), recon, atol=1e-5)
    trav = p.traversal_view.image.image
    assert trav.shape == (H + 2 * PAD, W + 2 * PAD, 3)
    np.testing.assert_allclose(cell(trav, 0), decoded(colour_run, p.encoded.means[0]), atol=1e-5)
    # A slider moves one dimension; the traversal image is that code's decoding, in colour.
    d = p.slider_dims[0]
    p.sliders[0].setValue(0)
    edited = p.encoded.means[0].clone()
    edited[d] = float(p.usage.low[d])
    qtbot.waitUntil(lambda: np.allclose(cell(p.traversal_view.image.image, 0),
                                        decoded(colour_run, edited), atol=1e-5))
    assert p.export_grid().shape == (H + 2 * PAD, 3 * (W + PAD) + PAD, 3)


def test_hovering_shows_the_colour_thumbnail_and_zooming_in_one_per_point(qtbot, colour_run,
                                                                          monkeypatch):
    from latent_explorer.explorer.panels import latent_map

    monkeypatch.setattr(latent_map, "MAX_SPRITES", 10)  # the whole map is "too many"
    p = make_panel(qtbot, LatentMapPanel, [colour_run], colour_run, show=True)
    test = colour_run.dataset.test
    i = 5
    xy = p.coords[i].astype(float)

    def shows_the_thumbnail():
        move_mouse(p, *xy)
        assert p.hovered is not None and p.hover_thumbnail() is not None

    qtbot.waitUntil(shows_the_thumbnail)
    thumb = p.hover_thumbnail()
    assert thumb.shape == (H, W, 3)
    np.testing.assert_allclose(thumb, rgb(test, p.hovered), atol=1e-6)
    # Drawn at a size that follows the image's: 32 px images, one screen pixel each, doubled.
    w_px, h_px = p.map_plot.hover_thumbnail_px()
    assert (w_px, h_px) == pytest.approx((HOVER_SCALE * W, HOVER_SCALE * H), abs=1.5)
    assert "Hovering" in p.preview_caption.text()
    np.testing.assert_allclose(cell(p.preview.image.image, 0), rgb(test, p.hovered), atol=1e-6)

    qtbot.mouseClick(p.thumbs_check, LEFT, pos=p.thumbs_check.rect().center())
    assert p.thumbnail_indices() == [] and "zoom in" in p.method_status.text()
    span = np.ptp(p.coords, axis=0) * 0.05
    p.viewbox.setRange(xRange=(xy[0] - span[0], xy[0] + span[0]),
                       yRange=(xy[1] - span[1], xy[1] + span[1]), padding=0)
    qtbot.waitUntil(lambda: i in p.thumbnail_indices())
    shown = p.thumbnail_indices()
    images = p.map_plot.sprite_images()
    assert len(images) == len(shown)
    for j, img in zip(shown, images):
        assert img.shape == (H, W, 3)
        np.testing.assert_allclose(img, rgb(test, j), atol=1e-6)


def test_lasso_strip_mean_and_send_to_are_colour(qtbot, colour_run):
    p = make_panel(qtbot, LatentMapPanel, [colour_run], colour_run, show=True)
    test = colour_run.dataset.test
    c = p.coords
    mid = float(np.median(c[:, 0]))
    lo, hi = c.min(axis=0) - 1, c.max(axis=0) + 1
    left = p.select_polygon(np.array([[lo[0], lo[1]], [mid, lo[1]], [mid, hi[1]], [lo[0], hi[1]]]))
    expected = np.flatnonzero(c[:, 0] <= mid)
    assert left.tolist() == expected.tolist()
    strip = p.selection_strip.image.image
    assert strip.ndim == 3 and strip.shape[2] == 3
    for k in range(3):
        np.testing.assert_allclose(cell(strip, k), rgb(test, int(left[k])), atol=1e-6)
    mean = decoded(colour_run, p.encoded.means[left].mean(0))
    assert p.selection_mean_view.image.image.shape == (H + 2 * PAD, W + 2 * PAD, 3)
    np.testing.assert_allclose(cell(p.selection_mean_view.image.image, 0), mean, atol=1e-5)
    assert "Selection A" in p.selection_caption.text()
    right = p.select_polygon(np.array([[mid, lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [mid, hi[1]]]))
    assert len(right) and p.send_interp_button.isEnabled()
    sent = []
    p.sent.connect(lambda target, image: sent.append((target, image)))
    qtbot.mouseClick(p.send_interp_button, LEFT)
    assert [t for t, _ in sent] == [INTERPOLATION_START, INTERPOLATION_END]
    # The model's layout: (C, H, W) float32 in [0, 1].
    for (_, image), idx in zip(sent, (left, right)):
        assert image.shape == (C, H, W) and image.dtype == np.float32
        with torch.no_grad():
            want = colour_run.model.decode(p.encoded.means[idx].mean(0)[None])[0].numpy()
        np.testing.assert_allclose(image, want, atol=1e-5)


def test_model_layout_turns_display_images_back_to_channels_first():
    grey = np.arange(12, dtype=np.float32).reshape(3, 4) / 12
    assert model_layout(grey).shape == (1, 3, 4)
    np.testing.assert_array_equal(model_layout(grey)[0], grey)
    colour = np.random.default_rng(0).random((3, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(model_layout(colour), colour.transpose(2, 0, 1))


def test_a_registered_method_gets_its_control_and_its_value_reaches_the_fit(qtbot, colour_run,
                                                                           monkeypatch):
    seen: list[lm.MapParams] = []

    def spread(codes, params, progress, should_stop) -> lm.FittedMap:
        seen.append(params)
        return lm.FittedMap("spread", params, codes[:, :2] * params.get("scale"), "",
                            axis_labels=("s 1", "s 2"), placer=lambda q: q[:, :2] * params.scale)

    spec = lm.ParamSpec("scale", "spread by", float, 1.5, 0.5, 4.0, "how far apart the points go",
                        step=0.25)
    monkeypatch.setitem(lm.MAP_METHODS, "spread", lm.MapMethod(
        "spread", "Spread", "the first two dimensions, spread (a test's method)", (spec,), spread,
        background=True))
    p = make_panel(qtbot, LatentMapPanel, [colour_run], colour_run, show=True)
    box = p.controls.param_box("scale")
    assert (box.minimum(), box.maximum(), box.value(), box.singleStep()) == (0.5, 4.0, 1.5, 0.25)
    assert box.toolTip() == spec.tooltip and p.controls.param_labels["scale"].text() == "spread by"
    assert not box.isEnabled()  # PCA reads no "scale"
    codes = p.encoded.means.numpy()
    with qtbot.waitSignal(p.fitting.ready, timeout=FIT_MS):
        p.method_box.setCurrentIndex(p.method_box.findData("spread"))
    assert box.isEnabled() and p.seed_box.isEnabled() and p.apply_button.isEnabled()
    assert seen[-1].get("scale") == 1.5
    np.testing.assert_allclose(p.coords, codes[:, :2] * 1.5, rtol=1e-6)
    box.setValue(2.5)
    with qtbot.waitSignal(p.fitting.ready, timeout=FIT_MS):
        qtbot.mouseClick(p.apply_button, LEFT)
    assert seen[-1].get("scale") == 2.5 and len(seen) == 2
    np.testing.assert_allclose(p.coords, codes[:, :2] * 2.5, rtol=1e-6)
    assert p.plot.getAxis("bottom").labelText == "s 1"
    assert lm.map_key("spread", p.params(), "k") == f"spread_scale2p5-seed{p.seed_box.value()}_k"


def test_each_map_is_framed_to_its_points_and_the_legend_is_above_them(qtbot, colour_run,
                                                                      monkeypatch):
    def far(codes, params, progress, should_stop) -> lm.FittedMap:
        return lm.FittedMap("far", params, codes[:, :2] + 1000.0, "", axis_labels=("f 1", "f 2"))

    monkeypatch.setitem(lm.MAP_METHODS, "far", lm.MapMethod(
        "far", "Far", "the first two dimensions, far from the origin", (), far,
        background=False, deterministic=True))
    p = make_panel(qtbot, LatentMapPanel, [colour_run], colour_run, show=True)
    p.method_box.setCurrentIndex(p.method_box.findData("far"))  # instant: drawn at once
    c = p.coords
    assert c.min() > 900
    (x0, x1), (y0, y1) = p.viewbox.viewRange()
    span = np.ptp(c, axis=0)
    # The view holds the points and not much more (the PCA map's marker was near 0).
    assert x0 <= c[:, 0].min() and c[:, 0].max() <= x1 and x1 - x0 < 1.3 * span[0]
    assert y0 <= c[:, 1].min() and c[:, 1].max() <= y1 and y1 - y0 < 1.3 * span[1]
    assert not p.apply_button.isEnabled() and not p.seed_box.isEnabled()
    # The legend names the classes above the plot, never over its points.
    assert p.map_plot.legend_entries() == ["a", "b", "c"]
    assert p.legend.isVisible()
    assert p.legend.geometry().bottom() < p.plot.geometry().top()


def test_the_sliders_get_room_in_a_small_window(qtbot, colour_run):
    p = make_panel(qtbot, LatentMapPanel, [colour_run], colour_run, show=True)
    p.resize(1000, 650)
    qtbot.waitUntil(lambda: p.height() == 650)
    QApplication.processEvents()
    viewport = p.traversal.scroll.viewport()
    whole = [s for s in p.sliders if s.isVisible()
             and viewport.rect().contains(s.mapTo(viewport, s.rect().bottomRight()))]
    assert len(whole) >= min(MIN_ROWS_SHOWN, len(p.slider_dims))


def test_thumbnail_size_follows_the_image_size():
    assert thumb_px((32, 32)) == (32, 32)  # one screen pixel per image pixel
    assert thumb_px((8, 8)) == thumb_px((24, 24))  # small sprites are not specks
    w, h = thumb_px((256, 128))  # large images shrink, keeping their shape
    assert h == pytest.approx(48) and w == pytest.approx(24)
