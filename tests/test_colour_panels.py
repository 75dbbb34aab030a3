"""The panels with colour and other-size models: a tiny colour dataset built here (coloured discs
and squares), untrained conv models of (3, 32, 32), a (1, 64, 64) grey one, and what the user sees:
RGB mosaics of the right cell size, labels on those cells, colour PNGs, (N, 3, 32, 32) .npy files,
and the Draw tab's Load button in place of the canvas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QPushButton, QTabWidget, QVBoxLayout, QWidget

from helpers import PAD, FakeDialogs, make_draw, make_panel
from latent_explorer.explorer.panels.base import INTERPOLATION_END, PNG_SCALE
from latent_explorer.explorer.panels.conditional import ConditionalPanel
from latent_explorer.explorer.panels.draw import DrawPanel
from latent_explorer.explorer.panels.interpolation import GALLERY_COLS, InterpolationPanel
from latent_explorer.explorer.panels.prior import PriorPanel
from latent_explorer.explorer.panels.reconstructions import ReconstructionsPanel
from latent_explorer.explorer.panels.sweep import SweepPanel
from latent_explorer.explorer.views.panel_host import PanelHost
from latent_explorer.explorer.views.recon_strip import ReconStrip
from latent_explorer.explorer.views.timeline_view import TimelineView
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.models.autoencoders import build_model
from latent_explorer.training.data.datasets import Dataset, Split
from latent_explorer.training.engine.loop import TrainConfig
from latent_explorer.training.explore import drawing
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.render import make_grid, to_uint8
from latent_explorer.training.record.run import Run
from latent_explorer.training.record.timeline import FixedInputs, new_timeline, take_snapshot

LEFT = Qt.MouseButton.LeftButton
COLOURS = np.array([[230, 40, 40], [40, 200, 60], [50, 80, 230]])  # class a, b, c


def shapes(n: int, size: int, channels: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (n, C, size, size) images on black, cycling through the classes: a red disc, a
    green square, a blue disc, each at a random place."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    out = np.zeros((n, channels, size, size), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    r = size // 5
    for i, c in enumerate(labels):
        cx, cy = rng.integers(size // 4, 3 * size // 4, 2)
        mask = ((abs(xx - cx) <= r) & (abs(yy - cy) <= r) if c == 1
                else (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r)
        colour = COLOURS[c] if channels == 3 else [int(COLOURS[c].mean())]
        for k in range(channels):
            out[i, k][mask] = colour[k]
    return torch.from_numpy(out), torch.from_numpy(labels.astype(np.int64))


def make_run(kind: str, size: int = 32, channels: int = 3, name: str | None = None,
             group: str = "") -> Run:
    """An untrained conv model of (channels, size, size) on a dataset of such shapes."""
    ds = Dataset(f"shapes-{channels}x{size}", Split(*shapes(30, size, channels, 0)),
                 Split(*shapes(24, size, channels, 1)), "coloured shapes made by the test",
                 class_names=("a", "b", "c"), likelihood="bernoulli")
    cfg = TrainConfig(kind=kind, nz=4, hidden=(32,), epochs=1, device="cpu", arch="conv")
    torch.manual_seed(0)
    model = build_model(cfg.model_config(**{"n_classes": 3, "image_shape": (channels, size, size)}))
    return Run(name or f"{kind} {channels}×{size}", cfg, model.eval(), state="finished",
               dataset=ds, group=group)


@pytest.fixture(scope="module")
def colour() -> dict[str, Run]:
    return {"vae": make_run("vae"), "cvae": make_run("cvae"),
            "grey64": make_run("vae", size=64, channels=1)}


def cell(grid: np.ndarray, r: int, c: int, h: int = 32, w: int = 32) -> np.ndarray:
    """The image at row r, column c of a mosaic of h×w images."""
    return grid[PAD + r * (h + PAD): PAD + r * (h + PAD) + h, PAD + c * (w + PAD): PAD + c * (w + PAD) + w]


def hwc(x) -> np.ndarray:
    """(C, H, W) as a display image (H, W, 3)."""
    return np.asarray(x, np.float32).transpose(1, 2, 0)


def mosaic_shape(rows: int, cols: int, h: int = 32, colour: bool = True) -> tuple[int, ...]:
    return (rows * (h + PAD) + PAD, cols * (h + PAD) + PAD) + ((3,) if colour else ())


# -- the image view ------------------------------------------------------------------------------
def test_image_view_draws_rgb_in_its_colours_and_places_labels_by_the_cells_size(qtbot):
    v = ImageView(min_height=70)
    qtbot.addWidget(v)
    v.resize(400, 200)
    v.show()
    qtbot.waitExposed(v)
    images = np.zeros((2, 32, 32, 3), np.float32)
    images[0, :, :, 0] = 1.0  # pure red
    images[1, :, :, 1] = 1.0  # pure green
    grid = v.set_images(images, ncols=2)
    assert grid.shape == mosaic_shape(1, 2) and v.image.image.shape == grid.shape
    assert v.is_colour and v.cell == (32, 32)
    shot = v.grab().toImage()
    pixels = [shot.pixelColor(x, y) for x in range(0, shot.width(), 4)
              for y in range(0, shot.height(), 4)]
    red = [p for p in pixels if p.red() > 200 and p.green() < 60 and p.blue() < 60]
    green = [p for p in pixels if p.green() > 200 and p.red() < 60 and p.blue() < 60]
    assert len(red) > 20 and len(green) > 20  # drawn in colour, not as a 3-wide grey image
    v.set_cell_labels(["x", "y"])
    assert v.label_positions() == [(PAD + 16, PAD + 32), (PAD + 34 + 16, PAD + 32)]
    # A click in the second cell finds it.
    scene = v.image.mapToScene(QPointF(PAD + 34 + 10, PAD + 10))
    assert v.cell_at_scene(scene) == 1
    # Heights follow the cells: 28-pixel digits as before, 64-pixel images 64/28 as tall.
    assert v.minimumHeight() == round(70 * 32 / 28)
    v.set_images(np.zeros((3, 28, 28), np.float32), ncols=3)
    assert v.minimumHeight() == 70 and not v.is_colour and v.cell == (28, 28)
    v.set_images(np.zeros((3, 64, 64), np.float32), ncols=3)
    assert v.minimumHeight() == 160


def test_an_empty_view_says_what_it_will_show(qtbot):
    v = ImageView()
    qtbot.addWidget(v)
    v.set_placeholder("nearest test images")
    assert v.placeholder_text == "nearest test images"
    v.set_images(np.ones((1, 28, 28), np.float32), ncols=1)
    assert v.placeholder_text is None
    v.clear_images()
    assert v.placeholder_text == "nearest test images" and not v.has_image


# -- reconstructions, prior, conditional ---------------------------------------------------------
def test_reconstructions_in_colour_with_errors_on_each_cell(qtbot, colour, runs):
    run = colour["cvae"]
    p = make_panel(qtbot, ReconstructionsPanel, [run, runs["vae"]], run)
    grid = p.view.image.image
    assert grid.shape == mosaic_shape(2, 8)
    x, y = explore.split_images(run.dataset.test, np.arange(8))
    np.testing.assert_allclose(cell(grid, 0, 3), hwc(x[3]), atol=1e-6)
    with torch.no_grad():
        rec = run.model.decode(run.model.encode(x, y).mean, y)
    np.testing.assert_allclose(cell(grid, 1, 5), hwc(rec[5]), atol=1e-5)
    errors = p.results[0][1].errors
    assert p.view.label_texts() == [f"{e:.3f}" for e in errors]
    assert p.view.label_positions()[2] == (PAD + 2 * 34 + 16, PAD + 34 + 32)
    assert f"mean BCE/pixel {errors.mean():.4f}" in p.caption.text()
    # A 28×28 grey run cannot reconstruct these images: said, not drawn, not raised.
    p.compare.select_run(runs["vae"])
    assert p.view.grid.shape == mosaic_shape(2, 8) and len(p.results) == 1
    assert "Not compared with" in p.caption.text() and "28×28 grey" in p.caption.text()


def test_prior_samples_in_colour_export_as_rgb_png_and_nchw_npy(qtbot, colour, tmp_path):
    run = colour["vae"]
    p = make_panel(qtbot, PriorPanel, [run], run)
    assert p.views[0].grid.shape == mosaic_shape(4, 4)
    expected = explore.prior_grid(run.model, 4, 1.0, 0)
    assert expected.shape == (16, 32, 32, 3)
    np.testing.assert_allclose(p.views[0].grid, make_grid(expected, ncols=4), atol=1e-6)
    assert "N×3×32×32" in p.data_filter and "28" not in p.data_filter
    assert "3×32×32" in p.export_button.toolTip()
    p.export_data(tmp_path / "s.npy")
    a = np.load(tmp_path / "s.npy")
    assert a.shape == (16, 3, 32, 32) and a.dtype == np.float32
    np.testing.assert_allclose(a.transpose(0, 2, 3, 1), expected, atol=1e-6)
    p.export_data(tmp_path / "s.png")
    with Image.open(tmp_path / "s.png") as im:
        assert im.mode == "RGB"
        png = np.asarray(im)
    grid = p.views[0].grid
    assert png.shape == (grid.shape[0] * PNG_SCALE, grid.shape[1] * PNG_SCALE, 3)
    np.testing.assert_array_equal(png[::PNG_SCALE, ::PNG_SCALE], to_uint8(grid))
    assert p.save_png(tmp_path / "grid.png") is not None
    with Image.open(tmp_path / "grid.png") as im:
        assert im.mode == "RGB" and im.size == (grid.shape[1] * PNG_SCALE, grid.shape[0] * PNG_SCALE)


def test_conditional_grids_of_a_colour_cvae(qtbot, colour, tmp_path):
    run = colour["cvae"]
    p = make_panel(qtbot, ConditionalPanel, [run], run)
    assert not p.is_showing_hint and len(p.digits.buttons()) == 3
    # The digits' buttons went at once: no 0–9 left drawn over the caption.
    shown = [b.text() for b in p.findChildren(QPushButton) if b.isCheckable() and b.isVisibleTo(p)]
    assert shown == ["a", "b", "c"]
    assert p.grid.shape == mosaic_shape(6, 6)
    p.k.setValue(4)
    p.all_classes.setChecked(True)
    assert p.grid.shape == mosaic_shape(3, 4)
    z = explore.prior_latents(run.model, 4, 1.0, 0)
    for c in range(3):
        np.testing.assert_allclose(cell(p.grid, c, 2), explore.decode(run.model, z, c)[2], atol=1e-6)
    p.export_data(tmp_path / "c.npy")
    assert np.load(tmp_path / "c.npy").shape == (12, 3, 32, 32)


# -- interpolation -------------------------------------------------------------------------------
def test_interpolation_in_colour_with_a_gallery_click_and_a_sent_image(qtbot, colour):
    run = colour["vae"]
    p = make_panel(qtbot, InterpolationPanel, [run], run, show=True)
    strip = p.views[0].grid
    assert strip.shape == mosaic_shape(1, 12)
    assert p.gallery.grid.shape == mosaic_shape(2, GALLERY_COLS)
    assert p.scrub_view.grid.shape == mosaic_shape(1, 1)
    # A click on the gallery's second row, fourth cell: 32-pixel cells, not 28.
    g = p.gallery
    scene = g.image.mapToScene(QPointF(g.cell_x(3), g.cell_middle(1)))
    pos = g.mapFromScene(scene)
    qtbot.mouseClick(g.viewport(), LEFT, pos=QPoint(pos.x(), pos.y()))
    assert p.i0 == int(p.gallery_indices[GALLERY_COLS + 3])
    x, _ = explore.split_images(run.dataset.test, [p.i0])
    np.testing.assert_allclose(cell(p.views[0].grid, 0, 0), hwc(x[0]), atol=1e-6)
    # An image sent from another tab, as the model takes it (C, H, W), becomes the end.
    sent = run.dataset.test.float_images()[5].numpy()
    p.receive_image(INTERPOLATION_END, sent)
    np.testing.assert_allclose(cell(p.views[0].grid, 0, 11), hwc(sent), atol=1e-6)
    assert "end the image sent from another tab" in p.captions[0].text()
    # …and as a display array (H, W, 3), as a colour view holds it.
    p.receive_image(INTERPOLATION_END, hwc(sent)[::-1].copy())
    np.testing.assert_allclose(cell(p.views[0].grid, 0, 11), hwc(sent)[::-1], atol=1e-6)


# -- the sweep's comparison grid ------------------------------------------------------------------
def test_sweep_grid_in_colour_with_row_labels_on_its_rows(qtbot, tmp_path):
    members = [make_run("vae", name=f"b{i}", group="sweep colour") for i in range(2)]
    p = make_panel(qtbot, SweepPanel, members, members[0])
    grid = p.grid_view.grid
    assert grid.shape == mosaic_shape(3, 17)  # originals and one row per member
    assert p.row_label_texts()[0] == "test images" and len(p.row_label_texts()) == 3
    ys = p.row_label_heights()
    assert ys == [PAD + r * 34 + 16 for r in range(3)]
    x, _ = explore.split_images(members[0].dataset.test, [4])
    np.testing.assert_allclose(cell(grid, 0, 4), hwc(x[0]), atol=1e-6)


# -- the Training tab's strips -------------------------------------------------------------------
def test_recon_strip_and_timeline_show_colour_at_their_size(qtbot, colour):
    run = colour["cvae"]
    strip = ReconStrip()
    qtbot.addWidget(strip)
    line = strip.fontMetrics().height()
    idx = explore.fixed_test_indices(run.dataset.test.labels.numpy(), 3)
    grid = explore.reconstruction_grid(run.model, run.dataset.test, idx)
    strip.show_grid(run.id, grid, "training")
    assert strip.view.is_colour and strip.view.cell == (32, 32)
    assert strip.view.image.image.shape == mosaic_shape(2, 3)
    assert strip.view.maximumHeight() == round(8 * line * 32 / 28)
    grey = np.zeros(mosaic_shape(2, 3, h=28, colour=False), np.float32)
    strip.show_grid(run.id, grey, "a digit run")
    assert strip.view.maximumHeight() == 8 * line and strip.view.cell == (28, 28)

    tl = new_timeline(run.model, run.dataset.test, n_images=3)
    tl.add(take_snapshot(run.model, FixedInputs.from_timeline(tl, run.dataset.test, run.model), 10, 1.0))
    run.timeline = tl
    tv = TimelineView()
    qtbot.addWidget(tv)
    tv.set_run(run)
    shown = tv.view.image.image
    assert shown.ndim == 3 and shown.shape[2] == 3 and tv.view.cell == (32, 32)
    np.testing.assert_allclose(cell(shown, 0, 1), hwc(tl.originals[1]) / 255, atol=1e-6)
    run.timeline = None


# -- the Draw tab --------------------------------------------------------------------------------
def test_draw_tab_offers_loading_for_colour_and_other_sizes_and_the_canvas_for_digits(
        qtbot, colour, runs):
    p = make_draw(qtbot, [colour["vae"], runs["vae"]], colour["vae"])
    assert p.image_mode and p.input_stack.currentWidget() is p.load_page
    assert p.load_image_button.isVisible() and not p.canvas.isVisible()
    assert not p.load_button.isVisible()  # one Load button, not two
    assert ("Drawing is for 28×28 grey digits; this model takes 32×32 colour images: load one "
            "instead") in p.load_reason.text()
    assert "Load an image" in p.message.text()
    p.set_run(colour["grey64"])
    assert p.image_mode and "takes 64×64 grey images" in p.load_reason.text()
    p.set_run(runs["vae"])  # a 28×28 grey digit model: the canvas again
    assert not p.image_mode and p.canvas.isVisible() and not p.load_image_button.isVisible()
    assert p.load_button.isVisible()  # the canvas's own row loads a digit
    assert "Draw a digit" in p.message.text()
    # Nothing drawn: each view says what it will show, none is an unlabelled black box.
    assert p.recon_view.placeholder_text and p.neighbour_view.placeholder_text
    assert p.input_view.placeholder_text and p.recon_caption.text() and p.neighbour_caption.text()


def test_a_png_loaded_through_the_windows_dialog_is_fitted_and_reconstructed(qtbot, colour,
                                                                            tmp_path):
    run = colour["cvae"]
    photo = np.zeros((90, 120, 3), np.uint8)  # wider than tall: centre-cropped to a square
    photo[30:60, 50:80] = (40, 200, 60)
    png = tmp_path / "photo.png"
    Image.fromarray(photo).save(png)
    window = QWidget()  # the window's dialogs seam: what the Draw tab asks for a file
    window.dialogs = FakeDialogs(path=str(png))
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    p = DrawPanel()
    layout.addWidget(p)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    p.set_runs([run])
    p.set_run(run)
    qtbot.mouseClick(p.load_image_button, LEFT)
    assert window.dialogs.asked_images == 1
    qtbot.waitUntil(lambda: p.recon_view.has_image, timeout=5000)
    fitted = drawing.fit_image(photo, (3, 32, 32))
    np.testing.assert_allclose(cell(p.input_view.grid, 0, 0), hwc(fitted), atol=1e-6)
    a = drawing.analyse(run.model, fitted)
    assert p.recon_view.grid.shape == mosaic_shape(1, 2)
    np.testing.assert_allclose(cell(p.recon_view.grid, 0, 1), a.reconstruction, atol=1e-5)
    assert p.recon_view.label_texts() == [f"{a.error:.3f}"]
    assert p.restyle_view.grid.shape == mosaic_shape(1, 3)
    assert p.neighbour_view.grid.shape == mosaic_shape(1, 5)
    assert p.send_button.isEnabled()
    p.save_png(tmp_path / "draw.png")
    with Image.open(tmp_path / "draw.png") as im:
        assert im.mode == "RGB"
    # An unreadable file is said in the tab.
    window.dialogs.path = str(tmp_path / "missing.png")
    qtbot.mouseClick(p.load_image_button, LEFT)
    assert "missing.png: no such file" in p.message.text()


def test_a_loaded_image_sent_to_the_interpolation_tab(qtbot, colour, tmp_path):
    run = colour["vae"]
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    host = PanelHost(tabs)
    host.tab_requested.connect(tabs.setCurrentWidget)
    draw, interp = DrawPanel(), InterpolationPanel()
    for panel in (draw, interp):
        host.add(panel)
    host.update([run], run)
    tabs.resize(1200, 800)
    tabs.show()
    qtbot.waitExposed(tabs)
    image = run.dataset.test.float_images()[2].numpy()
    Image.fromarray((hwc(image) * 255).round().astype(np.uint8)).save(tmp_path / "x.png")
    assert draw.load_file(str(tmp_path / "x.png"))
    draw.send_actions[INTERPOLATION_END].trigger()
    qtbot.waitUntil(lambda: tabs.currentWidget() is interp, timeout=5000)
    np.testing.assert_allclose(cell(interp.views[0].grid, 0, 11), hwc(image), atol=1 / 255)


# -- fitting images to a model (training/explore/drawing.py) ---------------------------------------
def test_fit_image_resizes_crops_and_converts_as_the_training_data():
    a = np.zeros((2, 4, 3), np.uint8)
    a[:, :, 0] = np.arange(4) * 60  # red ramp left to right
    # Already 2 high: no resize, the centre 2×2 kept, as (C, H, W) in [0, 1].
    out = drawing.fit_image(a, (3, 2, 2))
    assert out.shape == (3, 2, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, a[:, 1:3].transpose(2, 0, 1) / 255, atol=1e-7)
    # Grey by ITU-R 601-2 luma: pure red is 0.299 · 255 = 76.
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    np.testing.assert_allclose(drawing.fit_image(red, (1, 4, 4)), np.full((1, 4, 4), 76 / 255))
    # Grey copied to every channel; a transparent pixel on black; scaled to cover.
    grey = np.full((8, 8), 200, np.uint8)
    np.testing.assert_allclose(drawing.fit_image(grey, (3, 4, 4)), np.full((3, 4, 4), 200 / 255))
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:2, :, 3] = 255  # the top half opaque white, the bottom half transparent
    out = drawing.fit_image(rgba, (1, 4, 4))
    np.testing.assert_allclose(out[0, :2], 1.0)
    np.testing.assert_allclose(out[0, 2:], 0.0)
    with pytest.raises(drawing.DrawingError, match="shape"):
        drawing.fit_image(np.zeros((4, 4, 5)), (3, 4, 4))


def test_interpolation_names_the_end_images_classes(qtbot, colour):
    """'start image #0 (b)': the dataset's class name, not its number, in the caption (and a
    CVAE's label too)."""
    run = colour["cvae"]
    p = make_panel(qtbot, InterpolationPanel, [run], run, show=True)
    names = run.dataset.class_names
    labels = run.dataset.test.labels
    text = p.captions[0].text()
    assert f"image #{p.i0} ({names[int(labels[p.i0])]})" in text
    assert f"image #{p.i1} ({names[int(labels[p.i1])]})" in text
    assert f"decoded with the start label {names[p.y0]}" in text
