"""A small live strip: fixed test images (top row) above the model's reconstructions.

The worker computes the grid (training.render.make_grid) at each epoch end or every few
seconds; this widget only draws it: one ImageItem, row-major, fixed levels (0, 1).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget


class ReconStrip(QWidget):
    """Originals above reconstructions for the run being watched."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Reconstructions of fixed test images appear here while a run "
                              "trains (top: originals, bottom: reconstructions).")
        self.caption.setWordWrap(True)
        self.view = pg.GraphicsView()
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.view.setFixedHeight(self.fontMetrics().height() * 8)
        self.box = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.box.setMenuEnabled(False)
        self.view.setCentralItem(self.box)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        self.run_id: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.view)
        self._apply_palette()

    def show_grid(self, run_id: int, grid: np.ndarray, caption: str) -> None:
        """Draw a grid of a run (float, [0, 1]) with a caption."""
        self.run_id = run_id
        self.image.setImage(grid, autoLevels=False, levels=(0.0, 1.0))
        self.box.autoRange(padding=0.01)
        self.caption.setText(caption)

    def clear(self, hint: str = "") -> None:
        self.run_id = None
        self.image.clear()
        if hint:
            self.caption.setText(hint)

    @property
    def has_image(self) -> bool:
        return self.image.image is not None

    def _apply_palette(self) -> None:
        self.view.setBackground(self.palette().color(QPalette.ColorRole.Base))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)
