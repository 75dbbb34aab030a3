"""The test split's posterior means in 2-D (PCA, UMAP, t-SNE or any registered map method),
walkable, with per-dimension traversal, hover and zoom thumbnails, and lasso selection.

The panel wires parts that each do one job: the toolbar with the method and its parameters
(map_controls.py, built from the map-method registry in training/explore/latent_methods.py),
where the chosen map comes from (map_fitting.py: at once, from memory or the `.maps.npz` cache,
or fitted in the background while the map shown stays), the plot with its legend, marker,
lasso and images on the map (map_plot.py), the lasso selections A and B (map_selection.py: both
shown at once, on the map and in their strips), the chosen
point's preview (map_preview.py), the traversal sliders (map_traversal.py) and the training
replay (map_replay.py).

Images of any size and colour: what the model decodes and the split holds is turned into
display arrays (training/explore/render.py `to_numpy_images`: (n, H, W) grey, (n, H, W, 3)
colour) for every view, and thumbnails on the map take a screen size that follows the image
size (map_plot.thumb_px).

"Replay training" swaps the live map for the run's timeline: the 1,000 fixed test codes as the
model placed them at each snapshot, aligned from one snapshot to the next
(`Timeline.aligned_coords`), on one fixed range so the clusters are seen forming and spreading.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget
from superqt.utils import qthrottled

from latent_explorer.explorer.panels.base import (INTERPOLATION_END, INTERPOLATION_START,
                                                  TRAVERSAL_START, Panel, row, run_caption)
from latent_explorer.explorer.panels.map_controls import MAX_SPRITES, MapControls
from latent_explorer.explorer.panels.map_fitting import MapFitting
from latent_explorer.explorer.panels.map_plot import MapPlot
from latent_explorer.explorer.panels.map_preview import PointPreview
from latent_explorer.explorer.panels.map_replay import ReplayControls
from latent_explorer.explorer.panels.map_selection import STRIP_MAX, Selection, SelectionBox
from latent_explorer.explorer.panels.map_traversal import MAX_SLIDERS, SLIDER_STEPS, TraversalSliders
from latent_explorer.training.explore import drawing
from latent_explorer.training.explore import latent_methods as lm
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.export import MAP_SUFFIXES, MapExport, write_map
from latent_explorer.training.explore.render import is_colour, make_grid, to_numpy_images

__all__ = ["LatentMapPanel", "MAX_SLIDERS", "MAX_SPRITES", "SLIDER_STEPS", "STRIP_MAX",
           "model_layout"]


def model_layout(image: np.ndarray) -> np.ndarray:
    """One display image, (H, W) grey or (H, W, 3) colour, as the model lays images out:
    (C, H, W) float32 in [0, 1]. What "Send to" carries to another tab."""
    a = np.asarray(image, np.float32)
    return np.ascontiguousarray(a.transpose(2, 0, 1) if is_colour(a) else a[None])


class LatentMapPanel(Panel):
    """Scatter of mapped posterior means coloured by label; hover, click, walk, traverse."""

    title = "Latent map"
    data_suffixes = MAP_SUFFIXES
    data_filter = ("NumPy arrays: codes, log σ, coords, labels, selected (*.npz);;"
                   "CSV table: index, label, x, y, z0…, selected (*.csv);;"
                   "NumPy record array, the CSV's columns (*.npy)")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cache: dict[int, tuple[tuple, explore.Encoded, explore.LatentMap, explore.DimensionUsage]] = {}
        self.encoded: explore.Encoded | None = None
        self.map: explore.LatentMap | None = None  # the PCA of the codes (panel_math's)
        self.usage: explore.DimensionUsage | None = None
        self.fitted: lm.FittedMap | None = None  # the map shown (the default until another is ready)
        self.selected: int | None = None  # index of the chosen test image, None for a map point
        self.map_point: tuple[float, float] = (0.0, 0.0)  # the map point decoded when not an image
        self.custom_image: np.ndarray | None = None  # a drawing sent here, the chosen point
        self.label: int | None = None  # the class a CVAE decodes z with
        self.hovered: int | None = None
        self._live_marker: np.ndarray | None = None  # the chosen point, hidden while replaying
        self._codes_np: np.ndarray | None = None
        self._codes_key = ""
        self._sprite_indices: list[int] = []

        # The parts, and their widgets under the names the tests and tools use.
        self.controls = MapControls()
        self.map_plot = MapPlot()
        self.selection_box = SelectionBox()
        self.point_preview = PointPreview()
        self.traversal = TraversalSliders()
        self.replay = ReplayControls()
        self.fitting = MapFitting(self.controls, lambda: self.run, lambda: self.fitted, self)
        self.runner, self.maps = self.fitting.runner, self.fitting.maps
        c, mp, sel, pv, tr, rp = (self.controls, self.map_plot, self.selection_box,
                                  self.point_preview, self.traversal, self.replay)
        self.method_box, self.seed_box, self.apply_button = c.method_box, c.seed_box, c.apply_button
        self.lasso_button, self.thumbs_check, self.method_status = (c.lasso_button, c.thumbs_check,
                                                                    c.method_status)
        self.busy_row, self.progress, self.fit_status, self.cancel_button = (
            c.busy_row, c.progress, c.fit_status, c.cancel_button)
        self.plot, self.viewbox, self.legend, self.scatters = mp.plot, mp.viewbox, mp.legend, mp.scatters
        self.marker, self.selection_marks, self.hover_thumb = mp.marker, mp.selection_marks, mp.hover_thumb
        self.send_interp_button, self.clear_selection_button = sel.send_button, sel.clear_button
        self.preview, self.traversal_view, self.preview_caption = pv.view, pv.traversal_view, pv.caption
        self.sliders, self.slider_labels = tr.sliders, tr.slider_labels
        self.reset_button, self.traversal_caption = tr.reset_button, tr.caption
        self.replay_check, self.replay_slider, self.replay_label = rp.check, rp.slider, rp.label

        self.caption = QLabel()
        self.caption.setWordWrap(True)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(pv)
        rl.addWidget(sel)
        rl.addWidget(tr, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(mp)
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
        layout.addWidget(c)
        layout.addWidget(rp)
        layout.addWidget(splitter, 1)

        # Latest value wins: a drag or a mouse move redraws once per event-loop turn.
        self._traversal_later = qthrottled(self._update_traversal, timeout=0, leading=False, parent=self)
        self._hover_later = qthrottled(self._on_hover, timeout=0, leading=False, parent=self)
        self._sprites_later = qthrottled(self._update_sprites, timeout=50, leading=False, parent=self)
        self.plot.scene().sigMouseMoved.connect(self._hover_later)
        self.plot.scene().sigMouseClicked.connect(self._on_plot_clicked)
        self.viewbox.sigRangeChanged.connect(self._sprites_later)
        self.viewbox.lasso_finished.connect(self._on_lasso_finished)
        c.method_changed.connect(self._show_chosen_method)
        c.apply_clicked.connect(self._show_chosen_method)
        c.cancel_clicked.connect(self.fitting.runner.cancel)
        c.lasso_button.toggled.connect(self._on_lasso_toggled)
        c.thumbs_check.toggled.connect(self._update_sprites)
        self.fitting.ready.connect(self._set_fitted)
        sel.send_button.clicked.connect(self._on_send_interp_clicked)
        sel.clear_button.clicked.connect(self._clear_selection)
        tr.edited.connect(self._traversal_later)
        tr.reset_button.clicked.connect(self._on_reset_clicked)
        rp.check.toggled.connect(self._on_replay_check_toggled)
        rp.slider.valueChanged.connect(self._on_replay_slider_value_changed)

    # -- state the parts hold, under the panel's names -------------------------------------------
    @property
    def z(self) -> torch.Tensor | None:
        """The code the traversal sliders edit."""
        return self.traversal.z

    @property
    def slider_dims(self) -> list[int]:
        return self.traversal.slider_dims

    def slider_value(self, d: int, position: int) -> float:
        return self.traversal.slider_value(d, position)

    @property
    def preview_images(self) -> np.ndarray | None:
        """The chosen point's images (display arrays), shown when not hovering."""
        return self.point_preview.images

    @property
    def traversal_image(self) -> np.ndarray | None:
        return self.point_preview.traversal_image

    @property
    def selections(self) -> list[np.ndarray]:
        """The last two lasso selections (indices into the test split)."""
        return self.selection_box.selections

    @property
    def selection_caption(self) -> QLabel:
        """The last selection's caption (A's until B is drawn)."""
        return self.selection_box.caption

    @property
    def selection_strip(self):
        """The last selection's strip of images (an ImageView)."""
        return self.selection_box.strip

    @property
    def selection_mean_view(self):
        """The last selection's decoded mean (an ImageView)."""
        return self.selection_box.mean_view

    @property
    def selection_mean(self) -> np.ndarray | None:
        """The decoding of the last selection's mean code (a display array)."""
        return self.selection_box.mean

    @property
    def coords(self) -> np.ndarray | None:
        """(N, 2): where the test codes are drawn now (the shown method's map)."""
        return self.fitted.coords if self.fitted is not None else None

    @property
    def method(self) -> str:
        """The method chosen in the picker (a map-method registry name)."""
        return self.controls.method

    def params(self) -> lm.MapParams:
        return self.controls.params()

    @property
    def is_replaying(self) -> bool:
        return self.replay.is_on

    # -- computing the map (lazily: only while visible) ----------------------------------------
    def _update_run(self) -> None:
        self.replay.end(self.run.timeline if self.run is not None else None)
        self.mark_stale()

    def refresh(self) -> None:
        """Encode the test split (cached per run and training step), map it and redraw."""
        run = self.run
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
        # The default method is instant: drawn now, the chosen one replaces it when ready.
        self.fitted = lm.fit_map(self._codes_np, lm.default_method())
        self._clear_selection()
        self._update_scatter()
        self.traversal.set_usage(self.usage)
        self.select_point(0 if len(self.map.coords) else None)
        self._show_chosen_method()

    def _show_chosen_method(self, *_args) -> None:
        """Show the chosen method's map: at once, or when its background fit is ready."""
        if self.run is None or self.encoded is None or self.is_showing_hint:
            return
        fitted = self.fitting.choose(self.run, self.method, self.params(), self._codes_np,
                                     self._codes_key)
        if fitted is not None and fitted is not self.fitted:
            self._set_fitted(fitted)

    def _set_fitted(self, fitted: lm.FittedMap) -> None:
        self.fitted = fitted
        self._clear_selection()
        self._update_scatter()
        if self.selected is not None:
            self.map_plot.set_marker(self.coords[self.selected : self.selected + 1])
        elif self.z is not None:
            self.map_plot.set_marker(self.place(self.z.numpy()[None]))
        # The Draw tab draws the default map itself; any other it takes from here.
        self.maps.set_shown(self.run.id, None if fitted.method == lm.default_method() else fitted)
        self._update_sprites()

    def place(self, z: np.ndarray) -> np.ndarray:
        """(n, 2): codes z on the shown map (its transform, or the neighbours' mean until the
        transform of a cached map is rebuilt)."""
        return self.fitted.place(z, self._codes_np)

    def shutdown(self) -> None:
        self.fitting.shutdown()

    def _update_scatter(self) -> None:
        m = self.fitted
        self.map_plot.show_points(m.coords, self.encoded.labels, self.run.dataset.class_names)
        self.map_plot.set_axis_labels(*m.axis_labels)
        self.map_plot.frame(m.coords)
        how = lm.get_map_method(m.method).caption_how()
        self.caption.setText(f"{run_caption(self.run)}: posterior means of {len(m.coords):,} "
                             f"test images, {how}. Colour: label.")

    def _clear(self) -> None:
        self.replay.end(self.run.timeline if self.run is not None else None)
        self.fitting.cancel()
        self.encoded = self.map = self.usage = None
        self.fitted = None
        self.traversal.set_code(None)
        self.selected = None
        self.map_plot.clear_points()
        self._clear_selection()
        self.point_preview.clear()

    # -- picking points ------------------------------------------------------------------------
    def point_at(self, x: float, y: float) -> int | None:
        """The test image whose point is within a few pixels of (x, y), if any."""
        if self.map is None:
            return None
        return explore.nearest_point(self.coords, (x, y), self.map_plot.pick_radius())

    def click_at(self, x: float, y: float) -> None:
        """A click at map coordinates: choose the point there, or decode the latent point."""
        if self.map is None:
            return
        i = self.point_at(x, y)
        if i is not None:
            self.select_point(i)
        else:
            self.decode_map_point(x, y)

    def _test_images(self, index) -> tuple[np.ndarray, torch.Tensor]:
        """Display arrays of test images and their labels."""
        x, y = explore.split_images(self.run.dataset.test, index)
        return to_numpy_images(x), y

    def select_point(self, i: int | None) -> None:
        """Choose test image i: show it and its reconstruction; the sliders start at its code."""
        if i is None or self.map is None:
            return
        self.selected = i
        self.custom_image = None
        x, y = explore.split_images(self.run.dataset.test, [i])
        self.label = int(y[0])
        rec = explore.reconstruct(self.run.model, x, y)
        self._show_chosen(self.encoded.means[i], np.concatenate([rec.originals, rec.reconstructions]),
                          f"Test image #{i} (label {self.label}) and its reconstruction "
                          f"(BCE/pixel {float(rec.errors[0]):.3f}).", self.coords[i : i + 1])

    def decode_map_point(self, x: float, y: float) -> None:
        """Decode the latent point there: by the map's exact inverse where it has one (PCA:
        mean + x·pc1 + y·pc2), else the distance-weighted mean code of the nearest map points
        (a CVAE uses the nearest point's label)."""
        self.selected = None
        self.custom_image = None
        self.map_point = (x, y)
        coords = self.coords
        z = torch.from_numpy(self.fitted.to_latent(np.array([[x, y]], np.float32), self._codes_np)[0].copy())
        how = "" if self.fitted.inverse is not None else " (the mean code of the nearest points there)"
        d = (coords[:, 0] - x) ** 2 + (coords[:, 1] - y) ** 2
        self.label = int(self.encoded.labels[int(np.argmin(d))]) if len(d) else 0
        img = explore.decode(self.run.model, z, self.label)
        note = (f", decoded as a {self.label} (the nearest point's label)"
                if self.run.is_conditional else "")
        self._show_chosen(z, img, f"The latent point at ({x:.2f}, {y:.2f}) on the map{how}{note}.",
                          np.array([[x, y]], np.float32))

    def accepts(self, target: str) -> bool:
        return target == TRAVERSAL_START

    def receive_image(self, target: str, image: np.ndarray) -> None:
        self.use_image(image)

    def use_image(self, image: np.ndarray) -> None:
        """Make an image in [0, 1] (a drawing: (C, H, W) as the model lays it out, or (H, W)
        for a grey model) the chosen point: its code starts the traversal."""
        if self.run is None or self.is_showing_hint:
            return
        if self.map is None or self.is_stale:
            self.refresh_now()
        a = drawing.analyse(self.run.model, image)  # a CVAE encodes it with its own guess
        self.selected = None
        self.custom_image = a.image
        self.label = a.label
        z = torch.from_numpy(a.mean.copy())
        guess = f" (read as {a.label})" if a.label is not None else ""
        self._show_chosen(z, np.stack([a.image, a.reconstruction]),
                          f"Your drawing{guess} and its reconstruction (BCE/pixel {a.error:.3f}); "
                          "the sliders start at its code.", self.place(a.mean[None]))

    def _show_chosen(self, z: torch.Tensor, images: np.ndarray, text: str, xy: np.ndarray) -> None:
        """The chosen point: its images and caption, its marker, the sliders at its code."""
        self.hovered = None
        self.point_preview.show_chosen(images, text)
        self.map_plot.set_marker(xy)
        self.traversal.set_code(z)
        self._update_traversal()

    # -- hovering --------------------------------------------------------------------------------
    def _on_hover(self, scene_pos) -> None:
        """Preview the point under the mouse; off any point, the chosen one comes back."""
        if self.map is None or self.is_showing_hint or self.is_replaying:
            return
        xy = self.map_plot.view_point(scene_pos)
        i = self.point_at(*xy) if xy is not None else None
        if i == self.hovered:
            return
        self.hovered = i
        if i is None:
            self.map_plot.hide_hover_thumbnail()
            self.point_preview.restore()
            return
        x, y = explore.split_images(self.run.dataset.test, [i])
        rec = explore.reconstruct(self.run.model, x, y)
        self.map_plot.show_hover_thumbnail(self.coords[i], rec.originals[0])
        self.point_preview.show_hovered(
            np.concatenate([rec.originals, rec.reconstructions]),
            f"Hovering test image #{i} (label {int(y[0])}) and its reconstruction "
            f"(BCE/pixel {float(rec.errors[0]):.3f}); click to choose it.")

    def hover_thumbnail(self) -> np.ndarray | None:
        """The image drawn beside the hovered point, (H, W) or (H, W, 3) (None: none shown)."""
        return self.map_plot.hover_thumbnail()

    def _on_plot_clicked(self, ev) -> None:
        if self.map is None or self.is_replaying or ev.button() != Qt.MouseButton.LeftButton:
            return
        xy = self.map_plot.view_point(ev.scenePos())
        if xy is not None:
            self.click_at(*xy)

    # -- thumbnails per point when zoomed in ---------------------------------------------------
    def _update_sprites(self, *_args) -> None:
        """With Thumbnails on, each point in view gets its image (when at most MAX_SPRITES
        are in view: zoom in for them); off, or zoomed out, none."""
        shown: list[int] = []
        if (self.thumbs_check.isChecked() and self.coords is not None and not self.is_replaying
                and not self.is_showing_hint):
            inside = self.map_plot.indices_in_view(self.coords)
            if len(inside) <= MAX_SPRITES:
                shown = [int(i) for i in inside]
                self.method_status.setText(f"Thumbnails: {len(shown)} points in view.")
            else:
                self.method_status.setText(f"Thumbnails: zoom in ({len(inside):,} points in view, "
                                           f"at most {MAX_SPRITES} get one).")
        if shown:
            self.map_plot.show_sprites(self.coords[shown], self._test_images(shown)[0])
        else:
            self.map_plot.show_sprites(np.zeros((0, 2)), np.zeros((0, 1, 1)))
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
        """Select the points inside `polygon` (map coordinates): the new selection B, the one
        before it A, both drawn on the map and in their strips. Returns their indices."""
        polygon = np.asarray(polygon, np.float64).reshape(-1, 2)
        idx = np.flatnonzero(lm.points_in_polygon(self.coords, polygon))
        sel = Selection(idx, polygon)
        if len(idx):
            names = tuple(self.run.dataset.class_names)
            sel.images = self._test_images(idx[:STRIP_MAX])[0]
            sel.mean = self._decode_mean(idx)
            sel.counts = lm.class_counts(self.encoded.labels[idx], max(len(names), 1))
            sel.names = names
        self.selection_box.add(sel)
        self._draw_selections()
        return idx

    def _draw_selections(self) -> None:
        """Selections A and B on the shown map: their outlines, letters and points."""
        coords = self.coords
        self.map_plot.set_selections(
            [(s.polygon, coords[s.indices] if coords is not None else np.zeros((0, 2)))
             for s in self.selection_box.items])

    def _clear_selection(self) -> None:
        self.selection_box.clear()
        self.map_plot.clear_lasso()

    def _decode_mean(self, idx: np.ndarray) -> np.ndarray:
        """The decoding of the selection's mean code (a CVAE: with its most common label), as
        a display array."""
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
        """Send the two selections' decoded means, each (C, H, W) float32 in [0, 1] as the
        model lays images out (`model_layout`), as the interpolation's start and end."""
        if len(self.selections) < 2:
            return
        a, b = (model_layout(self._decode_mean(s)) for s in self.selections)
        self.sent.emit(INTERPOLATION_START, a)
        self.sent.emit(INTERPOLATION_END, b)

    # -- replaying the timeline ----------------------------------------------------------------
    def replay_coords(self) -> np.ndarray | None:
        """(S, k, 2): every snapshot's aligned map of the fixed codes (cached per timeline)."""
        return self.replay.coords(self.run.timeline if self.run is not None else None)

    def _on_replay_check_toggled(self, on: bool) -> None:
        if on:
            coords = self.replay_coords()
            if coords is None:
                return
            self._live_marker = self.map_plot.marker_xy()
            self.marker.clear()
            self.map_plot.set_selections([])  # drawn on the live map, not on the snapshots
            self.hovered = None
            self.map_plot.hide_hover_thumbnail()
            self._update_sprites()
            self.show_replay(self.replay_slider.value())
            # One range for the whole replay: the map is seen spreading as the model learns.
            self.map_plot.frame(coords.reshape(-1, 2))
            return
        self.replay_label.setText("")
        if self.map is None or self.is_stale:
            self.refresh_now()
            return
        self._update_scatter()
        self._update_sprites()
        self.map_plot.set_marker(self._live_marker)
        self._draw_selections()

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
        snap, pts = tl.snapshots[index], coords[index]
        self.map_plot.show_points(pts, tl.code_labels, self.run.dataset.class_names)
        ex = snap.explained * 100
        self.map_plot.set_axis_labels(f"PC 1 at that step ({ex[0]:.0f}% of variance)",
                                      f"PC 2 ({ex[1]:.0f}%)")
        self.replay_label.setText(f"step {snap.step:,} · epoch {snap.epoch:.2f}")
        self.caption.setText(
            f"{run_caption(self.run)} at training step {snap.step:,} (epoch {snap.epoch:.2f}, "
            f"snapshot {index + 1} of {len(tl)}): {len(pts):,} fixed test codes as the model "
            "placed them then, on that step's 2 principal directions, turned to line up with "
            "the previous snapshot's. Colour: label.")

    # -- traversal ---------------------------------------------------------------------------
    def _on_reset_clicked(self) -> None:
        if self.selected is not None:
            self.select_point(self.selected)
        elif self.custom_image is not None:
            self.use_image(model_layout(self.custom_image))
        elif self.z is not None and self.map is not None:
            self.decode_map_point(*self.map_point)

    def _update_traversal(self) -> None:
        if self.z is None or self.run is None or self.is_showing_hint:
            return
        self.point_preview.show_traversal(explore.decode(self.run.model, self.z, self.label))

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
