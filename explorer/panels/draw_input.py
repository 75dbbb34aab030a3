"""The Draw tab's input side: the canvas with its Clear, Undo and brush row (a model of 28×28
grey digits), or in its place a page with a button that loads an image and a line saying why
(any other model); the Load, Paste and "Send to…" row; the input as the model takes it, and
its caption.

It reads images through training/explore/drawing.py (`load_image` for the canvas,
`load_fitted_image` and `fit_image` to fit another model's size); the panel
(explorer/panels/draw.py) asks for the file, analyses the input and says what went wrong.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import (
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from latent_explorer.explorer.panels.base import (
    INTERPOLATION_END,
    INTERPOLATION_START,
    TRAVERSAL_START,
    row,
    shape_words,
)
from latent_explorer.explorer.panels.directions_targets import DIRECTIONS_IMAGE
from latent_explorer.explorer.widgets.draw_canvas import BRUSH_WIDTH, DrawCanvas
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.training.explore import drawing
from latent_explorer.training.explore.render import to_numpy_images

DIGIT_SHAPE = (1, 28, 28)  # the canvas draws MNIST-style digits, preprocessed to this
SEND_TARGETS = (("Interpolation: start", INTERPOLATION_START),
                ("Interpolation: end", INTERPOLATION_END),
                ("Latent map: traversal start", TRAVERSAL_START),
                ("Directions: image to edit", DIRECTIONS_IMAGE))
PLACEHOLDER = "your input"
DIGIT_CAPTION = "Preprocessed 28×28 input"


def qimage_to_array(image: QImage) -> np.ndarray:
    """An H×W×4 uint8 RGBA copy of a QImage (e.g. a pasted one)."""
    img = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = img.height(), img.width()
    a = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * h)
    return a.reshape(h, img.bytesPerLine())[:, : w * 4].reshape(h, w, 4).copy()


class DrawInput(QWidget):
    """The canvas or the load page, the Load/Paste/Send row, and the input as the model takes it."""

    send_requested = Signal(str)  # a SEND_TARGETS target chosen in the "Send to…" menu

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image_mode = False  # True: the model is not a 28×28 grey one, so no canvas
        self.loaded_image: np.ndarray | None = None  # a loaded/pasted image, (C, H, W), no canvas
        self.canvas = DrawCanvas()
        self.canvas.setMinimumSize(224, 224)
        # In place of the canvas for a model of other images: a button and a line saying why.
        self.load_reason = QLabel()
        self.load_reason.setWordWrap(True)
        self.load_image_button = QPushButton("Load an image…")
        self.load_image_button.setToolTip("Open an image file: it is resized and centre-cropped "
                                          "to the model's image size")
        self.clear_button = QPushButton("Clear")
        self.undo_button = QPushButton("Undo")
        self.brush = QSpinBox()
        self.brush.setRange(4, 60)
        self.brush.setValue(int(BRUSH_WIDTH))
        self.brush.setSuffix(" px")
        self.brush.setToolTip("Brush thickness on the 280-pixel canvas (new strokes)")
        self.load_button = QPushButton("Load image…")
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Paste an image from the clipboard")
        self.send_button = QToolButton()
        self.send_button.setText("Send to…")
        self.send_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.send_menu = QMenu(self.send_button)
        self.send_actions: dict[str, QAction] = {}
        for text, target in SEND_TARGETS:
            action = self.send_menu.addAction(text)
            action.triggered.connect(lambda _checked=False, t=target: self.send_requested.emit(t))
            self.send_actions[target] = action
        self.send_button.setMenu(self.send_menu)
        self.view = ImageView(min_height=90)
        self.view.setMaximumSize(160, 160)
        self.view.set_placeholder(PLACEHOLDER)
        self.caption = QLabel(DIGIT_CAPTION)
        self.caption.setWordWrap(True)

        draw_page = QWidget()
        dl = QVBoxLayout(draw_page)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.canvas, 1)
        dl.addLayout(row(self.clear_button, self.undo_button, "Brush", self.brush))
        self.load_page = QWidget()
        ll = QVBoxLayout(self.load_page)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addStretch(1)
        ll.addWidget(self.load_reason)
        ll.addLayout(row(self.load_image_button))
        ll.addStretch(1)
        self.stack = QStackedWidget()
        self.stack.addWidget(draw_page)
        self.stack.addWidget(self.load_page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addLayout(row(self.load_button, self.paste_button, self.send_button))
        layout.addLayout(row(self.view, stretch=True))
        layout.addWidget(self.caption)

        self.clear_button.clicked.connect(self.canvas.clear)
        self.undo_button.clicked.connect(self.canvas.undo)
        self.brush.valueChanged.connect(self.canvas.set_brush_width)

    def set_mode(self, shape: tuple[int, int, int]) -> None:
        """The canvas for a 28×28 grey model; for any other a Load button and why."""
        self.image_mode = tuple(shape) != DIGIT_SHAPE
        self.stack.setCurrentWidget(self.load_page if self.image_mode else self.stack.widget(0))
        # One Load button at a time: the load page's own while there is no canvas.
        self.load_button.setVisible(not self.image_mode)
        if self.image_mode:
            self.load_reason.setText(
                f"Drawing is for 28×28 grey digits; this model takes {shape_words(shape)} "
                "images: load one instead (or paste one).")
            self.caption.setText(f"The input as the model takes it: {shape_words(shape)}, "
                                 "resized and centre-cropped")
            if self.loaded_image is not None and self.loaded_image.shape != tuple(shape):
                try:  # another model's size: the same picture fitted again
                    shown = to_numpy_images(self.loaded_image[None])[0]
                    self.loaded_image = drawing.fit_image(shown, shape)
                except drawing.DrawingError:
                    self.loaded_image = None
        else:
            self.caption.setText(DIGIT_CAPTION)

    @property
    def input_word(self) -> str:
        """What the input is called in captions."""
        return "image" if self.image_mode else "drawing"

    def model_input(self) -> np.ndarray | None:
        """The input as the model takes it: the loaded image, or the canvas preprocessed to
        28×28 (None: nothing loaded, or nothing drawn)."""
        if self.image_mode:
            return self.loaded_image
        try:
            return drawing.preprocess(self.canvas.image())
        except drawing.DrawingError:
            return None

    def take_file(self, path: str, shape: tuple[int, int, int]) -> None:
        """Put an image file on the canvas, or (image mode) fit it to `shape` as the loaded
        image. drawing.DrawingError: unreadable, nothing changed."""
        if self.image_mode:
            self.loaded_image = drawing.load_fitted_image(path, shape)
        else:
            self.canvas.set_image(drawing.load_image(path))

    def take_image(self, image: QImage, shape: tuple[int, int, int]) -> None:
        """`take_file` for an image in memory (a pasted one)."""
        if self.image_mode:
            self.loaded_image = drawing.fit_image(qimage_to_array(image), shape)
        else:
            self.canvas.set_image(qimage_to_array(image))

    def show_input(self, display: np.ndarray) -> None:
        """The input as the model takes it, (H, W) or (H, W, 3): shown, and it can be sent."""
        self.send_button.setEnabled(True)
        self.view.set_images(display[None], ncols=1)

    def clear(self) -> None:
        self.view.clear_images()
        self.send_button.setEnabled(False)


__all__ = ["DIGIT_SHAPE", "DrawInput", "SEND_TARGETS", "qimage_to_array"]
