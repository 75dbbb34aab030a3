"""The Latent map tab's plot: points coloured by class, their legend above the plot (never over
points), the chosen point's marker, the lasso being drawn and the two kept selections (A and B:
each an outline labelled with its letter and rings on its points, in its own colour), and
images drawn on the map (the hovered point's, and one per point when zoomed in).

It draws only: what to draw comes from the panel (explorer/panels/latent_map.py). Images are
display arrays (training/explore/render.py `to_numpy_images`): (n, H, W) grey or (n, H, W, 3)
colour in [0, 1], drawn at a size that follows the image size (`thumb_px`).
"""

from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from latent_explorer.explorer.panels.base import TAB10
from latent_explorer.explorer.panels.map_selection import (SELECTION_COLORS, SELECTION_NAMES,
                                                           SELECTION_SYMBOLS)

PICK_RADIUS_PX = 6
# A thumbnail's longer side on screen: one image pixel per screen pixel for images of this
# range of sizes, scaled into it otherwise (a 16×16 sprite is not a speck, a 96×96 photo
# not a tile that hides its neighbours).
THUMB_MIN_PX = 24
THUMB_MAX_PX = 48
HOVER_SCALE = 2  # the hovered point's image is this many thumbnails big
FRAME_PADDING = 0.05  # the view frames the points with this fraction of their extent around
DRAWING_COLOR = "#e8e8e8"  # the lasso while it is drawn (it takes A's or B's colour when done)


def thumb_px(image_hw: tuple[int, int]) -> tuple[float, float]:
    """(width, height) on screen, in pixels, of a thumbnail of an H×W image."""
    h, w = (max(int(v), 1) for v in image_hw[:2])
    side = float(np.clip(max(h, w), THUMB_MIN_PX, THUMB_MAX_PX))
    scale = side / max(h, w)
    return w * scale, h * scale


class LassoViewBox(pg.ViewBox):
    """A ViewBox that, in lasso mode, turns a left-button drag into a polygon in view
    coordinates (`lasso_finished`) instead of panning. `lasso_curve` is the path while it is
    drawn; when the button is let go it goes, and the map draws the selection's outline."""

    lasso_finished = Signal(object)  # (M, 2) float array

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lasso_mode = False
        self._path: list[tuple[float, float]] = []
        self.lasso_curve = pg.PlotCurveItem(pen=pg.mkPen(DRAWING_COLOR, width=1.5,
                                                          style=Qt.PenStyle.DashLine))
        self.lasso_curve.setZValue(20)
        self.addItem(self.lasso_curve, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if not self.lasso_mode or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        p = self.mapToView(ev.pos())
        if ev.isStart():
            start = self.mapToView(ev.buttonDownPos())
            self._path = [(start.x(), start.y())]
        self._path.append((p.x(), p.y()))
        xy = np.array(self._path + self._path[:1])
        self.lasso_curve.setData(xy[:, 0], xy[:, 1])
        if ev.isFinish():
            poly = np.array(self._path, np.float64)
            self._path = []
            self.lasso_curve.setData([], [])
            self.lasso_finished.emit(poly)


class MapPlot(QWidget):
    """A legend line over a pyqtgraph plot of points by class, with a marker, lasso marks and
    images on the map."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The legend is a line of text above the plot: inside it, pyqtgraph's LegendItem sat
        # over whichever points the map put in its corner.
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setAccessibleName("Legend")
        self.viewbox = LassoViewBox()
        self.plot = pg.PlotWidget(viewBox=self.viewbox, background=pg.mkColor(32, 32, 32))
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMinimumSize(300, 300)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)
        self.scatters: list[pg.ScatterPlotItem] = []
        self._legend_entries: list[str] = []
        self._ensure_scatters(10)
        self.marker = pg.ScatterPlotItem(size=18, symbol="x", pen=pg.mkPen("w", width=2),
                                         brush=pg.mkBrush("w"))
        self.plot.addItem(self.marker)
        # Selections A and B: rings (A) or squares (B) on their points, an outline each and
        # its letter at the outline's top, all in the selection's colour.
        self.selection_marks: list[pg.ScatterPlotItem] = []
        self.outlines: list[pg.PlotCurveItem] = []
        self.outline_labels: list[pg.TextItem] = []
        for name, color, symbol in zip(SELECTION_NAMES, SELECTION_COLORS, SELECTION_SYMBOLS):
            marks = pg.ScatterPlotItem(size=9, symbol=symbol, pen=pg.mkPen(color, width=1.2),
                                       brush=None)
            marks.setZValue(15)
            self.plot.addItem(marks)
            self.selection_marks.append(marks)
            outline = pg.PlotCurveItem(pen=pg.mkPen(color, width=2))
            outline.setZValue(20)
            self.plot.addItem(outline, ignoreBounds=True)
            self.outlines.append(outline)
            label = pg.TextItem(name, color=color, anchor=(0.5, 1.0),
                                fill=pg.mkBrush(0, 0, 0, 150))
            label.setZValue(21)
            label.setVisible(False)
            self.plot.addItem(label, ignoreBounds=True)
            self.outline_labels.append(label)
        self.hover_thumb = pg.ImageItem(axisOrder="row-major", levels=(0, 1))
        self.hover_thumb.setZValue(30)
        self.hover_thumb.setVisible(False)
        self.plot.addItem(self.hover_thumb, ignoreBounds=True)
        self.sprites: list[pg.ImageItem] = []

    # -- points ----------------------------------------------------------------------------------
    def _ensure_scatters(self, n: int) -> None:
        """One scatter per class; an image folder may have more than ten (colours repeat)."""
        while len(self.scatters) < n:
            c = len(self.scatters)
            item = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(TAB10[c % len(TAB10)]),
                                      name=str(c))
            self.plot.addItem(item)
            self.scatters.append(item)

    def show_points(self, coords: np.ndarray, labels: np.ndarray, names: tuple[str, ...] | list[str],
                    legend: bool = True) -> None:
        """Draw the points by class (`labels`), name the classes present in the legend."""
        labels = np.asarray(labels)
        self._ensure_scatters(max(len(names), int(labels.max(initial=-1)) + 1))
        entries = []
        for c, item in enumerate(self.scatters):
            pts = coords[labels == c]
            item.setData(pos=pts)
            if len(pts):
                name = names[c] if c < len(names) else str(c)
                entries.append((TAB10[c % len(TAB10)], str(name)))
        self._legend_entries = [name for _, name in entries] if legend else []
        self.legend.setText("&nbsp;&nbsp; ".join(
            f'<span style="color:{color}">●</span>&nbsp;{escape(name)}' for color, name in entries)
            if legend else "")
        self.legend.setVisible(bool(self._legend_entries))

    def legend_entries(self) -> list[str]:
        """The class names the legend lists, in order."""
        return list(self._legend_entries)

    def clear_points(self) -> None:
        for item in self.scatters:
            item.clear()
        self.marker.clear()

    def set_axis_labels(self, x: str, y: str) -> None:
        self.plot.setLabel("bottom", x)
        self.plot.setLabel("left", y)

    def frame(self, points: np.ndarray) -> None:
        """Fit the view to `points` (N, 2), only them: a marker left where another map had its
        point would otherwise stretch the view (autoRange takes every item)."""
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        pts = pts[np.isfinite(pts).all(axis=1)]
        if not len(pts):
            return
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        span = np.maximum(hi - lo, 1e-6)
        lo, hi = lo - span * FRAME_PADDING, hi + span * FRAME_PADDING
        self.viewbox.setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]), padding=0)

    # -- the marker and the lasso ----------------------------------------------------------------
    def set_marker(self, xy: np.ndarray | None) -> None:
        if xy is None or not len(xy):
            self.marker.clear()
        else:
            self.marker.setData(pos=np.asarray(xy, np.float32).reshape(-1, 2))

    def marker_xy(self) -> np.ndarray | None:
        """(n, 2) of the marker as drawn, None when hidden."""
        x, y = self.marker.getData()
        return np.column_stack([x, y]) if x is not None and len(x) else None

    def set_selections(self, selections: list[tuple[np.ndarray | None, np.ndarray]]) -> None:
        """Draw up to two selections, A first: each (polygon (M, 2) in map coordinates or None,
        its points (n, 2)). Letters without a selection are cleared."""
        for i, (marks, outline, label) in enumerate(zip(self.selection_marks, self.outlines,
                                                        self.outline_labels)):
            polygon, xy = selections[i] if i < len(selections) else (None, None)
            if xy is None or not len(xy):
                marks.clear()
            else:
                marks.setData(pos=np.asarray(xy, np.float64).reshape(-1, 2))
            if polygon is None or not len(polygon):
                outline.setData([], [])
                label.setVisible(False)
                continue
            poly = np.asarray(polygon, np.float64).reshape(-1, 2)
            closed = np.vstack([poly, poly[:1]])
            outline.setData(closed[:, 0], closed[:, 1])
            top = poly[int(np.argmax(poly[:, 1]))]  # the letter above the outline's top
            label.setPos(float(top[0]), float(top[1]))
            label.setVisible(True)

    def selection_outlines(self) -> list[np.ndarray | None]:
        """A's and B's outlines as drawn, each closed (M + 1, 2), None where none is drawn."""
        out: list[np.ndarray | None] = []
        for outline in self.outlines:
            x, y = outline.getData()
            out.append(np.column_stack([x, y]) if x is not None and len(x) else None)
        return out

    def selection_points(self) -> list[np.ndarray]:
        """A's and B's marked points as drawn, each (n, 2) (n = 0 where none)."""
        out = []
        for marks in self.selection_marks:
            x, y = marks.getData()
            out.append(np.column_stack([x, y]) if x is not None and len(x) else np.zeros((0, 2)))
        return out

    def selection_labels(self) -> list[str]:
        """The letters shown beside the outlines, A first."""
        return [lab.toPlainText() for lab in self.outline_labels if lab.isVisible()]

    def clear_lasso(self) -> None:
        """No lasso being drawn and no selection on the map."""
        self.viewbox.lasso_curve.setData([], [])
        self.set_selections([])

    # -- looking up points -----------------------------------------------------------------------
    def pick_radius(self) -> tuple[float, float]:
        px = self.viewbox.viewPixelSize()
        return (max(px[0], 1e-12) * PICK_RADIUS_PX, max(px[1], 1e-12) * PICK_RADIUS_PX)

    def indices_in_view(self, coords: np.ndarray) -> np.ndarray:
        (x0, x1), (y0, y1) = self.viewbox.viewRange()
        c = coords
        return np.flatnonzero((c[:, 0] >= x0) & (c[:, 0] <= x1) & (c[:, 1] >= y0) & (c[:, 1] <= y1))

    def view_point(self, scene_pos) -> tuple[float, float] | None:
        """Map coordinates under a scene position, None outside the plot's area."""
        if not self.viewbox.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.viewbox.mapSceneToView(scene_pos)
        return p.x(), p.y()

    # -- images on the map -----------------------------------------------------------------------
    def _rect(self, xy, image: np.ndarray, scale: float = 1.0, offset_px: float = 0.0,
              centred: bool = True) -> tuple[float, float, float, float]:
        pw, ph = self.viewbox.viewPixelSize()
        w_px, h_px = thumb_px(image.shape[:2])
        w, h = w_px * scale * pw, h_px * scale * ph
        x, y = float(xy[0]), float(xy[1])
        if centred:
            return x - w / 2, y - h / 2, w, h
        return x + offset_px * pw, y + offset_px * ph, w, h

    def show_hover_thumbnail(self, xy, image: np.ndarray) -> None:
        """The hovered point's image (H, W) or (H, W, 3) just above and right of it."""
        self.hover_thumb.setImage(np.flipud(image), autoLevels=False, levels=(0, 1))
        self.hover_thumb.setRect(*self._rect(xy, image, HOVER_SCALE, 4, centred=False))
        self.hover_thumb.setVisible(True)

    def hide_hover_thumbnail(self) -> None:
        self.hover_thumb.setVisible(False)

    def hover_thumbnail(self) -> np.ndarray | None:
        """The image drawn beside the hovered point, upright (None when none is shown)."""
        if not self.hover_thumb.isVisible() or self.hover_thumb.image is None:
            return None
        return np.flipud(self.hover_thumb.image)

    def hover_thumbnail_px(self) -> tuple[float, float] | None:
        """(width, height) of the hovered point's image on screen, in pixels."""
        if self.hover_thumbnail() is None:
            return None
        r = self.hover_thumb.mapRectToDevice(self.hover_thumb.boundingRect())
        return r.width(), r.height()

    def show_sprites(self, points: np.ndarray, images: np.ndarray) -> None:
        """One image centred on each point (n, 2); the rest of the sprites hidden."""
        while len(self.sprites) < len(points):
            item = pg.ImageItem(axisOrder="row-major", levels=(0, 1))
            item.setZValue(5)
            self.plot.addItem(item, ignoreBounds=True)
            self.sprites.append(item)
        for item, xy, img in zip(self.sprites, points, images):
            item.setImage(np.flipud(img), autoLevels=False, levels=(0, 1))
            item.setRect(*self._rect(xy, img))
            item.setVisible(True)
        for item in self.sprites[len(points):]:
            item.setVisible(False)

    def sprite_images(self) -> list[np.ndarray]:
        """The images drawn per point now, upright."""
        return [np.flipud(s.image) for s in self.sprites if s.isVisible() and s.image is not None]


__all__ = ["LassoViewBox", "MapPlot", "PICK_RADIUS_PX", "THUMB_MAX_PX", "THUMB_MIN_PX", "thumb_px"]
