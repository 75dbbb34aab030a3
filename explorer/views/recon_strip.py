"""A small live strip: fixed test images (top row) above the model's reconstructions, grey or
in colour; its height grows with the images' (ImageView.set_height_range).

The worker computes the grid (training.explore.panel_math.reconstruction_grid) at each epoch end or every
few seconds; this widget only draws it, in the panels' ImageView.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from latent_explorer.explorer.widgets.image_view import PAD, ImageView


class ReconStrip(QWidget):
    """Originals above reconstructions for the run being watched."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Reconstructions of fixed test images appear here while a run "
                              "trains (top: originals, bottom: reconstructions).")
        self.caption.setWordWrap(True)
        self.view = ImageView(min_height=0)
        line = self.fontMetrics().height()
        self.view.set_height_range(4 * line, 8 * line)
        self.run_id: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.view)
        self._apply_palette()

    def show_grid(self, run_id: int, grid: np.ndarray, caption: str,
                  cell: tuple[int, int] | None = None) -> None:
        """Draw a run's grid (float, [0, 1]; grey (H, W) or colour (H, W, 3)) with a caption.
        `cell`: (H, W) of its images; None: read from the grid, whose two rows (originals above
        reconstructions, panel_math.reconstruction_grid) are H + PAD each."""
        if cell is None:
            h = (grid.shape[0] - PAD) // 2 - PAD
            cell = (h, h)
        self.run_id = run_id
        self.view.set_grid(grid, cell=cell)
        self.caption.setText(caption)

    def clear(self, hint: str = "") -> None:
        self.run_id = None
        self.view.clear_images()
        if hint:
            self.caption.setText(hint)

    @property
    def has_image(self) -> bool:
        return self.view.has_image

    @property
    def grid(self) -> np.ndarray | None:
        return self.view.grid

    def _apply_palette(self) -> None:
        self.view.setBackground(self.palette().color(QPalette.ColorRole.Base))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)
