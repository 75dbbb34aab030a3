"""The Draw tab's map: the test codes as the Latent map tab maps them (its PCA, or the UMAP or
t-SNE map that tab shows, from `shared_maps`), the input as a star among them, its nearest codes
ringed, and their test images below with a caption.

With a fitted method the star goes at once beside the input's nearest codes, then where the
method's transform puts it: the transform runs in a worker thread (explorer/session/map_runner.py
`MapRunner.place`) and its result comes back as a signal, taken only while it is still the
input, run and map shown. It draws only: the math is training/explore/drawing.py's
(`nearest_codes`), panel_math.py's and latent_methods.py's.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from latent_explorer.explorer.panels.base import TAB10
from latent_explorer.explorer.panels.draw_code import bar_plot
from latent_explorer.explorer.session.map_runner import MapRunner, shared_maps
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.training.explore import drawing
from latent_explorer.training.explore import latent_methods as lm
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.record.run import Run

N_NEIGHBOURS = 5
STAR_PX = 26  # the drawing's star on the small map, in screen pixels
STAR_COLOR = "#ffd400"
PLACEHOLDER = "nearest test images"
EMPTY_MAP_CAPTION = "The star marks the input among the test images' codes on the map above."
EMPTY_NEIGHBOURS_CAPTION = "Its nearest test images in latent space appear here."


class InputMap(QWidget):
    """The test codes' map with the input's star and nearest codes; the nearest test images."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.neighbours = np.zeros(0, np.int64)  # indices of the nearest test codes
        self.map_position: np.ndarray | None = None  # (2,) the input on the map
        self.placement_seconds: float | None = None  # the last transform placement's latency
        self._fp: tuple = (None, "")  # (codes identity, fingerprint) of the test codes
        self._how = "PCA"
        self._points_key: tuple | None = None  # (run id, codes key, map key) of the points drawn
        self._current: tuple | None = None  # (run id, Encoded, μ, input word) of the star

        self.plot = bar_plot(220)
        self.plot.setMouseEnabled(x=True, y=True)
        self.scatters: list[pg.ScatterPlotItem] = []
        self.neighbour_marks = pg.ScatterPlotItem(size=11, pen=pg.mkPen(200, 200, 200, 160, width=1),
                                                  brush=None)
        # The drawing: a big yellow star with a dark outline inside a yellow ring, above
        # everything; the nearest-code circles are thin and grey, so it never hides among them.
        self.marker_halo = pg.ScatterPlotItem(size=STAR_PX + 16, symbol="o", brush=None,
                                              pen=pg.mkPen(STAR_COLOR, width=2.5))
        self.marker = pg.ScatterPlotItem(size=STAR_PX, symbol="star", pen=pg.mkPen("k", width=1.5),
                                         brush=pg.mkBrush(STAR_COLOR))
        self.plot.addItem(self.neighbour_marks)
        for z, item in ((10, self.marker_halo), (11, self.marker)):
            item.setZValue(z)
            self.plot.addItem(item)
        self.maps = shared_maps()
        self.placer = MapRunner(self)
        self.placer.placed.connect(self._on_placed)
        self.placer.place_failed.connect(self._on_place_failed)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.neighbour_view = ImageView(min_height=70)
        self.neighbour_view.set_placeholder(PLACEHOLDER)
        self.neighbour_caption = QLabel()
        self.neighbour_caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.caption)
        layout.addWidget(self.neighbour_view)
        layout.addWidget(self.neighbour_caption)

    # -- the test codes --------------------------------------------------------------------------
    def shown_map(self, run_id: int, encoded: explore.Encoded) -> lm.FittedMap | None:
        """The Latent map tab's UMAP/t-SNE map of these codes, if it shows one (None: PCA)."""
        fitted = self.maps.shown(run_id)
        if fitted is None:
            return None
        key = (id(encoded),)
        if self._fp[0] != key:
            self._fp = (key, lm.codes_fingerprint(encoded.means.numpy()))
        return fitted if fitted.codes_key == self._fp[1] else None

    def coords(self, run_id: int, encoded: explore.Encoded, m: explore.LatentMap) -> np.ndarray:
        """(N, 2): the test codes as the map draws them (the shown map's, else the PCA's)."""
        shown = self.shown_map(run_id, encoded)
        return shown.coords if shown is not None else m.coords

    def show_points(self, run: Run, key: tuple, encoded: explore.Encoded,
                    m: explore.LatentMap) -> None:
        """Draw the test codes (`key`: their encoding's) unless they are drawn already."""
        shown = self.shown_map(run.id, encoded)
        points_key = (run.id, key, shown.key if shown is not None else "pca")
        if self._points_key == points_key:
            return
        names = run.class_names
        while len(self.scatters) < max(len(names), 10):
            item = pg.ScatterPlotItem(size=4, pen=None,
                                      brush=pg.mkBrush(TAB10[len(self.scatters) % len(TAB10)]))
            item.setZValue(-1)
            self.plot.addItem(item)
            self.scatters.append(item)
        coords = shown.coords if shown is not None else m.coords
        for c, item in enumerate(self.scatters):
            item.setData(pos=coords[m.labels == c])
        if shown is not None:
            self.plot.setLabel("bottom", shown.axis_labels[0])
            self.plot.setLabel("left", shown.axis_labels[1])
        else:
            ex = m.explained * 100
            self.plot.setLabel("bottom", f"PC 1 ({ex[0]:.0f}%)")
            self.plot.setLabel("left", f"PC 2 ({ex[1]:.0f}%)")
        self.plot.autoRange()
        self._points_key = points_key

    def forget_points(self) -> None:
        """Draw the points again at the next `show_points` (the shown map changed)."""
        self._points_key = None

    def clear_points(self) -> None:
        for item in self.scatters:
            item.clear()
        self._points_key = None

    # -- the input among them ------------------------------------------------------------------
    def clear(self) -> None:
        """No input: no star, no nearest codes, and captions that say what will show."""
        self._current = None
        self.neighbours = np.zeros(0, np.int64)
        self.map_position = None
        self.neighbour_view.clear_images()
        self.caption.setText(EMPTY_MAP_CAPTION)
        self.neighbour_caption.setText(EMPTY_NEIGHBOURS_CAPTION)
        self.marker.clear()
        self.marker_halo.clear()
        self.neighbour_marks.clear()

    def show_input(self, run: Run, a: drawing.DrawingAnalysis, encoded: explore.Encoded,
                   m: explore.LatentMap, input_word: str) -> None:
        """Put the analysed input on the map and show its nearest test images."""
        self._current = (run.id, encoded, a.mean, input_word)
        shown = self.shown_map(run.id, encoded)
        self.neighbours = drawing.nearest_codes(encoded.means, torch.from_numpy(a.mean), N_NEIGHBOURS)
        if shown is None:
            coords, how = m.coords, "PCA"
            self.map_position = m.project(torch.from_numpy(a.mean))[0]
        else:  # at once near its neighbours, then where the method's transform puts it
            coords = shown.coords
            how = lm.get_map_method(shown.method).label
            codes = encoded.means.numpy()
            self.map_position = lm.neighbour_place(codes, coords, a.mean[None])[0]
            self.placer.place((run.id, shown.key, a.mean.tobytes()), shown, a.mean[None], codes)
        self._set_star(self.map_position)
        self.neighbour_marks.setData(pos=coords[self.neighbours])
        x, y = explore.split_images(run.dataset.test, self.neighbours)
        names = run.class_names
        labels = [names[int(c)] if int(c) < len(names) else str(int(c)) for c in y]
        self.neighbour_view.set_images(x.numpy(), ncols=len(x))
        self.neighbour_view.set_cell_labels(labels)
        self._how = how
        self.caption.setText(f"The star: your {input_word} among {len(coords):,} test codes "
                             f"(the Latent map tab's {how} map; circles: nearest codes).")
        self.neighbour_caption.setText(f"Its {len(labels)} nearest test images in latent space: "
                                       + ", ".join(labels) + ".")

    def _set_star(self, xy: np.ndarray) -> None:
        self.marker.setData(pos=np.asarray(xy, np.float32).reshape(1, 2))
        self.marker_halo.setData(pos=np.asarray(xy, np.float32).reshape(1, 2))

    def star_position(self) -> np.ndarray | None:
        """Where the star is drawn on the small map (None: no input)."""
        x, y = self.marker.getData()
        return None if x is None or not len(x) else np.array([x[0], y[0]])

    def _placing(self, token) -> tuple[lm.FittedMap, str] | None:
        """(shown map, input word) if `token` is still the shown input's placement, else None."""
        if self._current is None:
            return None
        run_id, encoded, mean, word = self._current
        shown = self.shown_map(run_id, encoded)
        if shown is None or token != (run_id, shown.key, mean.tobytes()):
            return None
        return shown, word

    def _on_place_failed(self, token, message: str) -> None:
        """The transform failed: the star stays beside its nearest codes, and the caption says so."""
        current = self._placing(token)
        if current is None:
            return
        shown, word = current
        self.caption.setText(
            f"The star: your {word} among {len(shown.coords):,} test codes, placed beside its "
            f"nearest codes ({self._how}'s transform failed: {message}).")

    def _on_placed(self, token, xy: np.ndarray, seconds: float) -> None:
        """The method's transform placed the input: move the star there (if still current)."""
        current = self._placing(token)
        if current is None:
            return
        shown, word = current
        self.map_position = np.asarray(xy, np.float32)[0]
        self.placement_seconds = seconds
        self._set_star(self.map_position)
        self.caption.setText(
            f"The star: your {word} among {len(shown.coords):,} test codes, placed by "
            f"{self._how}'s transform in {seconds * 1000:.0f} ms (the Latent map tab's map; "
            "circles: nearest codes).")

    def shutdown(self) -> None:
        self.placer.shutdown()


__all__ = ["InputMap", "N_NEIGHBOURS"]
