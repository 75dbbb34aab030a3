"""One pyqtgraph ImageItem showing a mosaic of images at fixed levels (0, 1), grey or RGB.

No torch at import: the Training tab builds these before torch has loaded (the grid maths
come from training.explore.panel_math and training.explore.render when first used).

A grey mosaic is (H, W) and an RGB one (H, W, 3) (training.explore.render's display arrays);
pyqtgraph's ImageItem, row-major, reads a last axis of 3 as RGB and applies the levels to each
channel. Cell positions (labels, clicks) come from the shown images' own H and W, and the
view's heights grow with them, so 64×64 images are not squeezed into 28-pixel digit cells.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QSizePolicy, QWidget

PAD = 2  # make_grid's default padding, which grid_cell_at inverts
DIGIT = 28  # the cell size the views' heights were chosen for (MNIST)
MAX_SCALE = 3.0  # heights grow with the cells up to this factor (84-pixel cells and larger)


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
        self._cell = (DIGIT, DIGIT)  # (H, W) of one image of the mosaic
        self._labels: list[pg.TextItem] = []
        self._preferred_height: int | None = None
        self._min_height = min_height  # for 28-pixel cells; scaled with the cells shown
        self._placeholder = pg.TextItem(color="#9a9a9a", anchor=(0.5, 0.5))
        self._placeholder.setVisible(False)
        self.view.addItem(self._placeholder)
        self.setMinimumHeight(min_height)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)

    # -- size ------------------------------------------------------------------------------------
    @property
    def cell(self) -> tuple[int, int]:
        """(H, W) of one image of the shown mosaic (28×28 until something is shown)."""
        return self._cell

    @property
    def size_scale(self) -> float:
        """How much taller than for 28-pixel digits this view wants to be: H / 28, from 1 (a
        28×28 digit looks exactly as before) to MAX_SCALE."""
        return min(MAX_SCALE, max(1.0, self._cell[0] / DIGIT))

    def set_height_range(self, minimum: int, preferred: int) -> None:
        """Be `preferred` pixels tall, shrinking to `minimum` when the window is short: a
        fixed height could not shrink, and the layout then drew the widgets below over it.
        Both are for 28-pixel cells: larger images scale them (`size_scale`)."""
        self._preferred_height = preferred
        self._min_height = minimum
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._apply_heights()

    def _apply_heights(self) -> None:
        s = self.size_scale
        if self._preferred_height is not None:
            self.setMaximumHeight(int(round(self._preferred_height * s)))
        # Never past a maximum the owner set (the Draw tab's small input view).
        self.setMinimumHeight(min(int(round(self._min_height * s)), self.maximumHeight()))
        self.updateGeometry()

    def _set_cell(self, cell: tuple[int, int]) -> None:
        cell = (int(cell[0]), int(cell[1]))
        if cell != self._cell:
            self._cell = cell
            self._apply_heights()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        if self._preferred_height is not None:
            hint.setHeight(int(round(self._preferred_height * self.size_scale)))
        else:
            hint.setHeight(max(hint.height(), self.minimumHeight()))
        return hint

    # -- images ----------------------------------------------------------------------------------
    def set_images(self, images: np.ndarray, ncols: int) -> np.ndarray:
        """Tile images with the CLI's renderer and show them; returns the mosaic. Images are
        display arrays (n, H, W) grey or (n, H, W, 3) colour, or as models give them
        (n, C, H, W)."""
        from latent_explorer.training.explore.render import make_grid, to_numpy_images

        shown = to_numpy_images(images)
        grid = make_grid(shown, ncols=ncols, pad=PAD)
        self._layout = (len(shown), ncols)
        self.set_grid(grid, cell=shown.shape[1:3])
        return grid

    def set_grid(self, grid: np.ndarray, cell: tuple[int, int] | None = None) -> None:
        """Show a [0, 1] mosaic, (H, W) grey or (H, W, 3) RGB, of images `cell` (H, W) in size
        (None: as before, or 28×28)."""
        reshaped = self.grid is None or self.grid.shape != grid.shape
        if cell is not None:
            self._set_cell(cell)
        self.grid = grid
        self._placeholder.setVisible(False)
        self.image.setImage(grid, autoLevels=False, levels=(0.0, 1.0))
        if reshaped:
            self.view.setRange(xRange=(0, grid.shape[1]), yRange=(0, grid.shape[0]), padding=0.01)
        self.updated.emit()

    def clear_images(self) -> None:
        self.grid = None
        self._layout = (0, 1)
        self.image.clear()
        self.set_labels([])
        if self._placeholder.toPlainText():
            self.view.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            self._placeholder.setPos(0.5, 0.5)
            self._placeholder.setVisible(True)

    def set_placeholder(self, text: str) -> None:
        """What the view says while it shows no images (an empty black box says nothing)."""
        self._placeholder.setText(text)
        if self.grid is None:
            self.clear_images()

    @property
    def placeholder_text(self) -> str | None:
        """The placeholder shown now (None: images, or no placeholder, are shown)."""
        return self._placeholder.toPlainText() if self._placeholder.isVisible() else None

    @property
    def has_image(self) -> bool:
        return self.grid is not None

    @property
    def is_colour(self) -> bool:
        return self.grid is not None and self.grid.ndim == 3 and self.grid.shape[-1] == 3

    # -- cell geometry (image coordinates of the mosaic) --------------------------------------
    def cell_x(self, col: int) -> float:
        """The middle of column `col`."""
        return PAD + col * (self._cell[1] + PAD) + self._cell[1] / 2

    def cell_top(self, row: int) -> float:
        return PAD + row * (self._cell[0] + PAD)

    def cell_bottom(self, row: int) -> float:
        """The bottom edge of row `row` (where a label under its images sits)."""
        return self.cell_top(row) + self._cell[0]

    def cell_middle(self, row: int) -> float:
        return self.cell_top(row) + self._cell[0] / 2

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

    def set_cell_labels(self, texts: list[str], row: int = 0, first_col: int = 0) -> None:
        """One text at the bottom of each cell of `row`, from column `first_col` on."""
        self.set_labels([(self.cell_x(first_col + j), self.cell_bottom(row), t)
                         for j, t in enumerate(texts)])

    def label_texts(self) -> list[str]:
        """The texts shown over the mosaic, in order (what the user reads)."""
        return [item.toPlainText() for item in self._labels if item.isVisible()]

    def label_positions(self) -> list[tuple[float, float]]:
        """Where those texts are, in image coordinates of the mosaic."""
        return [(item.pos().x(), item.pos().y()) for item in self._labels if item.isVisible()]

    def cell_at_scene(self, scene_pos) -> int | None:
        from latent_explorer.training.explore.panel_math import grid_cell_at

        p = self.image.mapFromScene(scene_pos)
        n, ncols = self._layout
        if self.grid is None:
            return None
        return grid_cell_at(p.x(), p.y(), n, ncols, cell=self._cell, pad=PAD)

    def _on_scene_clicked(self, ev) -> None:
        i = self.cell_at_scene(ev.scenePos())
        if i is not None:
            self.cell_clicked.emit(i, ev.button())
