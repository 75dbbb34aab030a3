"""The Latent map tab's UMAP / t-SNE picker, cache, lasso and thumbnails, and the Draw tab's
star on that map: real widgets driven with qtbot, offscreen, on the small trained runs."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, Qt, Signal

from helpers import (LEFT, drag_lasso, draw_seven, fresh, gaps, make, scatter_points, send_mouse,
                     to_pixel)
from latent_explorer.explorer.panels.base import INTERPOLATION_END, INTERPOLATION_START
from latent_explorer.explorer.panels.draw import DrawPanel
from latent_explorer.explorer.panels.latent_map import LatentMapPanel
from latent_explorer.explorer.widgets.image_view import PAD
from latent_explorer.training.explore import latent_methods as lm
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.record.run import Run

FIT_MS = 120_000  # the first UMAP in a process compiles numba code (~20 s on 2 busy cores)


class _Ended(QObject):
    ended = Signal(str)  # "" when fitted, else the runner's failure message


@contextmanager
def fitting(qtbot, runner):
    """Wait for the runner's fit: `fitted` passes, `failed` ends the wait at once and fails."""
    relay = _Ended(runner)
    runner.fitted.connect(lambda _map: relay.ended.emit(""))
    runner.failed.connect(relay.ended.emit)
    with qtbot.waitSignal(relay.ended, timeout=FIT_MS) as blocker:
        yield
    assert blocker.args == [""], f"the map could not be made: {blocker.args[0]}"


def choose(panel: LatentMapPanel, method: str) -> None:
    panel.method_box.setCurrentIndex(panel.method_box.findData(method))


@pytest.fixture
def vae(runs) -> Run:
    return fresh(runs["vae"])


def first_two_dims(codes, params, progress, should_stop) -> lm.FittedMap:
    """A map method for the tests: the codes' first two dimensions. Instant, so the picker's
    flow is tested without a second real fit (UMAP's first fit compiles numba code, ~40 s)."""
    progress(0.5, "reading two dimensions")
    if should_stop():
        raise lm.MapCancelled()
    return lm.FittedMap("dims", params, np.ascontiguousarray(codes[:, :2], np.float32), "",
                        axis_labels=("z 1", "z 2"), placer=lambda q: q[:, :2])


@pytest.fixture
def dims_method(monkeypatch):
    """'dims' in the map-method registry for this test only, fitted in the background as UMAP
    and t-SNE are."""
    monkeypatch.setitem(lm.MAP_METHODS, "dims", lm.MapMethod(
        "dims", "Dims", "the first two latent dimensions (a test's method)", (),
        first_two_dims, background=True))


def pick_and_wait_for_the_fit(qtbot, p, method: str, axis: str) -> np.ndarray:
    """Pick `method`: it fits in the background while the old map stays, then redraws."""
    with fitting(qtbot, p.runner):
        choose(p, method)
        assert p.progress.isVisible() and p.cancel_button.isVisible()
        assert p.plot.getAxis("bottom").labelText != axis  # the old map stays meanwhile
    assert not p.progress.isVisible()
    assert p.plot.getAxis("bottom").labelText == axis
    assert "computed in" in p.method_status.text()
    return scatter_points(p)


def test_picking_tsne_then_another_method_fits_in_the_background_and_redraws_the_map(
        qtbot, vae, dims_method):
    p = make(qtbot, LatentMapPanel, vae)
    assert p.method_box.currentText() == "PCA" and "PC 1" in p.plot.getAxis("bottom").labelText
    pca = scatter_points(p).copy()
    codes = p.encoded.means.numpy()
    drawn = pick_and_wait_for_the_fit(qtbot, p, "tsne", "t-SNE 1")
    assert not np.allclose(drawn, pca)
    # The map keeps neighbourhoods at least as well as PCA did.
    assert lm.trustworthiness(codes, drawn) >= lm.trustworthiness(codes, pca) - 0.01
    # From one background map to another: t-SNE's stays shown until the next is fitted.
    drawn = pick_and_wait_for_the_fit(qtbot, p, "dims", "z 1")
    np.testing.assert_allclose(drawn, codes[:, :2], atol=1e-6)
    choose(p, "pca")  # back at once, no fit
    np.testing.assert_allclose(scatter_points(p), pca)
    assert not p.progress.isVisible()


@pytest.mark.slow  # the first UMAP in a process compiles numba code (~40 s)
def test_picking_umap_fits_it_in_the_background_and_keeps_neighbourhoods(qtbot, vae):
    p = make(qtbot, LatentMapPanel, vae)
    pca = scatter_points(p).copy()
    drawn = pick_and_wait_for_the_fit(qtbot, p, "umap", "UMAP 1")
    assert not np.allclose(drawn, pca)
    codes = p.encoded.means.numpy()
    assert lm.trustworthiness(codes, drawn) >= lm.trustworthiness(codes, pca) - 0.01


def test_cancel_stops_the_fit_and_keeps_the_map_shown(qtbot, vae):
    p = make(qtbot, LatentMapPanel, vae)
    pca = scatter_points(p).copy()
    with qtbot.waitSignal(p.runner.cancelled, timeout=FIT_MS):
        choose(p, "tsne")
        qtbot.mouseClick(p.cancel_button, LEFT)
    assert not p.progress.isVisible() and not p.cancel_button.isVisible()
    assert "Cancelled" in p.method_status.text()
    assert p.method_box.currentText() == "PCA"
    np.testing.assert_allclose(scatter_points(p), pca)


def test_a_cache_beside_the_checkpoint_makes_reopening_instant_and_a_corrupt_one_is_ignored(
        qtbot, runs, tmp_path):
    path = tmp_path / "vae.safetensors"
    first = make(qtbot, LatentMapPanel, fresh(runs["vae"], path=path, saved=True))
    with fitting(qtbot, first.runner):
        choose(first, "tsne")
    assert (tmp_path / "vae.maps.npz").is_file()
    expected = scatter_points(first).copy()
    # Reopened (a new run from the same file): the map is drawn as the method is picked.
    again = make(qtbot, LatentMapPanel, fresh(runs["vae"], path=path, saved=True))
    with fitting(qtbot, again.runner):  # its transform, warmed
        choose(again, "tsne")
        assert not again.progress.isVisible()
        np.testing.assert_allclose(scatter_points(again), expected)
    # A corrupt cache: fitted afresh, no error.
    (tmp_path / "vae.maps.npz").write_bytes(b"PK\x03\x04 not a zip")
    third = make(qtbot, LatentMapPanel, fresh(runs["vae"], path=path, saved=True))
    with fitting(qtbot, third.runner):
        choose(third, "tsne")
        assert third.progress.isVisible()
    assert "computed in" in third.method_status.text()
    np.testing.assert_allclose(scatter_points(third), expected, atol=1e-3)  # same seed


def test_lasso_shows_the_selection_and_sends_two_means_to_interpolation(qtbot, vae):
    p = make(qtbot, LatentMapPanel, vae)
    qtbot.mouseClick(p.lasso_button, LEFT)
    assert p.lasso_button.isChecked()
    pts = scatter_points(p)
    labels = vae.dataset.test.labels.numpy()
    (x0, x1), (y0, y1) = gaps(pts[:, 0], [5, 50]), gaps(pts[:, 1], [5, 95])
    box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    drag_lasso(p, box)
    inside = lm.points_in_polygon(pts, box)
    n = int(inside.sum())
    assert n > 5
    assert f"{n:,} images" in p.selection_caption.text()
    counts = np.bincount(labels[inside], minlength=10)
    assert p.selection_class_counts() == {c: int(k) for c, k in enumerate(counts) if k}
    top = int(counts.argmax())
    assert f"{top}: {counts[top]}" in p.selection_caption.text()
    # The strip: the selected images, in order.
    imgs, _ = explore.split_images(vae.dataset.test, np.flatnonzero(inside)[:3])
    for j in range(3):
        np.testing.assert_allclose(p.selection_strip.grid[PAD:PAD + 28, PAD + j * 30:PAD + j * 30 + 28],
                                   imgs[j].numpy().reshape(28, 28), atol=1e-6)
    # The decoded mean code.
    mean = explore.decode(vae.model, vae_means(p, inside).mean(0))[0]
    np.testing.assert_allclose(p.selection_mean_view.grid[PAD:PAD + 28, PAD:PAD + 28], mean, atol=1e-5)
    assert not p.send_interp_button.isEnabled()  # one selection: nothing to interpolate
    (a0, a1) = gaps(pts[:, 0], [55, 95])
    drag_lasso(p, np.array([[a0, y0], [a1, y0], [a1, y1], [a0, y1]]))
    assert p.send_interp_button.isEnabled()
    sent = []
    p.sent.connect(lambda target, image: sent.append((target, image)))
    qtbot.mouseClick(p.send_interp_button, LEFT)
    assert [t for t, _ in sent] == [INTERPOLATION_START, INTERPOLATION_END]
    # Sent as the model lays images out: (C, H, W), here (1, 28, 28).
    assert sent[0][1].shape == sent[1][1].shape == (1, 28, 28)
    np.testing.assert_allclose(sent[0][1][0], mean, atol=1e-5)
    np.testing.assert_allclose(sent[1][1][0], p.selection_mean_view.grid[PAD:PAD + 28, PAD:PAD + 28],
                               atol=1e-5)


def vae_means(p, mask):
    return p.encoded.means[np.flatnonzero(mask)]


def test_hovering_a_point_shows_its_thumbnail_and_zooming_in_draws_one_per_point(
        qtbot, vae, monkeypatch):
    from latent_explorer.explorer.panels import latent_map

    # The small test split has a few hundred points: allow a quarter of them a thumbnail, so
    # the whole map is "too many" as a full test split's 10,000 are.
    monkeypatch.setattr(latent_map, "MAX_SPRITES", len(vae.dataset.test.labels) // 4)
    p = make(qtbot, LatentMapPanel, vae)
    pts = scatter_points(p)
    i = 7
    vp = p.plot.viewport()

    def shows_the_thumbnail():
        send_mouse(vp, QEvent.Type.MouseMove, to_pixel(p, *map(float, pts[i])),
                   Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
        assert p.hover_thumbnail() is not None
        img, _ = explore.split_images(vae.dataset.test, [p.point_at(*map(float, pts[i]))])
        np.testing.assert_allclose(p.hover_thumbnail(), img[0].numpy().reshape(28, 28), atol=1e-6)

    qtbot.waitUntil(shows_the_thumbnail)
    qtbot.mouseClick(p.thumbs_check, LEFT, pos=p.thumbs_check.rect().center())
    assert p.thumbs_check.isChecked()
    assert p.thumbnail_indices() == []  # too many points in the whole view
    assert "zoom in" in p.method_status.text()
    # Zoomed in around point i, only the points in view get a thumbnail.
    (cx, cy), (sx, sy) = pts[i].tolist(), (np.ptp(pts, axis=0) * 0.08).tolist()
    p.plot.getViewBox().setRange(xRange=(cx - sx, cx + sx), yRange=(cy - sy, cy + sy), padding=0)
    qtbot.waitUntil(lambda: i in p.thumbnail_indices())
    (x0, x1), (y0, y1) = p.plot.getViewBox().viewRange()
    for j in p.thumbnail_indices():
        assert x0 <= pts[j, 0] <= x1 and y0 <= pts[j, 1] <= y1
    qtbot.mouseClick(p.thumbs_check, LEFT, pos=p.thumbs_check.rect().center())
    assert p.thumbnail_indices() == []


def test_the_drawing_star_is_placed_by_the_maps_transform(qtbot, vae):
    latent = make(qtbot, LatentMapPanel, vae)
    with fitting(qtbot, latent.runner):
        choose(latent, "tsne")
    draw = make(qtbot, DrawPanel, vae)
    np.testing.assert_allclose(draw.map_coords(), latent.coords)  # the same map
    with qtbot.waitSignals([draw.placer.placed], timeout=FIT_MS, raising=False) as placing:
        draw_seven(qtbot, draw.canvas)
    assert placing.signal_triggered, draw.map_caption.text()
    star = draw.star_position()
    assert star is not None
    expected = latent.fitted.place(draw.analyses[0][1].mean[None])[0]
    np.testing.assert_allclose(star, expected, atol=1e-3)
    assert "placed by t-SNE's transform" in draw.map_caption.text()
    assert draw.placement_seconds is not None  # measured (how long: benchmarks/map_placement.py)
    # Back to PCA on the Latent map tab: the star goes back to the projection.
    choose(latent, "pca")
    qtbot.waitUntil(lambda: np.allclose(draw.map_coords(), latent.coords))
    pca = latent.map.project(draw_tensor(draw))[0]
    qtbot.waitUntil(lambda: np.allclose(draw.star_position(), pca, atol=1e-4))


def draw_tensor(draw):
    import torch

    return torch.from_numpy(draw.analyses[0][1].mean)


