"""The drawing canvas, driven with real mouse and tablet events (QTest through qtbot)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent
from PySide6.QtWidgets import QApplication

from latent_explorer.explorer.widgets.draw_canvas import BRUSH_WIDTH, MIN_PRESSURE_SHARE, DrawCanvas
from latent_explorer.training.explore.drawing import DrawingError, preprocess

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def canvas(qtbot):
    c = DrawCanvas()
    qtbot.addWidget(c)
    c.resize(280, 280)  # one widget pixel per canvas pixel
    c.show()
    qtbot.waitExposed(c)
    return c


def drag(qtbot, widget, points, button=LEFT) -> None:
    """Press at the first point, move through the others with the button held, release."""
    qtbot.mousePress(widget, button, pos=QPoint(*points[0]))
    for p in points[1:]:
        qtbot.mouseMove(widget, QPoint(*p))  # Qt 6's QTest keeps the pressed button down
    qtbot.mouseRelease(widget, button, pos=QPoint(*points[-1]))


def ink_at(img: np.ndarray, x: int, y: int, r: int = 2) -> int:
    return int(img[y - r : y + r + 1, x - r : x + r + 1].max())


def test_a_mouse_stroke_leaves_ink_where_it_went(qtbot, canvas):
    seen = []
    canvas.changed.connect(lambda: seen.append(1))
    with qtbot.waitSignal(canvas.stroke_finished, timeout=1000):
        drag(qtbot, canvas, [(60, 60), (100, 100), (140, 140), (220, 140)])
    img = canvas.image()
    assert img.shape == (280, 280) and img.dtype == np.uint8
    for x, y in [(60, 60), (80, 80), (120, 120), (140, 140), (180, 140), (220, 140)]:
        assert img[y, x] == 255, (x, y)
    for x, y in [(220, 60), (60, 220), (20, 20), (260, 260), (140, 100)]:
        assert ink_at(img, x, y) == 0, (x, y)
    # Anti-aliased edges: grey levels between background and ink.
    assert ((img > 0) & (img < 255)).sum() > 50
    # One `changed` for the press and one per move (the consumer throttles).
    assert len(seen) == 4
    assert len(canvas.strokes) == 1 and not canvas.is_drawing


def test_the_stroke_width_follows_the_brush(qtbot, canvas):
    path = [(40, 140), (240, 140)]
    drag(qtbot, canvas, path)
    thin = int((canvas.image()[:, 140] > 127).sum())
    canvas.clear()
    canvas.brush_width = 40
    drag(qtbot, canvas, path)
    thick = int((canvas.image()[:, 140] > 127).sum())
    assert abs(thin - BRUSH_WIDTH) <= 2 and abs(thick - 40) <= 2
    with pytest.raises(ValueError):
        canvas.brush_width = 0


def test_a_click_draws_a_round_dot(qtbot, canvas):
    drag(qtbot, canvas, [(140, 140)])
    img = canvas.image() > 127
    ys, xs = np.nonzero(img)
    assert abs(xs.mean() - 140) < 1 and abs(ys.mean() - 140) < 1
    disc = np.pi * (BRUSH_WIDTH / 2) ** 2
    assert abs(img.sum() - disc) < 0.15 * disc  # a disc as wide as the brush


def test_undo_removes_the_last_stroke_and_clear_empties(qtbot, canvas):
    drag(qtbot, canvas, [(50, 50), (50, 230)])
    one = canvas.image()
    drag(qtbot, canvas, [(200, 50), (200, 230)])
    assert canvas.image()[140, 200] == 255
    with qtbot.waitSignal(canvas.changed, timeout=1000):
        assert canvas.undo()
    np.testing.assert_array_equal(canvas.image(), one)  # exactly as before the second stroke
    assert canvas.undo() and not canvas.can_undo
    assert canvas.image().max() == 0
    assert not canvas.undo()
    drag(qtbot, canvas, [(50, 50), (230, 230)])
    drag(qtbot, canvas, [(50, 230), (230, 50)])
    with qtbot.waitSignal(canvas.changed, timeout=1000):
        canvas.clear()
    assert canvas.image().max() == 0 and canvas.strokes == ()


def test_only_a_held_left_button_draws(qtbot, canvas):
    qtbot.mouseMove(canvas, QPoint(100, 100))
    qtbot.mouseMove(canvas, QPoint(150, 150))
    drag(qtbot, canvas, [(60, 60), (200, 200)], button=Qt.MouseButton.RightButton)
    assert canvas.image().max() == 0 and canvas.strokes == ()


def test_widget_positions_map_onto_the_square_canvas(qtbot):
    c = DrawCanvas(resolution=140)
    qtbot.addWidget(c)
    c.resize(400, 300)  # a 300-px square centred: x offset 50, 140/300 canvas px per widget px
    c.show()
    qtbot.waitExposed(c)
    drag(qtbot, c, [(50 + 150, 150), (50 + 300, 150)])
    img = c.image()
    assert img.shape == (140, 140)
    assert img[70, 70] == 255 and img[70, 139] == 255 and ink_at(img, 30, 70) == 0


def send_tablet(widget, kind, pos, pressure, device):
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.TabletRelease else LEFT
    ev = QTabletEvent(kind, device, QPointF(*pos), QPointF(widget.mapToGlobal(QPoint(*pos))),
                      pressure, 0.0, 0.0, 0.0, 0.0, 0.0, Qt.KeyboardModifier.NoModifier,
                      LEFT, buttons)
    QApplication.sendEvent(widget, ev)
    return ev


def test_pen_pressure_scales_the_width(qtbot, canvas):
    pen = QPointingDevice("test pen", 7, QInputDevice.DeviceType.Stylus,
                          QPointingDevice.PointerType.Pen,
                          QInputDevice.Capability.Position | QInputDevice.Capability.Pressure,
                          1, 3)
    widths = {}
    for pressure in (0.2, 1.0):
        canvas.clear()
        ev = send_tablet(canvas, QEvent.Type.TabletPress, (40, 140), pressure, pen)
        assert ev.isAccepted()  # no mouse events synthesised on top
        send_tablet(canvas, QEvent.Type.TabletMove, (140, 140), pressure, pen)
        send_tablet(canvas, QEvent.Type.TabletMove, (240, 140), pressure, pen)
        send_tablet(canvas, QEvent.Type.TabletRelease, (240, 140), 0.0, pen)
        assert not canvas.is_drawing
        widths[pressure] = int((canvas.image()[:, 140] > 127).sum())
    assert abs(widths[1.0] - BRUSH_WIDTH) <= 2
    assert abs(widths[0.2] - BRUSH_WIDTH * (MIN_PRESSURE_SHARE + (1 - MIN_PRESSURE_SHARE) * 0.2)) <= 2


def test_set_image_shows_it_and_new_strokes_take_the_contrasting_ink(qtbot, canvas,
                                                                     sample_dataset):
    digit = sample_dataset.test.images[0].numpy()
    paper = np.full((140, 260), 255, np.uint8)  # dark on light, wider than high
    paper[:, 90:230] = 255 - np.kron(digit, np.ones((5, 5), np.uint8))
    with qtbot.waitSignal(canvas.changed, timeout=1000):
        canvas.set_image(paper)
    img = canvas.image()
    assert img[0, 0] == 255 and img[-1, -1] == 255  # margins take the paper's white
    assert canvas.ink == 0
    # The canvas holds the digit: preprocessed, it is the digit again.
    p = preprocess(img)
    x = digit / 255.0
    c = np.corrcoef(p.ravel(), x.ravel())[0, 1]
    assert c > 0.9  # measured 0.993
    drag(qtbot, canvas, [(10, 10), (270, 10)])
    assert canvas.image()[10, 140] == 0  # black ink on white paper
    canvas.undo()
    np.testing.assert_array_equal(canvas.image(), img)
    canvas.clear()
    assert canvas.image().max() == 0 and canvas.ink == 255
    with pytest.raises(DrawingError):
        canvas.set_image(np.zeros((4, 4, 7)))
