"""The test split's posterior means in 2-D (PCA, UMAP or t-SNE), walkable, with per-dimension
traversal, hover and zoom thumbnails, and lasso selection.

PCA is drawn at once; UMAP and t-SNE are fitted in a background thread (explorer/session/
map_runner.py) with a busy bar, a line saying what the fit is doing and for how long, and
Cancel, the previous map staying until the new one is ready. Fitted maps are kept in memory
per run, method, parameters and codes (so per training snapshot) and, for a saved run, in a
`.maps.npz` file beside its checkpoint (training/explore/latent_methods.py), so reopening is
instant; a cached map's transform (for placing drawings) is rebuilt in the background.

"Replay training" swaps the live map for the run's timeline: the 1,000 fixed test codes as the
model placed them at each snapshot, aligned from one snapshot to the next
(`Timeline.aligned_coords`), on one fixed range so the clusters are seen forming and spreading.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QScrollArea,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from superqt.utils import qthrottled

from latent_explorer.explorer.panels.base import (INTERPOLATION_END, INTERPOLATION_START, TAB10, TRAVERSAL_START,
                                  Panel, row, run_caption)
from latent_explorer.explorer.session.map_runner import MapRunner, shared_maps
from latent_explorer.explorer.widgets.flow_layout import flow, group
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.training.explore import drawing
from latent_explorer.training.explore.export import MAP_SUFFIXES, MapExport, write_map
from latent_explorer.training.explore import latent_methods as lm
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.render import make_grid

MAX_SLIDERS = 32  # the most-used dimensions get a slider; the rest keep their value
SLIDER_STEPS = 200
PICK_RADIUS_PX = 6
MAX_SPRITES = 200  # thumbnails drawn per point only when at most this many points are in view
THUMB_PX = 28  # a thumbnail's size on screen (one MNIST pixel per screen pixel)
STRIP_MAX = 40  # images of a lasso selection shown in its strip


class LassoViewBox(pg.ViewBox):
    """A ViewBox that, in lasso mode, turns a left-button drag into a polygon in view
    coordinates (`lasso_finished`) instead of panning."""

    lasso_finished = Signal(object)  # (M, 2) float array

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lasso_mode = False
        self._path: list[tuple[float, float]] = []
        self.lasso_curve = pg.PlotCurveItem(pen=pg.mkPen("#ffd866", width=1.5))
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
            self.lasso_finished.emit(poly)


class LatentMapPanel(Panel):
    """Scatter of PCA-projected posterior means coloured by label; hover, click, walk, traverse."""

    title = "Latent map"
    data_suffixes = MAP_SUFFIXES
    data_filter = ("NumPy arrays: codes, log σ, coords, labels, selected (*.npz);;"
                   "CSV table: index, label, x, y, z0…, selected (*.csv);;"
                   "NumPy record array, the CSV's columns (*.npy)")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cache: dict[int, tuple[tuple, explore.Encoded, explore.LatentMap, explore.DimensionUsage]] = {}
        self._dirty = False
        self.encoded: explore.Encoded | None = None
        self.map: explore.LatentMap | None = None
        self.usage: explore.DimensionUsage | None = None
        self.selected: int | None = None  # index of the chosen test image, None for a map point
        self.map_point: tuple[float, float] = (0.0, 0.0)  # the map point decoded when not an image
        self.custom_image: np.ndarray | None = None  # a drawing sent here, the chosen point
        self.z: torch.Tensor | None = None  # the code the traversal sliders edit
        self.label: int | None = None  # the class a CVAE decodes z with
        self.preview_images: np.ndarray | None = None  # the chosen point's, shown when not hovering
        self._preview_text = ""
        self.hovered: int | None = None
        self.traversal_image: np.ndarray | None = None
        self._aligned: tuple[int, int, np.ndarray] | None = None  # (id, length, coords) cached
        self._live_marker: np.ndarray | None = None  # the chosen point, hidden while replaying
        self.maps = shared_maps()
        self.fitted: lm.FittedMap | None = None  # the map shown (PCA until another is ready)
        self._codes_np: np.ndarray | None = None
        self._codes_key = ""
        self._fitting_for: tuple[int, str] | None = None  # (run id, map key) being fitted
        self.selections: list[np.ndarray] = []  # the last two lasso selections (indices)
        self.selection_mean: np.ndarray | None = None  # the decoded mean code of the last
        self.runner = MapRunner(self)
        self.runner.progressed.connect(self._on_runner_progressed)
        self.runner.fitted.connect(self._on_runner_fitted)
        self.runner.failed.connect(self._on_runner_failed)
        self.runner.cancelled.connect(self._on_runner_cancelled)

        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.viewbox = LassoViewBox()
        self.plot = pg.PlotWidget(viewBox=self.viewbox, background=pg.mkColor(32, 32, 32))
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMinimumSize(300, 300)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.legend = self.plot.addLegend(offset=(-6, 6), labelTextColor="w", brush=pg.mkBrush(0, 0, 0, 150))
        self.scatters: list[pg.ScatterPlotItem] = []
        for c in range(10):
            item = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(TAB10[c]), name=str(c))
            self.plot.addItem(item)
            self.scatters.append(item)
        self.marker = pg.ScatterPlotItem(size=18, symbol="x", pen=pg.mkPen("w", width=2),
                                         brush=pg.mkBrush("w"))
        self.plot.addItem(self.marker)
        self.selection_marks = pg.ScatterPlotItem(size=9, pen=pg.mkPen("#ffd866", width=1.2),
                                                  brush=None)
        self.plot.addItem(self.selection_marks)
        # Hovering a point shows its image beside it on the map; the toggle draws one per point.
        self.hover_thumb = pg.ImageItem(axisOrder="row-major", levels=(0, 1))
        self.hover_thumb.setZValue(30)
        self.hover_thumb.setVisible(False)
        self.plot.addItem(self.hover_thumb, ignoreBounds=True)
        self.sprites: list[pg.ImageItem] = []
        self._sprite_indices: list[int] = []

        self.method_box = QComboBox()
        self.method_box.setAccessibleName("Map method")
        for name in lm.map_method_names():
            m = lm.get_map_method(name)
            self.method_box.addItem(m.label, name)
            self.method_box.setItemData(self.method_box.count() - 1, f"{m.label}: {m.keeps}",
                                        Qt.ItemDataRole.ToolTipRole)
        self.neighbors_box = QSpinBox()
        self.neighbors_box.setRange(2, 200)
        self.neighbors_box.setValue(lm.MapParams.n_neighbors)
        self.neighbors_box.setToolTip("UMAP n_neighbors: how large a neighbourhood it keeps")
        self.min_dist_box = QDoubleSpinBox()
        self.min_dist_box.setRange(0.0, 1.0)
        self.min_dist_box.setSingleStep(0.05)
        self.min_dist_box.setValue(lm.MapParams.min_dist)
        self.min_dist_box.setToolTip("UMAP min_dist: how tightly it packs points")
        self.perplexity_box = QDoubleSpinBox()
        self.perplexity_box.setRange(2.0, 200.0)
        self.perplexity_box.setValue(lm.MapParams.perplexity)
        self.perplexity_box.setToolTip("t-SNE perplexity: the effective number of neighbours")
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.seed_box.setToolTip("Random seed of UMAP / t-SNE")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Compute the map with these parameters")
        # While a map is fitted: a busy bar, what the fit is doing in words, the seconds so far
        # and Cancel, on a row of their own (the methods row leaves a bar too little room for
        # "UMAP: compiling numba code …"). The bar only shows that work goes on (indeterminate
        # until the method can say how far it is); the words are the label's.
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(self.fontMetrics().horizontalAdvance("M") * 8)
        self.progress.setAccessibleName("Map fit under way")
        self.fit_status = QLabel()
        self.fit_status.setWordWrap(True)
        self.fit_status.setAccessibleName("What the map fit is doing")
        self.cancel_button = QPushButton("Cancel")
        self.busy_row = QWidget()
        busy = QHBoxLayout(self.busy_row)
        busy.setContentsMargins(0, 0, 0, 0)
        busy.addWidget(self.progress)
        busy.addWidget(self.fit_status, 1)
        busy.addWidget(self.cancel_button)
        self.busy_row.setVisible(False)
        self._fit_what = ""
        self._fit_started = 0.0
        self._busy_timer = QTimer(self)  # the seconds so far, once a second while fitting
        self._busy_timer.setObjectName("map fit elapsed")
        self._busy_timer.setInterval(1000)
        self._busy_timer.timeout.connect(self._show_fit_status)
        self.method_status = QLabel()
        self.method_status.setWordWrap(True)
        self.lasso_button = QPushButton("Lasso")
        self.lasso_button.setCheckable(True)
        self.lasso_button.setToolTip("Drag around points on the map to select them")
        self.thumbs_check = QCheckBox("Thumbnails")
        self.thumbs_check.setToolTip(f"Draw each point's image when zoomed in (at most "
                                     f"{MAX_SPRITES} points in view)")

        self.selection_caption = QLabel("Lasso: drag around points to select them.")
        self.selection_caption.setWordWrap(True)
        self.selection_strip = ImageView(min_height=40)
        self.selection_strip.setMaximumHeight(90)
        self.selection_mean_view = ImageView(min_height=40)
        self.selection_mean_view.setMaximumHeight(90)
        self.selection_mean_view.setMaximumWidth(90)
        self.send_interp_button = QPushButton("Send to interpolation")
        self.send_interp_button.setToolTip("The decoded means of the last two selections "
                                           "become the interpolation's start and end")
        self.send_interp_button.setEnabled(False)

        self.preview = ImageView(min_height=100)
        self.preview_caption = QLabel("Hover or click a point; click empty space to decode it.")
        self.preview_caption.setWordWrap(True)
        self.traversal_view = ImageView(min_height=100)
        self.traversal_caption = QLabel()
        self.traversal_caption.setWordWrap(True)
        self.reset_button = QPushButton("Reset sliders")
        self.sliders: list[QSlider] = []
        self.slider_labels: list[QLabel] = []
        self.slider_dims: list[int] = []
        self._slider_box = QWidget()
        self._slider_grid = QGridLayout(self._slider_box)
        self._slider_grid.setContentsMargins(2, 2, 2, 2)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._slider_box)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        for view in (self.preview, self.traversal_view):
            view.setMaximumHeight(240)  # leave the height to the sliders
        images_row = row(stretch=False)
        images_row.addWidget(self.preview, 2)
        images_row.addWidget(self.traversal_view, 1)
        rl.addLayout(images_row)
        rl.addWidget(self.preview_caption)
        sel = QGroupBox("Selection")
        sl = QVBoxLayout(sel)
        sl.setContentsMargins(4, 4, 4, 4)
        sl.addWidget(self.selection_caption)
        strip_row = row(stretch=False)
        strip_row.addWidget(self.selection_strip, 1)
        strip_row.addWidget(self.selection_mean_view)
        sl.addLayout(strip_row)
        sl.addLayout(row(self.send_interp_button))
        rl.addWidget(sel)
        rl.addLayout(row("<b>Traversal</b>", self.reset_button))
        rl.addWidget(self.traversal_caption)
        rl.addWidget(scroll, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.plot)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self.content)
        top = row(stretch=False)
        top.addWidget(self.caption, 1)
        top.addWidget(self.save_button)
        self.export_button = self.make_export_button(
            "Export…", "Write the test images' codes (μ and log σ), their labels, their place "
            "on this map and the lasso selection as NumPy arrays (.npz, .npy) or a CSV table")
        top.addWidget(self.export_button)
        layout.addLayout(top)
        # One line where the tab is wide enough, more where it is not.
        methods = flow(group("Map:", self.method_box), group("neighbours", self.neighbors_box),
                       group("min dist", self.min_dist_box),
                       group("perplexity", self.perplexity_box), group("seed", self.seed_box),
                       self.apply_button, self.lasso_button, self.thumbs_check)
        layout.addLayout(methods)
        layout.addWidget(self.busy_row)
        layout.addWidget(self.method_status)
        self.replay_check = QCheckBox("Replay training")
        self.replay_check.setToolTip("Show how the clusters formed: the fixed test codes at each "
                                     "snapshot of the run's training timeline")
        self.replay_slider = QSlider(Qt.Orientation.Horizontal)
        self.replay_slider.setAccessibleName("Training step")
        self.replay_slider.setEnabled(False)
        self.replay_label = QLabel()
        replay = row(stretch=False)
        replay.addWidget(self.replay_check)
        replay.addWidget(self.replay_slider, 1)
        replay.addWidget(self.replay_label)
        layout.addLayout(replay)
        layout.addWidget(splitter, 1)
        self.replay_check.toggled.connect(self._on_replay_check_toggled)
        self.replay_slider.valueChanged.connect(self._on_replay_slider_value_changed)

        # Latest value wins: a drag or a mouse move redraws once per event-loop turn.
        self._traversal_later = qthrottled(self._update_traversal, timeout=0, leading=False,
                                           parent=self)
        self._hover_later = qthrottled(self._on_hover, timeout=0, leading=False, parent=self)
        self.plot.scene().sigMouseMoved.connect(self._hover_later)
        self.plot.scene().sigMouseClicked.connect(self._on_plot_clicked)
        self.reset_button.clicked.connect(self._on_reset_clicked)
        self.method_box.currentIndexChanged.connect(self._on_method_changed)
        self.apply_button.clicked.connect(self._on_apply_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.lasso_button.toggled.connect(self._on_lasso_toggled)
        self.viewbox.lasso_finished.connect(self._on_lasso_finished)
        self.send_interp_button.clicked.connect(self._on_send_interp_clicked)
        self.thumbs_check.toggled.connect(self._update_sprites)
        self._sprites_later = qthrottled(self._update_sprites, timeout=50, leading=False,
                                         parent=self)
        self.viewbox.sigRangeChanged.connect(self._sprites_later)
        self._update_param_boxes()

    # -- computing the map (lazily: only while visible) ----------------------------------------
    def _update_run(self) -> None:
        self._end_replay()
        self._dirty = True
        if self.isVisible():
            self.recompute()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty and self.run is not None and not self.is_showing_hint:
            self.recompute()

    def recompute(self) -> None:
        """Encode the test split (cached per run and training step), project it and redraw."""
        run = self.run
        self._dirty = False
        test = run.dataset.test
        key = (len(run.history), id(test), id(run.model))  # training moves the points
        cached = self._cache.get(run.id)
        if cached is None or cached[0] != key:
            encoded = explore.encode_split(run.model, test)
            cached = (key, encoded, explore.latent_map(encoded), explore.dimension_usage(encoded))
            self._cache = {run.id: cached}  # one run's codes at a time: 10,000 × nz floats
        _, self.encoded, self.map, self.usage = cached
        self._codes_np = self.encoded.means.numpy().astype(np.float32)
        self._codes_key = lm.codes_fingerprint(self._codes_np)
        self.fitted = self._pca_fitted()
        self._clear_selection()
        self._update_scatter()
        self._build_sliders()
        self.select_point(0 if len(self.map.coords) else None)
        self._show_chosen_method()

    def _pca_fitted(self) -> lm.FittedMap:
        """The PCA map (panel_math.latent_map's) as a FittedMap, with its projection."""
        m = self.map
        ex = m.explained * 100
        return lm.FittedMap("pca", lm.MapParams(), m.coords, self._codes_key,
                            axis_labels=(f"PC 1 ({ex[0]:.0f}% of variance)", f"PC 2 ({ex[1]:.0f}%)"),
                            placer=lambda z: m.project(torch.from_numpy(np.asarray(z, np.float32))))

    @property
    def coords(self) -> np.ndarray | None:
        """(N, 2): where the test codes are drawn now (the shown method's map)."""
        return self.fitted.coords if self.fitted is not None else None

    @property
    def method(self) -> str:
        """The method chosen in the picker ('pca', 'umap', 'tsne')."""
        return self.method_box.currentData()

    def params(self) -> lm.MapParams:
        return lm.MapParams(n_neighbors=self.neighbors_box.value(),
                            min_dist=round(self.min_dist_box.value(), 4),
                            perplexity=round(self.perplexity_box.value(), 4),
                            seed=self.seed_box.value())

    def _update_param_boxes(self) -> None:
        used = lm.get_map_method(self.method).params
        for box, name in ((self.neighbors_box, "n_neighbors"), (self.min_dist_box, "min_dist"),
                          (self.perplexity_box, "perplexity")):
            box.setEnabled(name in used)
        self.seed_box.setEnabled(self.method != "pca")
        self.apply_button.setEnabled(self.method != "pca")

    def _show_chosen_method(self) -> None:
        """Show the chosen method's map: from memory, the cache file, or fit it (background)."""
        if self.run is None or self.encoded is None or self.is_showing_hint:
            return
        method, params = self.method, self.params()
        if method == "pca":
            self.runner.cancel()
            self._set_fitted(self._pca_fitted())
            self.method_status.setText("")
            return
        run_id = self.run.id
        found = self.maps.get(run_id, method, params, self._codes_key)
        if found is None and self.run.path is not None and self.run.saved:
            found = lm.read_cached_map(self.run.path, method, params, self._codes_np)
            if found is not None:
                self.maps.put(run_id, found)
        if found is not None:
            self.runner.cancel()
            self._set_fitted(found)
            self._show_progress(False)
            if found.placer is None:  # from the file: rebuild its transform, the map stays
                self._fitting_for = (run_id, found.key)
                self.runner.warm(self._codes_np, found)
            return
        label = lm.get_map_method(method).label
        self._fitting_for = (run_id, lm.map_key(method, params, self._codes_key))
        self.method_status.setText(f"Computing the {label} map of {len(self._codes_np):,} "
                                   f"codes in the background; the {self.fitted.method.upper()} "
                                   "map stays until it is ready.")
        self._show_progress(True)
        self.runner.fit(self._codes_np, method, params)

    def _show_progress(self, on: bool) -> None:
        self.busy_row.setVisible(on)
        if on:
            self.progress.setRange(0, 0)  # busy, how far unknown yet
            self._fit_what = "starting…"
            self._fit_started = time.monotonic()
            self._show_fit_status()
            self._busy_timer.start()
        else:
            self._busy_timer.stop()

    def _show_fit_status(self) -> None:
        self.fit_status.setText(lm.busy_text(self._fit_what,
                                             time.monotonic() - self._fit_started))

    def _set_fitted(self, fitted: lm.FittedMap) -> None:
        self.fitted = fitted
        self._clear_selection()
        self._update_scatter()
        if self.selected is not None:
            self.marker.setData(pos=self.coords[self.selected : self.selected + 1])
        elif self.z is not None:
            self.marker.setData(pos=self.place(self.z.numpy()[None]))
        self.maps.set_shown(self.run.id, fitted if fitted.method != "pca" else None)
        self._update_sprites()

    def place(self, z: np.ndarray) -> np.ndarray:
        """(n, 2): codes z on the shown map (its transform, or the neighbours' mean until the
        transform of a cached map is rebuilt)."""
        return self.fitted.place(z, self._codes_np)

    def _on_method_changed(self, _index: int) -> None:
        self._update_param_boxes()
        self._show_chosen_method()

    def _on_apply_clicked(self) -> None:
        self._show_chosen_method()

    def _on_cancel_clicked(self) -> None:
        self.runner.cancel()

    def _on_runner_progressed(self, fraction: float, text: str) -> None:
        if fraction > 0:  # the method says how far it is (UMAP's layout epochs, t-SNE's steps)
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        else:  # compiling, finding neighbours: busy, no measure of how far
            self.progress.setRange(0, 0)
        self._fit_what = text
        self._show_fit_status()

    def _on_runner_fitted(self, fitted: lm.FittedMap) -> None:
        target, self._fitting_for = self._fitting_for, None
        self._show_progress(False)
        if target is None or self.run is None or target != (self.run.id, fitted.key):
            return  # a map for another run or other codes (the run moved on): drop it
        self.maps.put(self.run.id, fitted)
        label = lm.get_map_method(fitted.method).label
        where = ""
        if self.run.path is not None and self.run.saved and not fitted.from_cache:
            if lm.write_cached_map(self.run.path, fitted) is not None:
                where = f"; cached in {lm.cache_path(self.run.path).name}"
        if fitted.from_cache:
            self.method_status.setText(f"{label} map read from {lm.cache_path(self.run.path).name}; "
                                       "its transform is ready to place drawings.")
        else:
            self.method_status.setText(f"{label} map computed in {fitted.seconds:.1f} s{where}.")
        self._set_fitted(fitted)

    def _on_runner_failed(self, message: str) -> None:
        self._fitting_for = None
        self._show_progress(False)
        self.method_status.setText(f"The map could not be computed: {message}")

    def _on_runner_cancelled(self) -> None:
        self._fitting_for = None
        self._show_progress(False)
        self.method_status.setText(f"Cancelled; showing the {self.fitted.method.upper()} map.")
        if self.fitted is not None and self.fitted.method != self.method:
            self.method_box.blockSignals(True)
            self.method_box.setCurrentIndex(self.method_box.findData(self.fitted.method))
            self.method_box.blockSignals(False)
            self._update_param_boxes()

    def shutdown(self) -> None:
        self._busy_timer.stop()
        self.runner.shutdown()

    def _update_scatter(self) -> None:
        m, names = self.fitted, self.run.dataset.class_names
        labels = self.encoded.labels
        while len(self.scatters) < len(names):  # an image folder may have more than 10 classes
            item = pg.ScatterPlotItem(size=5, pen=None,
                                      brush=pg.mkBrush(TAB10[len(self.scatters) % len(TAB10)]))
            self.plot.addItem(item)
            self.scatters.append(item)
        self.legend.clear()
        for c, item in enumerate(self.scatters):
            pts = m.coords[labels == c]
            item.setData(pos=pts)
            if len(pts):
                self.legend.addItem(item, names[c] if c < len(names) else str(c))
        self.plot.setLabel("bottom", m.axis_labels[0])
        self.plot.setLabel("left", m.axis_labels[1])
        self.plot.autoRange()
        how = {"pca": "projected on their 2 principal directions (PCA)",
               "umap": "laid out by UMAP (neighbourhoods kept; distances between clusters "
                       "mean little)",
               "tsne": "laid out by t-SNE (neighbourhoods kept; cluster sizes and gaps mean "
                       "little)"}.get(m.method, f"mapped by {m.method}")
        self.caption.setText(
            f"{run_caption(self.run)}: posterior means of {len(m.coords):,} test images, "
            f"{how}. Colour: label.")

    def _clear(self) -> None:
        self._end_replay()
        self.runner.cancel()
        self._show_progress(False)
        self.encoded = self.map = self.usage = None
        self.fitted = None
        self.z = None
        self.selected = None
        for item in self.scatters:
            item.clear()
        self.marker.clear()
        self._clear_selection()
        self.preview.clear_images()
        self.traversal_view.clear_images()

    # -- picking points ------------------------------------------------------------------------
    def _pick_radius(self) -> tuple[float, float]:
        px = self.plot.getViewBox().viewPixelSize()
        return (max(px[0], 1e-12) * PICK_RADIUS_PX, max(px[1], 1e-12) * PICK_RADIUS_PX)

    def point_at(self, x: float, y: float) -> int | None:
        """The test image whose point is within a few pixels of (x, y), if any."""
        if self.map is None:
            return None
        return explore.nearest_point(self.coords, (x, y), self._pick_radius())

    def click_at(self, x: float, y: float) -> None:
        """A click at map coordinates: choose the point there, or decode the latent point."""
        if self.map is None:
            return
        i = self.point_at(x, y)
        if i is not None:
            self.select_point(i)
        else:
            self.decode_map_point(x, y)

    def select_point(self, i: int | None) -> None:
        """Choose test image i: show it and its reconstruction; the sliders start at its code."""
        if i is None or self.map is None:
            return
        self.selected = i
        self.custom_image = None
        test = self.run.dataset.test
        x, y = explore.split_images(test, [i])
        self.label = int(y[0])
        rec = explore.reconstruct(self.run.model, x, y)
        self.z = self.encoded.means[i].clone()
        self._show_preview(np.concatenate([rec.originals, rec.reconstructions]),
                           f"Test image #{i} (label {self.label}) and its reconstruction "
                           f"(BCE/pixel {float(rec.errors[0]):.3f}).")
        self.marker.setData(pos=self.coords[i : i + 1])
        self._set_sliders_from_z()

    def decode_map_point(self, x: float, y: float) -> None:
        """Decode the latent point there: on PCA mean + x·pc1 + y·pc2; on UMAP/t-SNE, which
        have no exact inverse, the distance-weighted mean code of the nearest map points (a
        CVAE uses the nearest point's label)."""
        self.selected = None
        self.custom_image = None
        self.map_point = (x, y)
        coords = self.coords
        if self.fitted.method == "pca":
            self.z = self.map.to_latent((x, y))[0]
            how = ""
        else:
            z = lm.neighbour_place(coords, self._codes_np, np.array([[x, y]], np.float32))
            self.z = torch.from_numpy(z[0].copy())
            how = " (the mean code of the nearest points there)"
        d = (coords[:, 0] - x) ** 2 + (coords[:, 1] - y) ** 2
        self.label = int(self.encoded.labels[int(np.argmin(d))]) if len(d) else 0
        img = explore.decode(self.run.model, self.z, self.label)
        note = (f", decoded as a {self.label} (the nearest point's label)"
                if self.run.is_conditional else "")
        self._show_preview(img, f"The latent point at ({x:.2f}, {y:.2f}) on the map{how}{note}.")
        self.marker.setData(pos=np.array([[x, y]], np.float32))
        self._set_sliders_from_z()

    def accepts(self, target: str) -> bool:
        return target == TRAVERSAL_START

    def receive_image(self, target: str, image: np.ndarray) -> None:
        self.use_image(image)

    def use_image(self, image: np.ndarray) -> None:
        """Make a 28×28 image in [0, 1] (a drawing) the chosen point: its code starts the traversal."""
        if self.run is None or self.is_showing_hint:
            return
        if self.map is None or self._dirty:
            self.recompute()
        a = drawing.analyse(self.run.model, image)  # a CVAE encodes it with its own guess
        self.selected = None
        self.custom_image = a.image
        self.z = torch.from_numpy(a.mean.copy())
        self.label = a.label
        guess = f" (read as {a.label})" if a.label is not None else ""
        self._show_preview(np.stack([a.image, a.reconstruction]),
                           f"Your drawing{guess} and its reconstruction (BCE/pixel {a.error:.3f}); "
                           "the sliders start at its code.")
        self.marker.setData(pos=self.place(self.z.numpy()[None]))
        self._set_sliders_from_z()

    def _show_preview(self, images: np.ndarray, text: str) -> None:
        self.preview_images = images
        self._preview_text = text
        self.hovered = None
        self.preview.set_images(images, ncols=len(images))
        self.preview_caption.setText(text)

    def _on_hover(self, scene_pos) -> None:
        """Preview the point under the mouse; off any point, the chosen one comes back."""
        if self.map is None or self.is_showing_hint or self.is_replaying:
            return
        vb = self.plot.getViewBox()
        p = vb.mapSceneToView(scene_pos)
        i = self.point_at(p.x(), p.y()) if vb.sceneBoundingRect().contains(scene_pos) else None
        if i == self.hovered:
            return
        self.hovered = i
        if i is None:
            self.hover_thumb.setVisible(False)
            self.preview.set_images(self.preview_images, ncols=len(self.preview_images))
            self.preview_caption.setText(self._preview_text)
            return
        x, y = explore.split_images(self.run.dataset.test, [i])
        self._show_hover_thumbnail(i, x[0].numpy().reshape(28, 28))
        rec = explore.reconstruct(self.run.model, x, y)
        self.preview.set_images(np.concatenate([rec.originals, rec.reconstructions]), ncols=2)
        self.preview_caption.setText(f"Hovering test image #{i} (label {int(y[0])}) and its "
                                     f"reconstruction (BCE/pixel {float(rec.errors[0]):.3f}); "
                                     "click to choose it.")

    def _on_plot_clicked(self, ev) -> None:
        if self.map is None or self.is_replaying or ev.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = vb.mapSceneToView(ev.scenePos())
        self.click_at(p.x(), p.y())

    def _show_hover_thumbnail(self, i: int, image: np.ndarray) -> None:
        """The hovered point's image on the map, just above and right of it, THUMB_PX big."""
        pw, ph = self.plot.getViewBox().viewPixelSize()
        x, y = self.coords[i]
        w, h = THUMB_PX * 2 * pw, THUMB_PX * 2 * ph
        self.hover_thumb.setImage(np.flipud(image), autoLevels=False, levels=(0, 1))
        self.hover_thumb.setRect(float(x + 4 * pw), float(y + 4 * ph), w, h)
        self.hover_thumb.setVisible(True)

    def hover_thumbnail(self) -> np.ndarray | None:
        """The image drawn beside the hovered point (None when none is shown)."""
        if not self.hover_thumb.isVisible() or self.hover_thumb.image is None:
            return None
        return np.flipud(self.hover_thumb.image)

    # -- thumbnails per point when zoomed in ---------------------------------------------------
    def _update_sprites(self, *_args) -> None:
        """With Thumbnails on, each point in view gets its image (when at most MAX_SPRITES
        are in view: zoom in for them); off, or zoomed out, none."""
        shown: list[int] = []
        if (self.thumbs_check.isChecked() and self.coords is not None and not self.is_replaying
                and not self.is_showing_hint):
            (x0, x1), (y0, y1) = self.plot.getViewBox().viewRange()
            c = self.coords
            inside = np.flatnonzero((c[:, 0] >= x0) & (c[:, 0] <= x1) & (c[:, 1] >= y0) & (c[:, 1] <= y1))
            if len(inside) <= MAX_SPRITES:
                shown = [int(i) for i in inside]
                self.method_status.setText(f"Thumbnails: {len(shown)} points in view.")
            else:
                self.method_status.setText(f"Thumbnails: zoom in ({len(inside):,} points in view, "
                                           f"at most {MAX_SPRITES} get one).")
        while len(self.sprites) < len(shown):
            item = pg.ImageItem(axisOrder="row-major", levels=(0, 1))
            item.setZValue(5)
            self.plot.addItem(item, ignoreBounds=True)
            self.sprites.append(item)
        if shown:
            imgs, _ = explore.split_images(self.run.dataset.test, shown)
            imgs = imgs.numpy().reshape(-1, 28, 28)
            pw, ph = self.plot.getViewBox().viewPixelSize()
            w, h = THUMB_PX * pw, THUMB_PX * ph
            for item, i, img in zip(self.sprites, shown, imgs):
                x, y = self.coords[i]
                item.setImage(np.flipud(img), autoLevels=False, levels=(0, 1))
                item.setRect(float(x - w / 2), float(y - h / 2), w, h)
                item.setVisible(True)
        for item in self.sprites[len(shown):]:
            item.setVisible(False)
        self._sprite_indices = shown

    def thumbnail_indices(self) -> list[int]:
        """The test images drawn as thumbnails on the map now."""
        return list(self._sprite_indices)

    # -- lasso selection -----------------------------------------------------------------------
    def _on_lasso_toggled(self, on: bool) -> None:
        self.viewbox.lasso_mode = on
        self.plot.setMouseEnabled(x=True, y=True)

    def _on_lasso_finished(self, polygon: np.ndarray) -> None:
        if self.coords is None or self.is_replaying:
            return
        self.select_polygon(polygon)

    def select_polygon(self, polygon: np.ndarray) -> np.ndarray:
        """Select the points inside `polygon` (map coordinates); returns their indices."""
        idx = np.flatnonzero(lm.points_in_polygon(self.coords, polygon))
        self.selections = (self.selections + [idx])[-2:]
        self._update_selection()
        return idx

    def _clear_selection(self) -> None:
        self.selections = []
        self.selection_mean = None
        self.viewbox.lasso_curve.setData([], [])
        self.selection_marks.clear()
        self.selection_strip.clear_images()
        self.selection_mean_view.clear_images()
        self.selection_caption.setText("Lasso: drag around points to select them.")
        self.send_interp_button.setEnabled(False)

    def _update_selection(self) -> None:
        idx = self.selections[-1]
        self.send_interp_button.setEnabled(len(self.selections) == 2
                                           and all(len(s) for s in self.selections))
        if not len(idx):
            self.selection_marks.clear()
            self.selection_strip.clear_images()
            self.selection_mean_view.clear_images()
            self.selection_mean = None
            self.selection_caption.setText("The lasso caught no points.")
            return
        self.selection_marks.setData(pos=self.coords[idx])
        imgs, _ = explore.split_images(self.run.dataset.test, idx[:STRIP_MAX])
        self.selection_strip.set_images(imgs.numpy().reshape(-1, 28, 28),
                                        ncols=min(len(idx), STRIP_MAX // 2))
        self.selection_mean = self._decode_mean(idx)
        self.selection_mean_view.set_images(self.selection_mean[None], ncols=1)
        names = self.run.dataset.class_names
        counts = lm.class_counts(self.encoded.labels[idx], max(len(names), 1))
        parts = [f"{names[c] if c < len(names) else c}: {n}"
                 for c, n in sorted(enumerate(counts), key=lambda t: -t[1]) if n]
        which = "B" if len(self.selections) == 2 else "A"
        shown = f" (the first {STRIP_MAX} shown)" if len(idx) > STRIP_MAX else ""
        self.selection_caption.setText(
            f"Selection {which}: {len(idx):,} images{shown}; by class " + ", ".join(parts)
            + ". Right: the decoded mean of their codes.")

    def _decode_mean(self, idx: np.ndarray) -> np.ndarray:
        """The decoding of the selection's mean code (a CVAE: with its most common label)."""
        z = self.encoded.means[idx].mean(dim=0)
        label = None
        if self.run.is_conditional:
            label = int(np.bincount(self.encoded.labels[idx]).argmax())
        return explore.decode(self.run.model, z, label)[0]

    def selection_class_counts(self) -> dict[int, int]:
        """The last selection's images per class, as its caption says."""
        if not self.selections:
            return {}
        counts = lm.class_counts(self.encoded.labels[self.selections[-1]],
                                 max(len(self.run.dataset.class_names), 1))
        return {c: int(n) for c, n in enumerate(counts) if n}

    def _on_send_interp_clicked(self) -> None:
        if len(self.selections) < 2:
            return
        a, b = (self._decode_mean(s) for s in self.selections)
        self.sent.emit(INTERPOLATION_START, a)
        self.sent.emit(INTERPOLATION_END, b)

    # -- replaying the timeline ----------------------------------------------------------------
    @property
    def is_replaying(self) -> bool:
        return self.replay_check.isChecked()

    def replay_coords(self) -> np.ndarray | None:
        """(S, k, 2): every snapshot's aligned map of the fixed codes (cached per timeline)."""
        tl = self.run.timeline if self.run is not None else None
        if tl is None or not tl.snapshots:
            return None
        if self._aligned is None or self._aligned[:2] != (id(tl), len(tl)):
            self._aligned = (id(tl), len(tl), tl.aligned_coords())
        return self._aligned[2]

    def _update_replay_controls(self) -> None:
        tl = self.run.timeline if self.run is not None else None
        n = len(tl) if tl is not None else 0
        self.replay_check.setEnabled(n > 0)
        self.replay_check.setToolTip(
            "Show how the clusters formed: the fixed test codes at each snapshot of the run's "
            "training timeline" if n else "This run has no training timeline (an older "
            "checkpoint) to replay")
        self.replay_slider.blockSignals(True)
        self.replay_slider.setRange(0, max(0, n - 1))
        self.replay_slider.setValue(max(0, n - 1))
        self.replay_slider.blockSignals(False)
        self.replay_slider.setEnabled(n > 0 and self.is_replaying)

    def _end_replay(self) -> None:
        """Back to the live map (quietly: the caller redraws), the controls for the new run."""
        if self.replay_check.isChecked():
            self.replay_check.blockSignals(True)
            self.replay_check.setChecked(False)
            self.replay_check.blockSignals(False)
        self.replay_label.setText("")
        self._aligned = None
        self._update_replay_controls()

    def _on_replay_check_toggled(self, on: bool) -> None:
        self.replay_slider.setEnabled(on)
        if on:
            coords = self.replay_coords()
            if coords is None:
                return
            x, y = self.marker.getData()
            self._live_marker = np.column_stack([x, y]) if x is not None else None
            self.marker.clear()
            self.hovered = None
            self.hover_thumb.setVisible(False)
            self._update_sprites()
            self.show_replay(self.replay_slider.value())
            pts = coords.reshape(-1, 2)
            # One range for the whole replay: the map is seen spreading as the model learns.
            self.plot.setRange(xRange=(float(pts[:, 0].min()), float(pts[:, 0].max())),
                               yRange=(float(pts[:, 1].min()), float(pts[:, 1].max())),
                               padding=0.05)
            return
        self.replay_label.setText("")
        if self.map is None or self._dirty:
            self.recompute()
            return
        self._update_scatter()
        self._update_sprites()
        if self._live_marker is not None and len(self._live_marker):
            self.marker.setData(pos=self._live_marker)

    def _on_replay_slider_value_changed(self, value: int) -> None:
        if self.is_replaying:
            self.show_replay(value)

    def show_replay(self, index: int) -> None:
        """Draw snapshot `index`'s aligned map of the fixed codes, coloured by label."""
        coords = self.replay_coords()
        if coords is None:
            return
        tl = self.run.timeline
        index = min(max(int(index), 0), len(tl) - 1)
        snap, pts, labels = tl.snapshots[index], coords[index], tl.code_labels
        while len(self.scatters) <= int(labels.max(initial=0)):
            item = pg.ScatterPlotItem(size=5, pen=None,
                                      brush=pg.mkBrush(TAB10[len(self.scatters) % len(TAB10)]))
            self.plot.addItem(item)
            self.scatters.append(item)
        for c, item in enumerate(self.scatters):
            item.setData(pos=pts[labels == c])
        ex = snap.explained * 100
        self.plot.setLabel("bottom", f"PC 1 at that step ({ex[0]:.0f}% of variance)")
        self.plot.setLabel("left", f"PC 2 ({ex[1]:.0f}%)")
        self.replay_label.setText(f"step {snap.step:,} · epoch {snap.epoch:.2f}")
        self.caption.setText(
            f"{run_caption(self.run)} at training step {snap.step:,} (epoch {snap.epoch:.2f}, "
            f"snapshot {index + 1} of {len(tl)}): {len(pts):,} fixed test codes as the model "
            "placed them then, on that step's 2 principal directions, turned to line up with "
            "the previous snapshot's. Colour: label.")

    # -- traversal ---------------------------------------------------------------------------
    def _build_sliders(self) -> None:
        """One slider per shown dimension, most used first; sliders are reused across runs."""
        self.slider_dims = [int(d) for d in self.usage.order[:MAX_SLIDERS]]
        while len(self.sliders) < len(self.slider_dims):
            k = len(self.sliders)
            s = QSlider(Qt.Orientation.Horizontal)
            s.setRange(0, SLIDER_STEPS)
            s.setMinimumWidth(120)
            s.valueChanged.connect(partial(self._on_slider_changed, k))
            label = QLabel()
            label.setMinimumWidth(150)
            self._slider_grid.addWidget(label, k, 0)
            self._slider_grid.addWidget(s, k, 1)
            self.sliders.append(s)
            self.slider_labels.append(label)
        for k, (s, label) in enumerate(zip(self.sliders, self.slider_labels)):
            s.setVisible(k < len(self.slider_dims))
            label.setVisible(k < len(self.slider_dims))
        self._label_sliders()

    def _label_sliders(self) -> None:
        u = self.usage
        unused_dims = explore.unused_dimensions(u)
        for d, label, s in zip(self.slider_dims, self.slider_labels, self.sliders):
            unused = bool(unused_dims[d])
            label.setText(f"z{d}  {u.measure} {u.usage[d]:.2f}" + (" (unused)" if unused else ""))
            label.setEnabled(not unused)
            s.setToolTip(f"z{d} from {u.low[d]:.2f} to {u.high[d]:.2f}")
        nz = len(u.usage)
        k = len(self.slider_dims)
        shown = f"the {k} most used of {nz}" if nz > k else f"all {nz}"
        self.traversal_caption.setText(f"Sliders for {shown} latent dimensions, most used first "
                                       f"({u.why}). Right image: decode(z), live.")

    def _value_to_slider(self, d: int, v: float) -> int:
        lo, hi = self.usage.low[d], self.usage.high[d]
        return int(round(np.clip((v - lo) / (hi - lo), 0, 1) * SLIDER_STEPS))

    def slider_value(self, d: int, position: int) -> float:
        lo, hi = self.usage.low[d], self.usage.high[d]
        return float(lo + (hi - lo) * position / SLIDER_STEPS)

    def _set_sliders_from_z(self) -> None:
        for d, s in zip(self.slider_dims, self.sliders):
            s.blockSignals(True)  # one decode below, not one per slider
            s.setValue(self._value_to_slider(d, float(self.z[d])))
            s.blockSignals(False)
        self._update_traversal()

    def _on_slider_changed(self, k: int, position: int) -> None:
        if self.z is None or k >= len(self.slider_dims):
            return
        d = self.slider_dims[k]
        self.z[d] = self.slider_value(d, position)
        self._traversal_later()

    def _on_reset_clicked(self) -> None:
        if self.selected is not None:
            self.select_point(self.selected)
        elif self.custom_image is not None:
            self.use_image(self.custom_image)
        elif self.z is not None and self.map is not None:
            self.decode_map_point(*self.map_point)

    def _update_traversal(self) -> None:
        if self.z is None or self.run is None or self.is_showing_hint:
            return
        self.traversal_image = explore.decode(self.run.model, self.z, self.label)
        self.traversal_view.set_images(self.traversal_image, ncols=1)

    # -- export ------------------------------------------------------------------------------
    def export_grid(self) -> np.ndarray | None:
        """The chosen image, its reconstruction and the traversal decoding, as one strip."""
        if self.preview_images is None or self.traversal_image is None:
            return None
        images = np.concatenate([self.preview_images, self.traversal_image])
        return make_grid(images, ncols=len(images))

    def map_export(self) -> MapExport | None:
        """The shown map's points: the test images' codes, labels and map coordinates, and the
        last lasso selection's indices (None: no map yet)."""
        if self.encoded is None or self.coords is None:
            return None
        enc = self.encoded
        sigmas = enc.log_sigmas.numpy() if enc.log_sigmas is not None else None
        selected = self.selections[-1] if self.selections else None
        return MapExport(self._codes_np, self.coords, enc.labels, sigmas, selected)

    def can_export_data(self) -> bool:
        return self.map_export() is not None

    def export_data(self, path) -> str:
        data = self.map_export()
        write_map(path, data)
        label = lm.get_map_method(self.fitted.method).label
        picked = f", {len(data.selected):,} selected" if data.selected is not None else ""
        return f"{len(data.codes):,} codes of {self.run.name} with their {label} map{picked}"

    def save_png(self, path: str | Path) -> Path | None:
        """The map as drawn (a plot, not an image grid)."""
        if self.map is None:
            return None
        path = Path(path)
        self.plot.grab().save(str(path), "PNG")
        return path
