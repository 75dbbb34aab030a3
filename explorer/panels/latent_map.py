"""The test split's posterior means in 2-D (PCA), walkable, with per-dimension traversal.

"Replay training" swaps the live map for the run's timeline: the 1,000 fixed test codes as the
model placed them at each snapshot, aligned from one snapshot to the next
(`Timeline.aligned_coords`), on one fixed range so the clusters are seen forming and spreading.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from superqt.utils import qthrottled

from explorer.panels.base import TAB10, TRAVERSAL_START, Panel, row, run_caption
from explorer.widgets.image_view import ImageView
from training.explore import drawing
from training.explore import panel_math as explore
from training.explore.render import make_grid

MAX_SLIDERS = 32  # the most-used dimensions get a slider; the rest keep their value
SLIDER_STEPS = 200
PICK_RADIUS_PX = 6


class LatentMapPanel(Panel):
    """Scatter of PCA-projected posterior means coloured by label; hover, click, walk, traverse."""

    title = "Latent map"

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

        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.plot = pg.PlotWidget(background=pg.mkColor(32, 32, 32))
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
        layout.addLayout(top)
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
        self._update_scatter()
        self._build_sliders()
        self.select_point(0 if len(self.map.coords) else None)

    def _update_scatter(self) -> None:
        m, names = self.map, self.run.dataset.class_names
        while len(self.scatters) < len(names):  # an image folder may have more than 10 classes
            item = pg.ScatterPlotItem(size=5, pen=None,
                                      brush=pg.mkBrush(TAB10[len(self.scatters) % len(TAB10)]))
            self.plot.addItem(item)
            self.scatters.append(item)
        self.legend.clear()
        for c, item in enumerate(self.scatters):
            pts = m.coords[m.labels == c]
            item.setData(pos=pts)
            if len(pts):
                self.legend.addItem(item, names[c] if c < len(names) else str(c))
        ex = m.explained * 100
        self.plot.setLabel("bottom", f"PC 1 ({ex[0]:.0f}% of variance)")
        self.plot.setLabel("left", f"PC 2 ({ex[1]:.0f}%)")
        self.plot.autoRange()
        self.caption.setText(
            f"{run_caption(self.run)}: posterior means of {len(m.coords):,} test images, "
            f"projected on their 2 principal directions (PCA). Colour: label.")

    def _clear(self) -> None:
        self._end_replay()
        self.encoded = self.map = self.usage = None
        self.z = None
        self.selected = None
        for item in self.scatters:
            item.clear()
        self.marker.clear()
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
        return explore.nearest_point(self.map.coords, (x, y), self._pick_radius())

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
        self.marker.setData(pos=self.map.coords[i : i + 1])
        self._set_sliders_from_z()

    def decode_map_point(self, x: float, y: float) -> None:
        """Decode the latent point mean + x·pc1 + y·pc2 (a CVAE uses the nearest point's label)."""
        self.selected = None
        self.custom_image = None
        self.map_point = (x, y)
        self.z = self.map.to_latent((x, y))[0]
        d = (self.map.coords[:, 0] - x) ** 2 + (self.map.coords[:, 1] - y) ** 2
        self.label = int(self.map.labels[int(np.argmin(d))]) if len(d) else 0
        img = explore.decode(self.run.model, self.z, self.label)
        note = (f", decoded as a {self.label} (the nearest point's label)"
                if self.run.is_conditional else "")
        self._show_preview(img, f"The latent point at ({x:.2f}, {y:.2f}) on the map{note}.")
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
        self.marker.setData(pos=self.map.project(self.z))
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
            self.preview.set_images(self.preview_images, ncols=len(self.preview_images))
            self.preview_caption.setText(self._preview_text)
            return
        x, y = explore.split_images(self.run.dataset.test, [i])
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
        why = ("average KL to the prior in nats; ~0 means the decoder ignores it" if u.measure == "KL"
               else "variance of the codes: an AE has no KL")
        self.traversal_caption.setText(f"Sliders for {shown} latent dimensions, most used first "
                                       f"({why}). Right image: decode(z), live.")

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

    def save_png(self, path: str | Path) -> Path | None:
        """The map as drawn (a plot, not an image grid)."""
        if self.map is None:
            return None
        path = Path(path)
        self.plot.grab().save(str(path), "PNG")
        return path
