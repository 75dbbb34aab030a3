"""Widgets the exploration panels share: image views, run pickers, a throttle, the panel base."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.panels.base import Panel
from training.explore import grid_cell_at
from training.render import make_grid, save_png
from training.run import Run

PAD = 2  # make_grid's default padding, which grid_cell_at inverts
PNG_SCALE = 4  # exported PNGs: 28-pixel digits upscaled ×4 (nearest), like the CLI's ×2 grids
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


class LatestValue(QObject):
    """Calls `callback` with the latest arguments once control returns to the event loop.

    A slider dragged faster than we can decode emits many valueChanged; a 0-ms single-shot
    timer coalesces them so only the newest value is drawn (superqt's `qthrottled`, in brief).
    """

    def __init__(self, callback: Callable[..., None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._callback = callback
        self._args: tuple = ()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._on_timer_timeout)

    def __call__(self, *args) -> None:
        self._args = args
        if not self._timer.isActive():
            self._timer.start()

    @property
    def is_pending(self) -> bool:
        return self._timer.isActive()

    def flush(self) -> None:
        """Run a pending call now (tests, and before a redraw that must see it)."""
        if self._timer.isActive():
            self._timer.stop()
            self._on_timer_timeout()

    def _on_timer_timeout(self) -> None:
        self._callback(*self._args)


class ImageView(pg.GraphicsView):
    """One ImageItem showing a make_grid mosaic at fixed levels (0, 1); reports cell clicks."""

    updated = Signal()
    cell_clicked = Signal(int, object)  # index in the grid, Qt.MouseButton

    def __init__(self, parent: QWidget | None = None, min_height: int = 80) -> None:
        super().__init__(parent, background=pg.mkColor(32, 32, 32))
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False,
                               enableMenu=False, defaultPadding=0.01)
        self.setCentralItem(self.view)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.grid: np.ndarray | None = None
        self._layout = (0, 1)  # (n images, columns) of the mosaic shown, for click lookups
        self._labels: list[pg.TextItem] = []
        self.setMinimumHeight(min_height)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)

    def set_images(self, images: np.ndarray, ncols: int) -> np.ndarray:
        """Tile (n, H, W) images with the CLI's renderer and show them; returns the mosaic."""
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

    def cell_at_scene(self, scene_pos) -> int | None:
        p = self.image.mapFromScene(scene_pos)
        n, ncols = self._layout
        return grid_cell_at(p.x(), p.y(), n, ncols, pad=PAD) if self.grid is not None else None

    def _on_scene_clicked(self, ev) -> None:
        i = self.cell_at_scene(ev.scenePos())
        if i is not None:
            self.cell_clicked.emit(i, ev.button())


class RunPicker(QComboBox):
    """'compare with': none or any usable run, kept by run id across list changes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs: list[Run] = []
        self.setMinimumContentsLength(14)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.addItem("none", None)

    def set_runs(self, runs: list[Run]) -> None:
        keep = self.currentData()
        self.blockSignals(True)  # one currentIndexChanged at most, below
        self.clear()
        self.addItem("none", None)
        self._runs = list(runs)
        for r in self._runs:
            self.addItem(f"{r.name} ({r.kind.upper()})", r.id)
        i = self.findData(keep) if keep is not None else 0
        self.setCurrentIndex(max(i, 0))
        self.blockSignals(False)
        if self.currentData() != keep:
            self.currentIndexChanged.emit(self.currentIndex())

    def current_run(self) -> Run | None:
        rid = self.currentData()
        return next((r for r in self._runs if r.id == rid), None)

    def select_run(self, run: Run | None) -> None:
        self.setCurrentIndex(max(0, self.findData(run.id)) if run is not None else 0)


def labeled_slider(lo: int, hi: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setValue(value)
    return s


def run_caption(run: Run) -> str:
    beta = "" if run.kind == "ae" else f", β = {run.beta:g}"
    return f"<b>{run.name}</b> ({run.kind.upper()}{beta}, nz = {run.config.nz})"


class ExplorerPanel(Panel):
    """A panel with a hint page (no run, no model, no data, wrong kind) and a content page."""

    needs_data = True  # panels that draw test images need run.dataset.test

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Run | None = None
        self.runs: list[Run] = []
        self._stack = QStackedWidget()
        self.hint = QLabel()
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.RichText)
        self.content = QWidget()
        self._stack.addWidget(self.hint)
        self._stack.addWidget(self.content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setToolTip("Save this panel's image as a PNG file")
        self.save_button.clicked.connect(self._on_save_clicked)

    # -- the Panel contract --------------------------------------------------------------------
    def set_runs(self, runs: list[Run]) -> None:
        self.runs = list(runs)
        self._update_run_list()

    def set_run(self, run: Run | None) -> None:
        self.run = run
        reason = self.unusable_reason(run)
        if reason:
            self.hint.setText(reason)
            self._stack.setCurrentWidget(self.hint)
            self._clear()
            return
        self._stack.setCurrentWidget(self.content)
        self._update_run()

    @property
    def is_showing_hint(self) -> bool:
        return self._stack.currentWidget() is self.hint

    def unusable_reason(self, run: Run | None) -> str | None:
        """Why this panel cannot show `run` (a sentence for the user), or None."""
        if run is None:
            return "Select a run in the run list (or load a checkpoint) to explore it here."
        if run.model is None:
            return f"<b>{run.name}</b> has no model yet: it appears here once training has begun."
        if self.needs_data and (run.dataset is None or run.dataset.test is None):
            return f"The test images for <b>{run.name}</b> are still loading…"
        if self.needs_data and len(run.dataset.test) == 0:
            return f"<b>{run.name}</b>'s dataset has no test images to show."
        return None

    # -- for subclasses ------------------------------------------------------------------------
    def _update_run_list(self) -> None:
        """The run list changed (compare pickers)."""

    def _update_run(self) -> None:
        """self.run is usable: redraw everything for it."""

    def _clear(self) -> None:
        """Drop what was drawn for the previous run."""

    def export_grid(self) -> np.ndarray | None:
        """The [0, 1] mosaic that 'Save PNG…' writes (None: nothing to save)."""
        return None

    def default_file_name(self) -> str:
        name = self.title.lower().replace(" ", "_").replace("-", "_")
        return f"{name}.png"

    def save_png(self, path: str | Path) -> Path | None:
        grid = self.export_grid()
        if grid is None:
            return None
        return save_png(grid, path, scale=PNG_SCALE)

    # Modal dialogs live in methods tests can monkeypatch, so a test never blocks on one.
    def _ask_save_path(self, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Save image", suggested, "PNG images (*.png)")
        return path or None

    def _on_save_clicked(self) -> None:
        path = self._ask_save_path(self.default_file_name())
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            self.save_png(path)


def row(*widgets, stretch: bool = True) -> QHBoxLayout:
    """A horizontal row of widgets (strings become labels), stretched at the end."""
    h = QHBoxLayout()
    for w in widgets:
        h.addWidget(QLabel(w) if isinstance(w, str) else w)
    if stretch:
        h.addStretch(1)
    return h


def stack_grids(grids: list[np.ndarray], gap: int = 6, pad_value: float = 0.5) -> np.ndarray:
    """Mosaics one above the other (left-aligned), for exporting two runs' images as one PNG."""
    grids = [g for g in grids if g is not None]
    width = max(g.shape[1] for g in grids)
    parts = []
    for i, g in enumerate(grids):
        if i:
            parts.append(np.full((gap, width), pad_value, np.float32))
        parts.append(np.pad(g, ((0, 0), (0, width - g.shape[1])), constant_values=pad_value))
    return np.concatenate(parts)


def side_by_side(grids: list[np.ndarray], gap: int = 6, pad_value: float = 0.5) -> np.ndarray:
    """Mosaics next to each other (top-aligned)."""
    return stack_grids([g.T for g in grids], gap, pad_value).T.copy()
