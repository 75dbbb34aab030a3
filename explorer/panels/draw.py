"""Draw a digit and see what the model makes of it, live: reconstruction, code, map, restyles.

The canvas is for 28×28 grey digit models; any other model (colour, or another size) takes a
loaded or pasted image instead, fitted to its size by training/explore/drawing.py's fit_image
(the file dialog is the window's, explorer/commands/dialogs.py). The canvas only draws and the
math is training/explore/drawing.py's (preprocess, analyse, nearest_codes) and
training/explore/panel_math.py's (the Latent map tab's projection and traversal order).

The panel wires parts that each do one job: the input side, the canvas or a load page with
the Load, Paste and "Send to…" row (draw_input.py), the code's bar plot (draw_code.py), the
input's place among the test codes on the Latent map tab's map with its nearest test images
(draw_place.py, placed by a fitted method's transform in the background), the input's
reconstructions (draw_recon.py) and a CVAE's row of restyles and label probabilities
(draw_cvae.py).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QApplication, QFileDialog, QGridLayout, QLabel, QVBoxLayout, QWidget
from superqt.utils import qthrottled

from latent_explorer.explorer.panels.base import (Panel, image_shape_of, row, run_caption,
                                                  same_images)
from latent_explorer.explorer.panels.draw_code import CodePlot, label_step
from latent_explorer.explorer.panels.draw_cvae import CvaeBox
from latent_explorer.explorer.panels.draw_input import DrawInput, qimage_to_array
from latent_explorer.explorer.panels.draw_place import InputMap
from latent_explorer.explorer.panels.draw_recon import Reconstructions
from latent_explorer.explorer.widgets.compare_box import CompareBox
from latent_explorer.explorer.widgets.image_view import PAD
from latent_explorer.training.explore import drawing
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.render import make_grid, stack_grids, to_numpy_images
from latent_explorer.training.record.run import Run

__all__ = ["DrawPanel", "label_step", "qimage_to_array"]

EMPTY_TEXT = ("Draw a digit on the canvas with the mouse or a pen, or load or paste an image: "
              "the model's reading of it appears here as you draw.")
LOAD_TEXT = ("Load an image (or paste one): the model's reading of it appears here. It is "
             "resized and centre-cropped to the model's image size.")
IMAGES_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"


class DrawPanel(Panel):
    """A canvas; the selected (and compared) run's reconstruction, code, map place and restyles."""

    title = "Draw"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # run id -> (key, Encoded, LatentMap, DimensionUsage): the test codes, one run at a time
        self._cache: dict[int, tuple] = {}
        # The input as the model takes it: the preprocessed 28×28 drawing, or a loaded image
        # (C, H, W) for any other model; `input_display` is it as shown, (H, W[, 3]).
        self.input_image: np.ndarray | None = None
        self.input_display: np.ndarray | None = None
        self.analyses: list[tuple[Run, drawing.DrawingAnalysis]] = []

        # The parts, and their widgets under the names the tests and tools use.
        self.input = DrawInput()
        self.recon = Reconstructions(self)
        self.code = CodePlot(self)
        self.place = InputMap()
        self.cvae_box = CvaeBox()
        i, rc, c, pl, cv = self.input, self.recon, self.code, self.place, self.cvae_box
        self.canvas, self.brush, self.load_page = i.canvas, i.brush, i.load_page
        self.input_stack, self.input_view, self.input_caption = i.stack, i.view, i.caption
        self.clear_button, self.undo_button = i.clear_button, i.undo_button
        self.load_button, self.load_image_button = i.load_button, i.load_image_button
        self.load_reason, self.paste_button = i.load_reason, i.paste_button
        self.send_button, self.send_menu = i.send_button, i.send_menu
        self.send_actions = i.send_actions
        self.recon_view, self.recon_caption, self.fit_label = rc.view, rc.caption, rc.fit_label
        self.code_plot, self.code_bars, self.code_caption = c.plot, c.bars, c.caption
        self.sigma_bars = c.sigma_bars
        self.map_plot, self.map_caption = pl.plot, pl.caption
        self.placer, self.maps = pl.placer, pl.maps
        self.scatters, self.marker, self.marker_halo = pl.scatters, pl.marker, pl.marker_halo
        self.neighbour_marks, self.neighbour_view = pl.neighbour_marks, pl.neighbour_view
        self.neighbour_caption = pl.neighbour_caption
        self.guess_label, self.restyle_view = cv.guess_label, cv.restyle_view
        self.restyle_caption, self.score_plot = cv.restyle_caption, cv.score_plot
        self.score_bars, self.scores_label = cv.score_bars, cv.scores_label

        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.compare = CompareBox("Reconstruct the drawing with a second run too")
        self.message = QLabel(EMPTY_TEXT)  # the empty-canvas hint, or an unreadable file
        self.message.setWordWrap(True)
        middle = QVBoxLayout()
        middle.addWidget(self.message)
        rc.add_to(middle)
        c.add_to(middle)
        middle.addWidget(cv)
        grid = QGridLayout()
        grid.addWidget(i, 0, 0)
        grid.addLayout(middle, 0, 1)
        grid.addWidget(pl, 0, 2)
        for column, stretch in enumerate((2, 3, 3)):
            grid.setColumnStretch(column, stretch)
        layout = QVBoxLayout(self.content)
        top = row(stretch=False)
        top.addWidget(self.caption, 1)
        top.addWidget(self.compare)
        top.addWidget(self.save_button)
        layout.addLayout(top)
        layout.addLayout(grid, 1)

        # Strokes arrive faster than the model runs: analyse the newest picture once per
        # event-loop turn (trailing edge only), whatever came in between.
        self._update_later = qthrottled(self.update_views, timeout=0, leading=False, parent=self)
        self.canvas.changed.connect(self._update_later)
        self.load_button.clicked.connect(self._on_load_clicked)
        self.load_image_button.clicked.connect(self._on_load_clicked)
        self.paste_button.clicked.connect(self.paste)
        i.send_requested.connect(self.send)
        self.compare.changed.connect(self._on_compare_changed)
        self.maps.shown_changed.connect(self._on_shown_map_changed)
        self._show_empty(EMPTY_TEXT)

    # -- state the parts hold, under the panel's names -------------------------------------------
    @property
    def image_mode(self) -> bool:
        """True: the model is not a 28×28 grey one, so no canvas (images are loaded instead)."""
        return self.input.image_mode

    @property
    def loaded_image(self) -> np.ndarray | None:
        """A loaded or pasted image, (C, H, W), in image mode."""
        return self.input.loaded_image

    @property
    def neighbours(self) -> np.ndarray:
        """Indices of the input's nearest test codes."""
        return self.place.neighbours

    @property
    def map_position(self) -> np.ndarray | None:
        """(2,) the input on the map."""
        return self.place.map_position

    @property
    def placement_seconds(self) -> float | None:
        """The last transform placement's latency."""
        return self.place.placement_seconds

    def code_tick_labels(self) -> list[str]:
        """The dimension labels under the code plot's bars, as drawn (every k-th dimension)."""
        return self.code.tick_labels()

    def star_position(self) -> np.ndarray | None:
        """Where the star is drawn on the small map (None: no drawing)."""
        return self.place.star_position()

    # -- input -----------------------------------------------------------------------------
    # The modal dialog: the window's (explorer/commands/dialogs.py, which tests fake), or a
    # QFileDialog of its own outside a window; a public method tests can also replace.
    def ask_image_path(self) -> str | None:
        dialogs = getattr(self.window(), "dialogs", None)
        if dialogs is not None and hasattr(dialogs, "image_path"):
            return dialogs.image_path()
        path, _ = QFileDialog.getOpenFileName(self, "Load an image", "", IMAGES_FILTER)
        return path or None

    def _say(self, text: str) -> bool:
        """Show `text` where the model's reading goes (an unreadable file, nothing to send)."""
        self.message.setText(text)
        self.message.setVisible(True)
        return False

    def load_file(self, path: str) -> bool:
        """Put an image file on the canvas, or (a model of other images) fit it to the model
        and show what it makes of it; an unreadable one is said in the panel."""
        try:
            self.input.take_file(path, image_shape_of(self.run))
            if self.image_mode:  # no canvas to say it changed: analyse it now
                self.update_views()
        except drawing.DrawingError as e:
            return self._say(str(e))
        return True

    def _on_load_clicked(self) -> None:
        path = self.ask_image_path()
        if path:
            self.load_file(path)

    def paste(self) -> bool:
        """Put the clipboard's image on the canvas (False, and a line saying so, if it has none)."""
        image = QApplication.clipboard().image()
        if image.isNull():
            return self._say("The clipboard holds no image to paste.")
        try:
            self.input.take_image(image, image_shape_of(self.run))
            if self.image_mode:
                self.update_views()
        except drawing.DrawingError as e:
            return self._say(f"The pasted image: {e}")
        return True

    def send(self, target: str) -> bool:
        """Send the preprocessed input to another tab (False when nothing is drawn)."""
        if self.input_image is None:
            return self._say("Load an image first: there is nothing to send." if self.image_mode
                             else "Draw something first: there is nothing to send.")
        self.sent.emit(target, self.input_image.copy())
        return True

    # -- the contract with the window --------------------------------------------------------
    def _update_run_list(self) -> None:
        self.compare.set_runs(self.runs)

    def _on_compare_changed(self) -> None:
        if self.run is not None and not self.is_showing_hint:
            self.update_views()

    def _update_run(self) -> None:
        run = self.run
        self.input.set_mode(image_shape_of(run))
        what = "an image you load" if self.image_mode else "your drawing"
        self.caption.setText(f"{run_caption(run)}: what it makes of {what}.")
        self.cvae_box.setVisible(run.is_conditional)
        self.code.reset_range()  # another run: another scale of codes
        if not self.mark_stale():  # hidden: the codes wait until the tab is shown
            self.update_views()

    def _empty_text(self) -> str:
        return LOAD_TEXT if self.image_mode else EMPTY_TEXT

    def refresh(self) -> None:
        # The test codes are re-encoded when the tab is shown or the run is selected, not per
        # stroke: while a run trains, every step would otherwise re-encode the whole split.
        self._codes(refresh=True)
        self.update_views()

    def _clear(self) -> None:
        self._show_empty(self._empty_text())
        self.place.clear_points()

    def shutdown(self) -> None:
        self.place.shutdown()

    def shown_runs(self) -> list[Run]:
        """The selected run and the compared one, if it takes images of the same shape."""
        other = self.compare.other_than(self.run)
        return [self.run] + ([other] if other is not None and same_images(self.run, other) else [])

    # -- the test codes (the Latent map tab's projection) --------------------------------------
    def _codes(self, refresh: bool = False) -> tuple:
        """(key, Encoded, LatentMap, DimensionUsage) of the run's test split, encoded once."""
        run = self.run
        test = run.dataset.test
        key = (len(run.history), id(test), id(run.model))  # training moves the codes
        cached = self._cache.get(run.id)
        if cached is None or (refresh and cached[0] != key):
            encoded = explore.encode_split(run.model, test)
            cached = (key, encoded, explore.latent_map(encoded), explore.dimension_usage(encoded))
            self._cache = {run.id: cached}  # one run's codes at a time: 10,000 × nz floats
        self.place.show_points(run, cached[0], cached[1], cached[2])
        return cached

    def _on_shown_map_changed(self, run_id: int) -> None:
        if self.run is None or run_id != self.run.id or self.is_showing_hint:
            return
        self.place.forget_points()
        if self.isVisible() and self.analyses:
            self.update_views()

    def map_coords(self) -> np.ndarray | None:
        """(N, 2): the test codes as the small map draws them now."""
        cached = self._cache.get(self.run.id) if self.run is not None else None
        if cached is None:
            return None
        return self.place.coords(self.run.id, cached[1], cached[2])

    # -- drawing the model's reading -----------------------------------------------------------
    def _show_empty(self, text: str) -> None:
        self.input_image = None
        self.input_display = None
        self.analyses = []
        self._say(text)
        for part in (self.input, self.recon, self.code, self.place, self.cvae_box):
            part.clear()  # each view says what it will show: empty black boxes said nothing

    def update_views(self) -> None:
        """Preprocess the canvas and show what the shown runs make of it (a hint when empty)."""
        if self.run is None or self.is_showing_hint:
            return
        x = self.input.model_input()
        if x is None:
            self._show_empty(self._empty_text())
            return
        self.input_image = x
        self.input_display = to_numpy_images(x[None], image_shape_of(self.run))[0]
        self.message.setVisible(False)
        self.input.show_input(self.input_display)
        self.analyses = [(r, drawing.analyse(r.model, x)) for r in self.shown_runs()]
        _, encoded, m, usage = self._codes()
        a, word = self.analyses[0][1], self.input.input_word
        self.recon.show_analyses(self.input_display, self.analyses, self.run,
                                 self.compare.other_than(self.run), word)
        self.code.show_code(a, usage)
        self.place.show_input(self.run, a, encoded, m, word)
        if self.run.is_conditional:
            self.cvae_box.show_analysis(a, self.run.class_names, word)

    # -- export ------------------------------------------------------------------------------
    def export_grid(self) -> np.ndarray | None:
        """The input and its reconstructions, and (CVAE) the restyled row below, as one mosaic."""
        if self.input_image is None or not self.analyses:
            return None
        images = [self.input_display] + [a.reconstruction for _, a in self.analyses]
        grids = [make_grid(np.stack(images), ncols=len(images), pad=PAD)]
        a = self.analyses[0][1]
        if a.restyled is not None:
            grids.append(make_grid(a.restyled, ncols=len(a.restyled), pad=PAD))
        return stack_grids(grids)
