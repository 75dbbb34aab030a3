"""One pyqtgraph ImageItem showing a mosaic of images at fixed levels (0, 1).

No torch at import: the Training tab builds these before torch has loaded (the grid maths
come from training.explore.panel_math and training.explore.render when first used).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QSizePolicy, QWidget

PAD = 2  # make_grid's default padding, which grid_cell_at inverts


class ImageView(pg.GraphicsView):
    """A make_grid mosaic, row-major, levels (0, 1); reports which cell was clicked."""

    updated = Signal()
    cell_clicked = Signal(int, object)  # index in the grid, Qt.MouseButton

    def __init__(self, parent: QWidget | None = None, min_height: int = 80,
                 background=None) -> None:
        super().__init__(parent, background=background if background is not None
                         else pg.mkColor(32, 32, 32))
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False,
                               enableMenu=False, defaultPadding=0.01)
        self.setCentralItem(self.view)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.grid: np.ndarray | None = None
        self._layout = (0, 1)  # (n images, columns) of the mosaic shown, for click lookups
        self._labels: list[pg.TextItem] = []
        self._preferred_height: int | None = None
        self.setMinimumHeight(min_height)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)

    def set_height_range(self, minimum: int, preferred: int) -> None:
        """Be `preferred` pixels tall, shrinking to `minimum` when the window is short: a
        fixed height could not shrink, and the layout then drew the widgets below over it."""
        self._preferred_height = preferred
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(minimum)
        self.setMaximumHeight(preferred)
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        if self._preferred_height is not None:
            hint.setHeight(self._preferred_height)
        return hint

    def set_images(self, images: np.ndarray, ncols: int) -> np.ndarray:
        """Tile (n, H, W) images with the CLI's renderer and show them; returns the mosaic."""
        from latent_explorer.training.explore.render import make_grid

        grid = make_grid(images, ncols=ncols, pad=PAD)
        self._layout = (len(images), ncols)
        self.set_grid(grid)
        return grid

    def set_grid(self, grid: np.ndarray) -> None:
        reshaped = self.grid is None or self.grid.shape != grid.shape
        self.grid = grid
        self.image.setImage(grid, autoLevels=False, levels=(0.0, 1.0))
        if reshaped:
            self.view.setRange(xRange=(0, grid.shape[1]), yRange=(0, grid.shape[0]), padding=0.01)
        self.updated.emit()

    def clear_images(self) -> None:
        self.grid = None
        self._layout = (0, 1)
        self.image.clear()
        self.set_labels([])

    @property
    def has_image(self) -> bool:
        return self.grid is not None

    def set_labels(self, labels: list[tuple[float, float, str]], color: str = "#ffd866") -> None:
        """Small text over the mosaic at image coordinates (x, y): e.g. per-image errors."""
        while len(self._labels) < len(labels):  # items live long; only their text changes
            item = pg.TextItem(anchor=(0.5, 1.0), fill=pg.mkBrush(0, 0, 0, 160))
            self.view.addItem(item)
            self._labels.append(item)
        for item, (x, y, text) in zip(self._labels, labels):
            item.setColor(color)
            item.setText(text)
            item.setPos(x, y)
            item.setVisible(True)
        for item in self._labels[len(labels):]:
            item.setVisible(False)

    def label_texts(self) -> list[str]:
        """The texts shown over the mosaic, in order (what the user reads)."""
        return [item.toPlainText() for item in self._labels if item.isVisible()]

    def cell_at_scene(self, scene_pos) -> int | None:
        from latent_explorer.training.explore.panel_math import grid_cell_at

        p = self.image.mapFromScene(scene_pos)
        n, ncols = self._layout
        return grid_cell_at(p.x(), p.y(), n, ncols, pad=PAD) if self.grid is not None else None

    def _on_scene_clicked(self, ev) -> None:
        i = self.cell_at_scene(ev.scenePos())
        if i is not None:
            self.cell_clicked.emit(i, ev.button())
