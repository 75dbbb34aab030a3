"""A square canvas to draw a digit on with the mouse or a pen: white ink on black, like MNIST.

It only draws: strokes are kept (for Undo) and painted anti-aliased with round caps into a
fixed-size grey QImage, whatever the widget's size on screen. Turning that image into a 28×28
input is training/explore/drawing.py's job (`preprocess(canvas.image())`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QTabletEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

RESOLUTION = 280  # canvas pixels per side: 10× MNIST's 28
# MNIST strokes are about 2.5-3 px wide in the 20-px box, a seventh of a digit's height. A 7
# drawn 190 px tall with this brush preprocesses to as much ink (~105) as MNIST's 7s (100-110);
# with 22 px it looked thin (90).
BRUSH_WIDTH = 26.0
MIN_PRESSURE_SHARE = 0.25  # the lightest pen touch still draws a quarter of the brush width


@dataclass
class Stroke:
    """One press-to-release stroke: points (x, y, pressure) in canvas pixels, its width and ink."""

    width: float
    ink: int  # grey level 0-255
    points: list[tuple[float, float, float]] = field(default_factory=list)


def _gray_qimage(a: np.ndarray) -> QImage:
    """A QImage owning a copy of a uint8 H×W array."""
    a = np.ascontiguousarray(a, dtype=np.uint8)
    h, w = a.shape
    return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


class DrawCanvas(QWidget):
    """Draw with the left mouse button or a pen; Undo per stroke, Clear, or set an image."""

    changed = Signal()  # the picture changed: every move while drawing, clear, undo, set_image
    stroke_finished = Signal()  # the button or pen was released

    def __init__(self, parent: QWidget | None = None, resolution: int = RESOLUTION,
                 brush_width: float = BRUSH_WIDTH) -> None:
        super().__init__(parent)
        if resolution < 8:
            raise ValueError(f"resolution must be at least 8 pixels, got {resolution}")
        self._resolution = int(resolution)
        self._brush_width = BRUSH_WIDTH
        self.brush_width = brush_width
        self._strokes: list[Stroke] = []
        self._current: Stroke | None = None
        self._background = 0  # grey of the empty canvas (or of a set image's border)
        self._base = self._blank()
        self._picture = self._base.copy()
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking, False)
        self.setCursor(Qt.CursorShape.CrossCursor)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    # -- properties --------------------------------------------------------------------------
    @property
    def resolution(self) -> int:
        """Side of the canvas image in pixels."""
        return self._resolution

    @property
    def brush_width(self) -> float:
        """Stroke width in canvas pixels at full pressure (the mouse always has full pressure)."""
        return self._brush_width

    @brush_width.setter
    def brush_width(self, width: float) -> None:
        width = float(width)
        if not (0 < width <= self._resolution):
            raise ValueError(f"brush width must be in (0, {self._resolution}], got {width}")
        self._brush_width = width  # applies to the next stroke; drawn ones keep theirs

    def set_brush_width(self, width: float) -> None:
        """Slot form of the brush_width setter (for a slider's valueChanged)."""
        self.brush_width = width

    @property
    def strokes(self) -> tuple[Stroke, ...]:
        return tuple(self._strokes)

    @property
    def can_undo(self) -> bool:
        return bool(self._strokes)

    @property
    def is_drawing(self) -> bool:
        return self._current is not None

    @property
    def ink(self) -> int:
        """Grey level of new strokes: white on a dark canvas, black on a light image."""
        return 255 if self._background < 128 else 0

    # -- the picture ---------------------------------------------------------------------------
    def image(self) -> np.ndarray:
        """The canvas as a grey uint8 array (resolution × resolution), a copy."""
        img = self._picture
        ptr = img.constBits()
        a = np.frombuffer(ptr, np.uint8, img.bytesPerLine() * img.height())
        return a.reshape(img.height(), img.bytesPerLine())[:, : img.width()].copy()

    def clear(self) -> None:
        """Remove every stroke and any set image."""
        self._strokes.clear()
        self._current = None
        self._background = 0
        self._base = self._blank()
        self._redraw()

    def undo(self) -> bool:
        """Remove the last stroke; False when there was none."""
        if self._current is not None:  # undo while drawing drops the stroke being drawn
            self._current = None
            self._strokes.pop()
        elif self._strokes:
            self._strokes.pop()
        else:
            return False
        self._redraw()
        return True

    def set_image(self, array: np.ndarray) -> None:
        """Show a loaded or pasted image (grey, RGB or RGBA array, any size); strokes go on top.

        The image is fitted into the square keeping its aspect ratio; the margins take the grey
        of its border so the background stays uniform, and new strokes take the contrasting ink.
        Raises training.explore.drawing.DrawingError for arrays that are not images.
        """
        from latent_explorer.training.explore.drawing import to_grey

        grey = (to_grey(array) * 255 + 0.5).astype(np.uint8)
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        self._background = int(np.median(border))
        src = _gray_qimage(grey)
        r = self._resolution
        scaled = src.scaled(r, r, Qt.AspectRatioMode.KeepAspectRatio,
                            Qt.TransformationMode.SmoothTransformation)
        base = self._blank(self._background)
        p = QPainter(base)
        p.drawImage((r - scaled.width()) // 2, (r - scaled.height()) // 2, scaled)
        p.end()
        self._base = base
        self._strokes.clear()
        self._current = None
        self._redraw()

    def _blank(self, grey: int = 0) -> QImage:
        img = QImage(self._resolution, self._resolution, QImage.Format.Format_Grayscale8)
        img.fill(QColor(grey, grey, grey))
        return img

    def _redraw(self) -> None:
        """Repaint base + all strokes from scratch (after undo, clear, set_image)."""
        self._picture = self._base.copy()
        p = self._painter()
        for s in self._strokes:  # the same calls in the same order as while drawing
            self._paint_dot(p, s, s.points[0])
            for a, b in zip(s.points[:-1], s.points[1:]):
                self._paint_segment(p, s, a, b)
        p.end()
        self.update()
        self.changed.emit()

    def _painter(self) -> QPainter:
        p = QPainter(self._picture)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        return p

    def _width(self, stroke: Stroke, pressure: float) -> float:
        share = MIN_PRESSURE_SHARE + (1 - MIN_PRESSURE_SHARE) * min(max(pressure, 0.0), 1.0)
        return stroke.width * share

    def _paint_segment(self, p: QPainter, s: Stroke, a: tuple, b: tuple) -> None:
        # One segment at a time so the pressure can change the width along the stroke; round
        # caps make consecutive segments join smoothly.
        pen = QPen(QColor(s.ink, s.ink, s.ink), self._width(s, (a[2] + b[2]) / 2),
                   Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        p.drawLine(QPointF(a[0], a[1]), QPointF(b[0], b[1]))

    def _paint_dot(self, p: QPainter, s: Stroke, a: tuple) -> None:
        r = self._width(s, a[2]) / 2
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(s.ink, s.ink, s.ink))
        p.drawEllipse(QPointF(a[0], a[1]), r, r)

    # -- strokes from input events -------------------------------------------------------------
    def _target(self) -> QRectF:
        """Where the canvas is drawn in the widget: the largest centred square."""
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def _to_canvas(self, pos: QPointF) -> tuple[float, float]:
        t = self._target()
        k = self._resolution / max(t.width(), 1.0)
        return (pos.x() - t.x()) * k, (pos.y() - t.y()) * k

    def begin_stroke(self, pos: QPointF, pressure: float = 1.0) -> None:
        """Start a stroke at widget position `pos` (a dot until it moves)."""
        x, y = self._to_canvas(pos)
        stroke = Stroke(self._brush_width, self.ink, [(x, y, pressure)])
        self._current = stroke
        self._strokes.append(stroke)
        p = self._painter()
        self._paint_dot(p, stroke, stroke.points[0])
        p.end()
        self.update()
        self.changed.emit()

    def extend_stroke(self, pos: QPointF, pressure: float = 1.0) -> None:
        """Add a point to the current stroke and paint only the new segment."""
        s = self._current
        if s is None:
            return
        x, y = self._to_canvas(pos)
        last = s.points[-1]
        if abs(x - last[0]) < 0.25 and abs(y - last[1]) < 0.25 and pressure == last[2]:
            return  # no visible change: no repaint, no signal
        s.points.append((x, y, pressure))
        p = self._painter()
        self._paint_segment(p, s, last, s.points[-1])
        p.end()
        self.update()
        self.changed.emit()

    def end_stroke(self) -> None:
        """Finish the current stroke."""
        if self._current is None:
            return
        self._current = None
        self.stroke_finished.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._current is None:
            self.begin_stroke(event.position())
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._current is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self.extend_stroke(event.position())
            event.accept()
        else:
            event.ignore()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._current is not None:
            self.extend_stroke(event.position())
            self.end_stroke()
            event.accept()
        else:
            event.ignore()

    def tabletEvent(self, event: QTabletEvent) -> None:
        # Accepting stops Qt from also synthesising mouse events for the same pen motion.
        kind = event.type()
        pressure = float(event.pressure())
        if kind == QEvent.Type.TabletPress and self._current is None:
            self.begin_stroke(event.position(), pressure)
        elif kind == QEvent.Type.TabletMove and self._current is not None:
            self.extend_stroke(event.position(), pressure)
        elif kind == QEvent.Type.TabletRelease and self._current is not None:
            self.end_stroke()
        else:
            event.ignore()
            return
        event.accept()

    # -- widget ----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window())
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = self._target()
        p.drawImage(target, self._picture)
        p.setPen(QPen(self.palette().mid().color(), 1))
        p.drawRect(target.adjusted(0, 0, -1, -1))
        p.end()

    def sizeHint(self) -> QSize:
        return QSize(self._resolution, self._resolution)

    def minimumSizeHint(self) -> QSize:
        return QSize(112, 112)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return width
