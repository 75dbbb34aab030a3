"""The Draw tab, offscreen, driven with real mouse events on small trained AE, VAE and CVAE runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QTabWidget

from helpers import LEFT, canvas_point, draw_seven, grid_cell, grid_shape, make_draw, wait_drawn
from latent_explorer.explorer.views.panel_host import PanelHost
from latent_explorer.explorer.panels.base import (
    INTERPOLATION_END,
    INTERPOLATION_START,
    PNG_SCALE,
    TRAVERSAL_START,
)
from latent_explorer.explorer.panels.draw import DrawPanel
from latent_explorer.explorer.panels.interpolation import InterpolationPanel
from latent_explorer.explorer.panels.latent_map import LatentMapPanel
from latent_explorer.training.explore import drawing
from latent_explorer.training.explore import panel_math as explore


def enlarged(image28: np.ndarray, factor: int = 8) -> np.ndarray:
    """A test digit drawn back at a larger size (uint8, white on black), off-centre."""
    big = np.kron(image28, np.ones((factor, factor)))
    out = np.zeros((300, 300))
    out[20 : 20 + big.shape[0], 40 : 40 + big.shape[1]] = big
    return (out * 255).astype(np.uint8)


# -- live while drawing -------------------------------------------------------------------------
def test_a_stroke_updates_the_input_reconstruction_and_code(qtbot, runs, all_runs):
    run = runs["vae"]
    p = make_draw(qtbot, all_runs, run)
    assert p.message.isVisible() and "Draw a digit" in p.message.text()
    draw_seven(qtbot, p.canvas)
    wait_drawn(qtbot, p)
    assert not p.message.isVisible()
    x = drawing.preprocess(p.canvas.image())
    np.testing.assert_allclose(grid_cell(p.input_view.grid, 0, 0), x, atol=1e-6)
    assert p.recon_view.grid.shape == grid_shape(1, 2)  # input, reconstruction
    expected = drawing.analyse(run.model, x)
    np.testing.assert_allclose(grid_cell(p.recon_view.grid, 0, 1), expected.reconstruction, atol=1e-5)
    assert p.recon_view.label_texts() == [f"{expected.error:.3f}"]
    assert f"BCE/pixel {expected.error:.3f}" in p.recon_caption.text()
    # The code, in the traversal order, σ as error bars.
    usage = explore.dimension_usage(explore.encode_split(run.model, run.dataset.test))
    np.testing.assert_allclose(p.code_bars.opts["height"], expected.mean[usage.order], atol=1e-5)
    assert p.sigma_bars.isVisible()
    np.testing.assert_allclose(p.sigma_bars.opts["height"],
                               2 * np.exp(expected.log_sigma[usage.order]), rtol=1e-5)
    # A second stroke changes what is shown; "compare with" adds the other run's reconstruction.
    before = p.recon_view.grid.copy()
    qtbot.mousePress(p.canvas, LEFT, pos=canvas_point(p.canvas, 0.3, 0.5))
    qtbot.mouseMove(p.canvas, canvas_point(p.canvas, 0.7, 0.5))
    qtbot.mouseRelease(p.canvas, LEFT, pos=canvas_point(p.canvas, 0.7, 0.5))
    qtbot.waitUntil(lambda: not np.array_equal(p.recon_view.grid, before), timeout=5000)
    p.compare.select_run(runs["ae"])
    qtbot.waitUntil(lambda: p.recon_view.grid.shape == grid_shape(1, 3), timeout=5000)
    assert runs["ae"].name in p.recon_caption.text() and len(p.recon_view.label_texts()) == 2


def test_a_cvae_shows_ten_restyles_and_its_guess(qtbot, runs, all_runs):
    run = runs["cvae"]
    p = make_draw(qtbot, all_runs, run)
    assert p.cvae_box.isVisible()
    draw_seven(qtbot, p.canvas)
    qtbot.waitUntil(lambda: p.restyle_view.has_image, timeout=5000)
    assert p.restyle_view.grid.shape == grid_shape(1, 10)
    a = drawing.analyse(run.model, drawing.preprocess(p.canvas.image()))
    assert f"thinks it is: <b>{run.class_names[a.guess]}</b>" in p.guess_label.text()
    probs = np.asarray(p.score_bars.opts["height"])
    np.testing.assert_allclose(probs, drawing.label_probabilities(a.scores), atol=1e-9)
    assert int(np.argmax(probs)) == a.guess and p.scores_label.text().startswith("Likeliest: ")
    assert len(p.scores_label.toolTip().splitlines()) == 11  # a heading, then every class
    restyles = [grid_cell(p.restyle_view.grid, 0, c) for c in range(10)]
    np.testing.assert_allclose(restyles, a.restyled, atol=1e-5)
    assert min(np.abs(restyles[i] - restyles[j]).mean()
               for i in range(10) for j in range(i)) > 0.002  # each class drawn differently


def test_a_real_test_digit_lands_near_its_own_code_with_neighbours(qtbot, runs, all_runs):
    run = runs["vae"]
    test = run.dataset.test
    i = 7
    x, y = explore.split_images(test, [i])
    p = make_draw(qtbot, all_runs, run)
    p.canvas.set_image(enlarged(x[0, 0].numpy()))
    wait_drawn(qtbot, p)
    encoded = explore.encode_split(run.model, test)
    m = explore.latent_map(encoded)
    own = m.coords[i]
    assert p.marker.data["x"].size == 1
    d_marker = np.hypot(*(np.asarray(p.map_position) - own))
    d_all = np.hypot(*(m.coords - own).T)
    assert d_marker < np.percentile(d_all, 5)  # nearer its own code than 95 % of the test codes
    assert len(p.neighbours) == 5
    label = run.class_names[int(y[0])]
    assert p.neighbour_view.grid.shape == grid_shape(1, 5)
    texts = p.neighbour_view.label_texts()
    assert texts == [run.class_names[int(test.labels[j])] for j in p.neighbours]
    assert label in texts and ", ".join(texts) in p.neighbour_caption.text()
    np.testing.assert_allclose(p.neighbour_marks.data["x"], m.coords[p.neighbours, 0], atol=1e-5)


def test_an_empty_canvas_shows_a_hint_not_an_error(qtbot, runs, all_runs):
    p = make_draw(qtbot, all_runs, runs["cvae"])
    assert p.message.isVisible() and not p.recon_view.has_image
    assert not p.send_button.isEnabled() and p.export_grid() is None
    draw_seven(qtbot, p.canvas)
    wait_drawn(qtbot, p)
    assert p.send_button.isEnabled()
    qtbot.mouseClick(p.undo_button, LEFT)
    qtbot.waitUntil(lambda: p.message.isVisible() and not p.recon_view.has_image, timeout=5000)
    assert "Draw a digit" in p.message.text() and not p.restyle_view.has_image
    assert p.guess_label.text() == "" and len(p.code_bars.opts["height"]) == 0
    draw_seven(qtbot, p.canvas)
    wait_drawn(qtbot, p)
    qtbot.mouseClick(p.clear_button, LEFT)
    qtbot.waitUntil(lambda: not p.recon_view.has_image, timeout=5000)
    assert p.message.isVisible() and not p.neighbour_view.has_image


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_an_ae_hides_sigma_and_a_non_cvae_the_cvae_parts(qtbot, runs, all_runs, kind):
    p = make_draw(qtbot, all_runs, runs[kind])
    draw_seven(qtbot, p.canvas)
    wait_drawn(qtbot, p)
    assert not p.cvae_box.isVisible() and not p.restyle_view.has_image
    assert p.sigma_bars.isVisible() == (kind != "ae")
    assert ("±σ" in p.code_caption.text()) == (kind != "ae")
    assert len(p.code_bars.opts["height"]) == runs[kind].config.nz


# -- input from files and the clipboard ---------------------------------------------------------
def test_load_and_paste_put_an_image_on_the_canvas(qtbot, runs, all_runs, tmp_path):
    run = runs["vae"]
    digit = explore.split_images(run.dataset.test, [3])[0][0, 0].numpy()
    png = tmp_path / "digit.png"
    Image.fromarray(255 - enlarged(digit)).save(png)  # dark ink on white, as a scan
    p = make_draw(qtbot, all_runs, run)
    p.ask_image_path = lambda: str(png)
    qtbot.mouseClick(p.load_button, LEFT)
    wait_drawn(qtbot, p)
    assert np.corrcoef(grid_cell(p.input_view.grid, 0, 0).ravel(), digit.ravel())[0, 1] > 0.9
    p.ask_image_path = lambda: str(tmp_path / "missing.png")
    qtbot.mouseClick(p.load_button, LEFT)
    assert p.message.isVisible() and "missing.png: no such file" in p.message.text()

    qtbot.mouseClick(p.clear_button, LEFT)
    qtbot.waitUntil(lambda: not p.recon_view.has_image, timeout=5000)
    a = enlarged(digit)
    QApplication.clipboard().setImage(QImage(a.data, a.shape[1], a.shape[0], a.shape[1],
                                             QImage.Format.Format_Grayscale8).copy())
    qtbot.mouseClick(p.paste_button, LEFT)
    wait_drawn(qtbot, p)
    assert np.corrcoef(grid_cell(p.input_view.grid, 0, 0).ravel(), digit.ravel())[0, 1] > 0.9
    QApplication.clipboard().clear()
    assert not p.paste()
    assert "no image" in p.message.text()


# -- send to other tabs ---------------------------------------------------------------------------
@pytest.fixture
def host(qtbot, all_runs, runs):
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    tabs.resize(1200, 800)
    h = PanelHost(tabs)
    h.tab_requested.connect(tabs.setCurrentWidget)
    panels = [DrawPanel(), InterpolationPanel(), LatentMapPanel()]
    for panel in panels:
        h.add(panel)
    h.update(all_runs, runs["cvae"])
    tabs.show()
    qtbot.waitExposed(tabs)
    return h


def test_send_to_reaches_the_interpolation_and_latent_map_tabs(qtbot, host, runs):
    draw, interp, lmap = host.panels
    tabs, run = host.tabs, runs["cvae"]
    draw_seven(qtbot, draw.canvas)
    wait_drawn(qtbot, draw)
    x = draw.input_image.copy()
    guess = drawing.classify(run.model, x)[0]

    draw.send_actions[INTERPOLATION_END].trigger()
    qtbot.waitUntil(lambda: tabs.currentWidget() is interp, timeout=5000)
    strip = interp.views[0].grid
    np.testing.assert_allclose(grid_cell(strip, 0, 11), x, atol=1e-6)  # the last image: the drawing
    assert "end the image sent from another tab (read as" in interp.captions[0].text()
    assert interp.y1 == guess
    start = explore.split_images(run.dataset.test, [interp.i0])[0][0, 0].numpy()
    np.testing.assert_allclose(grid_cell(strip, 0, 0), start, atol=1e-6)  # the start is untouched
    tabs.setCurrentWidget(draw)
    draw.send_actions[INTERPOLATION_START].trigger()
    qtbot.waitUntil(lambda: tabs.currentWidget() is interp, timeout=5000)
    np.testing.assert_allclose(grid_cell(interp.views[0].grid, 0, 0), x, atol=1e-6)
    interp.set_endpoints(i0=5)  # a test image again: the test-index path is intact
    np.testing.assert_allclose(grid_cell(interp.views[0].grid, 0, 0),
                               explore.split_images(run.dataset.test, [5])[0][0, 0].numpy(), atol=1e-6)
    assert "start image #5" in interp.captions[0].text()

    tabs.setCurrentWidget(draw)
    draw.send_actions[TRAVERSAL_START].trigger()
    qtbot.waitUntil(lambda: tabs.currentWidget() is lmap, timeout=5000)
    qtbot.waitUntil(lambda: lmap.traversal_view.has_image, timeout=5000)
    np.testing.assert_allclose(grid_cell(lmap.preview.grid, 0, 0), x, atol=1e-6)
    assert "Your drawing" in lmap.preview_caption.text() and lmap.selected is None
    a = drawing.analyse(run.model, x)
    expected = lmap.map.project(torch.from_numpy(a.mean))[0]
    np.testing.assert_allclose([lmap.marker.data["x"][0], lmap.marker.data["y"][0]], expected,
                               atol=1e-4)
    np.testing.assert_allclose(grid_cell(lmap.traversal_view.grid, 0, 0),
                               explore.decode(run.model, torch.from_numpy(a.mean), a.guess)[0],
                               atol=1e-4)
    qtbot.mouseClick(lmap.reset_button, LEFT)  # reset goes back to the drawing's code
    assert "Your drawing" in lmap.preview_caption.text()


def test_an_image_no_tab_takes_is_said_not_raised(qtbot, host):
    draw = host.panels[0]
    with qtbot.waitSignal(host.failed, timeout=1000) as blocker:
        assert host.send(draw, "nowhere", np.zeros((28, 28), np.float32)) is None
    assert "nowhere" in blocker.args[0]


# -- export ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, rows", [("vae", 1), ("cvae", 2)])
def test_png_export_writes_input_reconstructions_and_restyles(qtbot, runs, all_runs, tmp_path,
                                                             kind, rows):
    p = make_draw(qtbot, all_runs, runs[kind])
    draw_seven(qtbot, p.canvas)
    wait_drawn(qtbot, p)
    out = tmp_path / "drawing"
    p.ask_save_path = lambda suggested: str(out)
    qtbot.mouseClick(p.save_button, LEFT)
    with Image.open(tmp_path / "drawing.png") as img:
        w, h = img.size
    one_row = grid_shape(1, 1)[0]
    expected = (one_row, grid_shape(1, 2)[1]) if rows == 1 else (  # input | reconstruction
        2 * one_row + 6, grid_shape(1, 10)[1])  # then the ten restyles, 6 px below
    assert (h, w) == (expected[0] * PNG_SCALE, expected[1] * PNG_SCALE)
