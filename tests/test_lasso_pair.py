"""The Latent map's two lasso selections seen together (issue 35: A's outline and strip vanished
when B was drawn): real widgets, lassos drawn with mouse events, offscreen, on the small
trained VAE. Every figure checked is computed here independently of the panel: the points
inside each drawn polygon, the strips' mosaics from the test images, the decoded means."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import LEFT, drag_lasso, fresh, gaps, make, scatter_points
from latent_explorer.explorer.panels.directions_targets import DIRECTIONS_LASSO
from latent_explorer.explorer.panels.latent_map import LatentMapPanel
from latent_explorer.explorer.panels.map_selection import SELECTION_COLORS, STRIP_MAX, STRIP_ROWS
from latent_explorer.explorer.widgets.image_view import PAD
from latent_explorer.training.explore import latent_methods as lm
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.render import make_grid, to_numpy_images


@pytest.fixture
def panel(qtbot, runs) -> LatentMapPanel:
    p = make(qtbot, LatentMapPanel, fresh(runs["vae"]))
    qtbot.mouseClick(p.lasso_button, LEFT)
    assert p.lasso_button.isChecked()
    return p


def box(x: tuple[float, float], y: tuple[float, float]) -> np.ndarray:
    return np.array([[x[0], y[0]], [x[1], y[0]], [x[1], y[1]], [x[0], y[1]]])


def polygons(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three boxes with edges in gaps between the points (so no point sits on an edge): A the
    left half (more than a strip holds), B a small upper-right corner, C the lower right."""
    ya, yb = gaps(pts[:, 1], [3, 97]), gaps(pts[:, 1], [55, 97])
    a = box(tuple(gaps(pts[:, 0], [3, 55])), tuple(ya))
    b = box(tuple(gaps(pts[:, 0], [75, 97])), tuple(yb))
    c = box(tuple(gaps(pts[:, 0], [60, 97])), tuple(gaps(pts[:, 1], [3, 45])))
    return a, b, c


def expected_strip(p: LatentMapPanel, idx: np.ndarray) -> np.ndarray:
    """The strip's mosaic as it must be: the first STRIP_MAX selected test images, 2 rows."""
    shown = idx[:STRIP_MAX]
    x, _ = explore.split_images(p.run.dataset.test, shown)
    return make_grid(to_numpy_images(x), ncols=max(1, min(len(shown), STRIP_MAX // STRIP_ROWS)),
                     pad=PAD)


def expected_mean(p: LatentMapPanel, idx: np.ndarray) -> np.ndarray:
    return explore.decode(p.run.model, p.encoded.means[idx].mean(0))[0]


def corners(drawn: np.ndarray, tol: float) -> np.ndarray:
    """The outline's distinct corners: a drag repeats its start (press, first move, release)."""
    keep = [drawn[0]]
    for q in drawn[1:]:
        if np.abs(q - keep[-1]).max() > tol:
            keep.append(q)
    while len(keep) > 1 and np.abs(keep[-1] - keep[0]).max() <= tol:
        keep.pop()
    return np.array(keep)


def assert_outline(p: LatentMapPanel, drawn: np.ndarray | None, polygon: np.ndarray) -> None:
    """The outline is the dragged polygon, closed, to within a pixel or two, and in the view."""
    assert drawn is not None
    np.testing.assert_array_equal(drawn[0], drawn[-1])  # closed
    px, py = p.viewbox.viewPixelSize()
    tol = 2 * max(px, py)
    np.testing.assert_allclose(corners(drawn, tol), polygon, atol=tol)
    (x0, x1), (y0, y1) = p.viewbox.viewRange()
    assert ((drawn[:, 0] >= x0) & (drawn[:, 0] <= x1)).all()
    assert ((drawn[:, 1] >= y0) & (drawn[:, 1] <= y1)).all()


def assert_row(p: LatentMapPanel, i: int, which: str, idx: np.ndarray) -> None:
    r = p.selection_box.rows[i]
    assert r.shown == min(len(idx), STRIP_MAX)
    np.testing.assert_allclose(r.strip.grid, expected_strip(p, idx), atol=1e-6)
    np.testing.assert_allclose(r.mean_view.grid[PAD:PAD + 28, PAD:PAD + 28], expected_mean(p, idx),
                               atol=1e-5)
    assert r.text.startswith(f"Selection {which}: {len(idx):,} images")
    # The one-line caption names the largest classes; its tooltip names every one.
    counts = np.bincount(p.run.dataset.test.labels.numpy()[idx], minlength=10)
    top = int(counts.argmax())
    assert f"by class {top}: {counts[top]}" in r.text
    tip = r.caption.toolTip()
    assert all(f"{c}: {k}" in tip for c, k in enumerate(counts) if k)
    assert tip.count(":") == 1 + int((counts > 0).sum())


def test_a_then_b_both_stay_on_the_map_and_in_their_strips(panel, qtbot):
    p = panel
    pts = scatter_points(p)
    a, b, _ = polygons(pts)
    idx_a = np.flatnonzero(lm.points_in_polygon(pts, a))
    idx_b = np.flatnonzero(lm.points_in_polygon(pts, b))
    assert len(idx_a) > STRIP_MAX and 0 < len(idx_b) < STRIP_MAX  # the cap and no cap
    drag_lasso(p, a)
    assert [s.tolist() for s in p.selections] == [idx_a.tolist()]
    drag_lasso(p, b)
    assert [s.tolist() for s in p.selections] == [idx_a.tolist(), idx_b.tolist()]
    mp = p.map_plot
    # The drawing path is gone; both outlines are on the plot, in their own colours, lettered.
    assert mp.viewbox.lasso_curve.getData()[0] is None or not len(mp.viewbox.lasso_curve.getData()[0])
    out_a, out_b = mp.selection_outlines()
    assert_outline(p, out_a, a)
    assert_outline(p, out_b, b)
    for outline, label, color in zip(mp.outlines, mp.outline_labels, SELECTION_COLORS):
        assert outline.getViewBox() is p.viewbox and outline.isVisible()
        assert outline.opts["pen"].color().name() == color
        assert label.getViewBox() is p.viewbox and label.isVisible()
    assert SELECTION_COLORS[0] != SELECTION_COLORS[1]
    assert mp.selection_labels() == ["A", "B"]
    top_a = a[np.argmax(a[:, 1])]
    np.testing.assert_allclose([mp.outline_labels[0].pos().x(), mp.outline_labels[0].pos().y()],
                               top_a, atol=2 * max(p.viewbox.viewPixelSize()))
    # Both selections' points are marked, where the map draws them.
    marks_a, marks_b = mp.selection_points()
    np.testing.assert_allclose(marks_a, pts[idx_a], atol=1e-5)
    np.testing.assert_allclose(marks_b, pts[idx_b], atol=1e-5)
    # Both strips and means: A's stays while B's shows.
    assert_row(p, 0, "A", idx_a)
    assert_row(p, 1, "B", idx_b)
    assert f"the first {STRIP_MAX} shown" in p.selection_box.rows[0].text
    assert p.selection_strip is p.selection_box.rows[1].strip  # "the last" is B now
    assert p.send_interp_button.isEnabled() and p.clear_selection_button.isEnabled()
    # Send A/B to Directions: the pair is the two drawn selections, A first.
    sent = []
    p.sent.connect(lambda target, obj: sent.append((target, obj)))
    qtbot.mouseClick(p.selection_box.send_directions_button, LEFT)
    assert len(sent) == 1 and sent[0][0] == DIRECTIONS_LASSO
    assert sent[0][1].a.tolist() == idx_a.tolist() and sent[0][1].b.tolist() == idx_b.tolist()
    assert sent[0][1].run_id == p.run.id


def test_a_third_lasso_makes_b_the_new_a_and_clear_takes_both_off(panel, qtbot):
    p = panel
    pts = scatter_points(p)
    a, b, c = polygons(pts)
    idx_b = np.flatnonzero(lm.points_in_polygon(pts, b))
    idx_c = np.flatnonzero(lm.points_in_polygon(pts, c))
    assert len(idx_c) > 0
    for poly in (a, b, c):
        drag_lasso(p, poly)
    mp = p.map_plot
    out_a, out_b = mp.selection_outlines()
    assert_outline(p, out_a, b)  # the old B, now drawn as A
    assert_outline(p, out_b, c)
    np.testing.assert_allclose(mp.selection_points()[0], pts[idx_b], atol=1e-5)
    np.testing.assert_allclose(mp.selection_points()[1], pts[idx_c], atol=1e-5)
    assert_row(p, 0, "A", idx_b)
    assert_row(p, 1, "B", idx_c)
    # A lasso around no point: B says so, A stays, nothing can be sent.
    (x0, x1), (y0, y1) = p.viewbox.viewRange()
    empty = box((x0 + 0.001 * (x1 - x0), x0 + 0.002 * (x1 - x0)),
                (y0 + 0.001 * (y1 - y0), y0 + 0.002 * (y1 - y0)))
    assert not lm.points_in_polygon(pts, empty).any()
    p.select_polygon(empty)
    assert_row(p, 0, "A", idx_c)
    row_b = p.selection_box.rows[1]
    assert "caught no points" in row_b.text and row_b.shown == 0
    assert not row_b.strip.has_image and len(mp.selection_points()[1]) == 0
    assert not p.send_interp_button.isEnabled()
    assert not p.selection_box.send_directions_button.isEnabled()
    # Clear: both outlines, letters, marks and strips go.
    qtbot.mouseClick(p.clear_selection_button, LEFT)
    assert p.selections == []
    assert mp.selection_outlines() == [None, None] and mp.selection_labels() == []
    assert all(len(m) == 0 for m in mp.selection_points())
    assert not any(r.strip.has_image or r.mean_view.has_image for r in p.selection_box.rows)
    assert not p.clear_selection_button.isEnabled()
    assert p.selection_box.send_to_directions() is None

