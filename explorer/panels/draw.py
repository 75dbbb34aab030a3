"""Draw a digit and see what the model makes of it, live: reconstruction, code, map, restyles.

The canvas is for 28×28 grey digit models; any other model (colour, or another size) takes a
loaded or pasted image instead, fitted to its size by training/explore/drawing.py's fit_image
(the file dialog is the window's, explorer/commands/dialogs.py). The canvas only draws and the
math is training/explore/drawing.py's (preprocess, analyse, nearest_codes) and
training/explore/panel_math.py's (the Latent map tab's projection and traversal order).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtGui import QAction, QFontMetrics, QImage
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qthrottled

from latent_explorer.explorer.panels.directions_targets import DIRECTIONS_IMAGE
from latent_explorer.explorer.panels.base import (
    INTERPOLATION_END,
    INTERPOLATION_START,
    TAB10,
    TRAVERSAL_START,
    Panel,
    error_name,
    image_shape_of,
    image_words,
    row,
    run_caption,
    same_images,
    shape_words,
)
from latent_explorer.explorer.session.map_runner import MapRunner, shared_maps
from latent_explorer.explorer.widgets.compare_box import CompareBox
from latent_explorer.explorer.widgets.draw_canvas import BRUSH_WIDTH, DrawCanvas
from latent_explorer.explorer.widgets.image_view import PAD, ImageView
from latent_explorer.training.explore import drawing
from latent_explorer.training.explore import latent_methods as lm
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.render import make_grid, stack_grids, to_numpy_images
from latent_explorer.training.record.run import Run

N_NEIGHBOURS = 5
EMPTY_TEXT = ("Draw a digit on the canvas with the mouse or a pen, or load or paste an image: "
              "the model's reading of it appears here as you draw.")
LOAD_TEXT = ("Load an image (or paste one): the model's reading of it appears here. It is "
             "resized and centre-cropped to the model's image size.")
DIGIT_SHAPE = (1, 28, 28)  # the canvas draws MNIST-style digits, preprocessed to this
IMAGES_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"
# What each view says while nothing is drawn (five black boxes said nothing).
PLACEHOLDERS = {"input": "your input", "recon": "input and its reconstruction",
                "neighbours": "nearest test images", "restyle": "your input as every class"}
EMPTY_CAPTIONS = {
    "recon": "The input and the model's reconstruction of it, with its error, appear here.",
    "code": "The code (μ per latent dimension, most used first) appears above.",
    "map": "The star marks the input among the test images' codes on the map above.",
    "neighbours": "Its nearest test images in latent space appear here.",
    "restyle": "Its style decoded with every class label appears here.",
}
TOP_PROBABILITIES = 3  # classes named under the probability bars (the tooltip has every one)
SEND_TARGETS = (("Interpolation: start", INTERPOLATION_START),
                ("Interpolation: end", INTERPOLATION_END),
                ("Latent map: traversal start", TRAVERSAL_START),
                ("Directions: image to edit", DIRECTIONS_IMAGE))
USED_BRUSH, UNUSED_BRUSH = pg.mkBrush("#4c9be8"), pg.mkBrush(110, 110, 110)
STAR_PX = 26  # the drawing's star on the small map, in screen pixels
STAR_COLOR = "#ffd400"
TICK_GAP = 0.6  # space between two code-plot labels, as a share of the widest label


def qimage_to_array(image: QImage) -> np.ndarray:
    """An H×W×4 uint8 RGBA copy of a QImage (e.g. a pasted one)."""
    img = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = img.height(), img.width()
    a = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * h)
    return a.reshape(h, img.bytesPerLine())[:, : w * 4].reshape(h, w, 4).copy()


def label_step(n: int, label_px: float, axis_px: float) -> int:
    """Label every k-th of `n` evenly spaced bars so labels `label_px` wide fit `axis_px`:
    the smallest k of 1, 2, 5, 10, 20… that leaves each label its width plus a gap."""
    if n <= 0 or axis_px <= 0:
        return 1
    need = n * (label_px * (1 + TICK_GAP)) / axis_px  # a gap of TICK_GAP labels between two
    for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if k >= need:
            return k
    return max(1, int(need) + 1)


def _bar_plot(height: int) -> pg.PlotWidget:
    plot = pg.PlotWidget(background=pg.mkColor(32, 32, 32))
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMouseEnabled(x=False, y=False)
    plot.setMinimumHeight(height)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)
    return plot


class DrawPanel(Panel):
    """A canvas; the selected (and compared) run's reconstruction, code, map place and restyles."""

    title = "Draw"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # run id -> (key, Encoded, LatentMap, DimensionUsage): the test codes, one run at a time
        self._cache: dict[int, tuple] = {}
        self._scatter_key: tuple | None = None
        self._code_ticks: tuple | None = None  # (dimension order) the code plot's axis shows
        self._code_labels: list[str] = []  # the labels it draws (every k-th dimension)
        self._score_ticks: tuple | None = None
        self._code_range: tuple[float, float] | None = None  # the code plot's y range
        # The input as the model takes it: the preprocessed 28×28 drawing, or a loaded image
        # (C, H, W) for any other model; `input_display` is it as shown, (H, W[, 3]).
        self.input_image: np.ndarray | None = None
        self.input_display: np.ndarray | None = None
        self.loaded_image: np.ndarray | None = None  # a loaded/pasted image, (C, H, W), no canvas
        self.image_mode = False  # True: the model is not a 28×28 grey one, so no canvas
        self.analyses: list[tuple[Run, drawing.DrawingAnalysis]] = []
        self.neighbours = np.zeros(0, np.int64)
        self.map_position: np.ndarray | None = None  # (2,) the drawing on the map

        self.canvas = DrawCanvas()
        self.canvas.setMinimumSize(224, 224)
        # In place of the canvas for a model of other images: a button and a line saying why.
        self.load_reason = QLabel()
        self.load_reason.setWordWrap(True)
        self.load_image_button = QPushButton("Load an image…")
        self.load_image_button.setToolTip("Open an image file: it is resized and centre-cropped "
                                          "to the model's image size")
        self.clear_button = QPushButton("Clear")
        self.undo_button = QPushButton("Undo")
        self.brush = QSpinBox()
        self.brush.setRange(4, 60)
        self.brush.setValue(int(BRUSH_WIDTH))
        self.brush.setSuffix(" px")
        self.brush.setToolTip("Brush thickness on the 280-pixel canvas (new strokes)")
        self.load_button = QPushButton("Load image…")
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Paste an image from the clipboard")
        self.send_button = QToolButton()
        self.send_button.setText("Send to…")
        self.send_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.send_menu = QMenu(self.send_button)
        self.send_actions: dict[str, QAction] = {}
        for text, target in SEND_TARGETS:
            action = self.send_menu.addAction(text)
            action.triggered.connect(lambda _checked=False, t=target: self.send(t))
            self.send_actions[target] = action
        self.send_button.setMenu(self.send_menu)
        self.input_view = ImageView(min_height=90)
        self.input_view.setMaximumSize(160, 160)
        self.input_caption = QLabel("Preprocessed 28×28 input")
        self.input_caption.setWordWrap(True)

        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.compare = CompareBox("Reconstruct the drawing with a second run too")
        self.message = QLabel(EMPTY_TEXT)  # the empty-canvas hint, or an unreadable file
        self.message.setWordWrap(True)
        self.recon_view = ImageView(min_height=70)
        self.recon_caption = QLabel()
        self.recon_caption.setWordWrap(True)
        self.fit_label = QLabel()  # "doesn't fit"
        self.fit_label.setWordWrap(True)
        self.fit_label.setStyleSheet("color: #e8a33c;")

        self.code_plot = _bar_plot(80)  # the middle column's least height fits a laptop's tab
        # Relabel once the view box has its new width: the widget's own Resize event comes
        # before its layout, when the view box still had the old (often wider) width, and
        # labels spaced for that overlapped into one unreadable line.
        self.code_plot.getPlotItem().vb.sigResized.connect(self._update_code_ticks)
        self.code_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=USED_BRUSH)
        self.sigma_bars = pg.ErrorBarItem(pen=pg.mkPen("w"), beam=0.3)
        self.code_plot.addItem(self.code_bars)
        self.code_plot.addItem(self.sigma_bars)
        self.code_caption = QLabel()
        self.code_caption.setWordWrap(True)

        self.map_plot = _bar_plot(220)
        self.map_plot.setMouseEnabled(x=True, y=True)
        self.scatters: list[pg.ScatterPlotItem] = []
        self.neighbour_marks = pg.ScatterPlotItem(size=11, pen=pg.mkPen(200, 200, 200, 160, width=1),
                                                  brush=None)
        # The drawing: a big yellow star with a dark outline inside a yellow ring, above
        # everything; the nearest-code circles are thin and grey, so it never hides among them.
        self.marker_halo = pg.ScatterPlotItem(size=STAR_PX + 16, symbol="o", brush=None,
                                              pen=pg.mkPen(STAR_COLOR, width=2.5))
        self.marker = pg.ScatterPlotItem(size=STAR_PX, symbol="star", pen=pg.mkPen("k", width=1.5),
                                         brush=pg.mkBrush(STAR_COLOR))
        self.map_plot.addItem(self.neighbour_marks)
        for z, item in ((10, self.marker_halo), (11, self.marker)):
            item.setZValue(z)
            self.map_plot.addItem(item)
        self.placement_seconds: float | None = None  # the last transform placement's latency
        self._fp: tuple = (None, "")  # (codes identity, fingerprint) of the test codes
        self._map_how = "PCA"
        self.maps = shared_maps()
        self.maps.shown_changed.connect(self._on_shown_map_changed)
        self.placer = MapRunner(self)
        self.placer.placed.connect(self._on_placed)
        self.placer.place_failed.connect(self._on_place_failed)
        self.map_caption = QLabel()
        self.map_caption.setWordWrap(True)
        self.neighbour_view = ImageView(min_height=70)
        self.neighbour_caption = QLabel()
        self.neighbour_caption.setWordWrap(True)

        self.cvae_box = QWidget()
        self.guess_label = QLabel()
        self.restyle_view = ImageView(min_height=48)
        self.restyle_caption = QLabel()
        self.restyle_caption.setWordWrap(True)
        self.score_plot = _bar_plot(56)
        self.score_plot.setYRange(0, 1)
        self.score_plot.enableAutoRange(y=False)
        self.score_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=pg.mkBrush("#4c9be8"))
        self.score_plot.addItem(self.score_bars)
        self.scores_label = QLabel()
        self.scores_label.setWordWrap(True)
        cl = QVBoxLayout(self.cvae_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.guess_label)
        cl.addWidget(self.restyle_view)
        cl.addWidget(self.restyle_caption)
        cl.addWidget(self.score_plot)
        cl.addWidget(self.scores_label)

        draw_page = QWidget()
        dl = QVBoxLayout(draw_page)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.canvas, 1)
        dl.addLayout(row(self.clear_button, self.undo_button, "Brush", self.brush))
        self.load_page = QWidget()
        ll = QVBoxLayout(self.load_page)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addStretch(1)
        ll.addWidget(self.load_reason)
        ll.addLayout(row(self.load_image_button))
        ll.addStretch(1)
        self.input_stack = QStackedWidget()
        self.input_stack.addWidget(draw_page)
        self.input_stack.addWidget(self.load_page)
        left = QVBoxLayout()
        left.addWidget(self.input_stack, 1)
        left.addLayout(row(self.load_button, self.paste_button, self.send_button))
        left.addLayout(row(self.input_view, stretch=True))
        left.addWidget(self.input_caption)
        middle = QVBoxLayout()
        middle.addWidget(self.message)
        middle.addWidget(self.recon_view)
        middle.addWidget(self.recon_caption)
        middle.addWidget(self.fit_label)
        middle.addWidget(self.code_plot, 1)
        middle.addWidget(self.code_caption)
        middle.addWidget(self.cvae_box)
        right = QVBoxLayout()
        right.addWidget(self.map_plot, 2)
        right.addWidget(self.map_caption)
        right.addWidget(self.neighbour_view)
        right.addWidget(self.neighbour_caption)
        grid = QGridLayout()
        grid.addLayout(left, 0, 0)
        grid.addLayout(middle, 0, 1)
        grid.addLayout(right, 0, 2)
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(2, 3)
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
        self.clear_button.clicked.connect(self.canvas.clear)
        self.undo_button.clicked.connect(self.canvas.undo)
        self.brush.valueChanged.connect(self.canvas.set_brush_width)
        self.load_button.clicked.connect(self._on_load_clicked)
        self.load_image_button.clicked.connect(self._on_load_clicked)
        self.paste_button.clicked.connect(self.paste)
        self.compare.changed.connect(self._on_compare_changed)
        for view, key in ((self.input_view, "input"), (self.recon_view, "recon"),
                          (self.neighbour_view, "neighbours"), (self.restyle_view, "restyle")):
            view.set_placeholder(PLACEHOLDERS[key])
        self._show_empty(EMPTY_TEXT)

    # -- input -----------------------------------------------------------------------------
    # The modal dialog: the window's (explorer/commands/dialogs.py, which tests fake), or a
    # QFileDialog of its own outside a window; a public method tests can also replace.
    def ask_image_path(self) -> str | None:
        dialogs = getattr(self.window(), "dialogs", None)
        if dialogs is not None and hasattr(dialogs, "image_path"):
            return dialogs.image_path()
        path, _ = QFileDialog.getOpenFileName(self, "Load an image", "", IMAGES_FILTER)
        return path or None

    def load_file(self, path: str) -> bool:
        """Put an image file on the canvas, or (a model of other images) fit it to the model
        and show what it makes of it; an unreadable one is said in the panel."""
        try:
            if self.image_mode:
                self._use_loaded(drawing.load_fitted_image(path, image_shape_of(self.run)))
            else:
                self.canvas.set_image(drawing.load_image(path))
        except drawing.DrawingError as e:
            self.message.setText(str(e))
            self.message.setVisible(True)
            return False
        return True

    def _use_loaded(self, image: np.ndarray) -> None:
        """A loaded or pasted image, as the model takes it (C, H, W): analyse it now."""
        self.loaded_image = image
        self.update_views()

    def _on_load_clicked(self) -> None:
        path = self.ask_image_path()
        if path:
            self.load_file(path)

    def paste(self) -> bool:
        """Put the clipboard's image on the canvas (False, and a line saying so, if it has none)."""
        image = QApplication.clipboard().image()
        if image.isNull():
            self.message.setText("The clipboard holds no image to paste.")
            self.message.setVisible(True)
            return False
        try:
            if self.image_mode:
                self._use_loaded(drawing.fit_image(qimage_to_array(image), image_shape_of(self.run)))
            else:
                self.canvas.set_image(qimage_to_array(image))
        except drawing.DrawingError as e:
            self.message.setText(f"The pasted image: {e}")
            self.message.setVisible(True)
            return False
        return True

    def send(self, target: str) -> bool:
        """Send the preprocessed input to another tab (False when nothing is drawn)."""
        if self.input_image is None:
            self.message.setText("Load an image first: there is nothing to send." if self.image_mode
                                 else "Draw something first: there is nothing to send.")
            self.message.setVisible(True)
            return False
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
        self._set_mode(image_shape_of(run))
        what = "an image you load" if self.image_mode else "your drawing"
        self.caption.setText(f"{run_caption(run)}: what it makes of {what}.")
        self.cvae_box.setVisible(run.is_conditional)
        self._code_range = None  # another run: another scale of codes
        if not self.mark_stale():  # hidden: the codes wait until the tab is shown
            self.update_views()

    def _set_mode(self, shape: tuple[int, int, int]) -> None:
        """The canvas for a 28×28 grey model; for any other a Load button and why."""
        self.image_mode = tuple(shape) != DIGIT_SHAPE
        self.input_stack.setCurrentWidget(self.load_page if self.image_mode
                                          else self.input_stack.widget(0))
        # One Load button at a time: the load page's own while there is no canvas.
        self.load_button.setVisible(not self.image_mode)
        if self.image_mode:
            self.load_reason.setText(
                f"Drawing is for 28×28 grey digits; this model takes {shape_words(shape)} "
                "images: load one instead (or paste one).")
            self.input_caption.setText(f"The input as the model takes it: {shape_words(shape)}, "
                                       "resized and centre-cropped")
            if self.loaded_image is not None and self.loaded_image.shape != tuple(shape):
                try:  # another model's size: the same picture fitted again
                    shown = to_numpy_images(self.loaded_image[None])[0]
                    self.loaded_image = drawing.fit_image(shown, shape)
                except drawing.DrawingError:
                    self.loaded_image = None
        else:
            self.input_caption.setText("Preprocessed 28×28 input")

    @property
    def _input_word(self) -> str:
        return "image" if self.image_mode else "drawing"

    def _empty_text(self) -> str:
        return LOAD_TEXT if self.image_mode else EMPTY_TEXT

    def refresh(self) -> None:
        # The test codes are re-encoded when the tab is shown or the run is selected, not per
        # stroke: while a run trains, every step would otherwise re-encode the whole split.
        self._codes(refresh=True)
        self.update_views()

    def _clear(self) -> None:
        self._show_empty(self._empty_text())
        for item in self.scatters:
            item.clear()
        self._scatter_key = None

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
        shown = self._shown_map(cached[1])
        skey = (run.id, cached[0], shown.key if shown is not None else "pca")
        if self._scatter_key != skey:
            self._draw_scatter(cached[2])
            self._scatter_key = skey
        return cached

    def _shown_map(self, encoded: explore.Encoded) -> lm.FittedMap | None:
        """The Latent map tab's UMAP/t-SNE map of these codes, if it shows one (None: PCA)."""
        fitted = self.maps.shown(self.run.id)
        if fitted is None:
            return None
        key = (id(encoded),)
        if self._fp[0] != key:
            self._fp = (key, lm.codes_fingerprint(encoded.means.numpy()))
        return fitted if fitted.codes_key == self._fp[1] else None

    def _on_shown_map_changed(self, run_id: int) -> None:
        if self.run is None or run_id != self.run.id or self.is_showing_hint:
            return
        self._scatter_key = None
        if self.isVisible() and self.analyses:
            self.update_views()

    def map_coords(self) -> np.ndarray | None:
        """(N, 2): the test codes as the small map draws them now."""
        cached = self._cache.get(self.run.id) if self.run is not None else None
        if cached is None:
            return None
        shown = self._shown_map(cached[1])
        return shown.coords if shown is not None else cached[2].coords

    def _draw_scatter(self, m: explore.LatentMap) -> None:
        names = self.run.class_names
        while len(self.scatters) < max(len(names), 10):
            item = pg.ScatterPlotItem(size=4, pen=None,
                                      brush=pg.mkBrush(TAB10[len(self.scatters) % len(TAB10)]))
            item.setZValue(-1)
            self.map_plot.addItem(item)
            self.scatters.append(item)
        shown = self._shown_map(self._cache[self.run.id][1])
        coords = shown.coords if shown is not None else m.coords
        for c, item in enumerate(self.scatters):
            item.setData(pos=coords[m.labels == c])
        if shown is not None:
            self.map_plot.setLabel("bottom", shown.axis_labels[0])
            self.map_plot.setLabel("left", shown.axis_labels[1])
        else:
            ex = m.explained * 100
            self.map_plot.setLabel("bottom", f"PC 1 ({ex[0]:.0f}%)")
            self.map_plot.setLabel("left", f"PC 2 ({ex[1]:.0f}%)")
        self.map_plot.autoRange()

    # -- drawing the model's reading -----------------------------------------------------------
    def _show_empty(self, text: str) -> None:
        self.input_image = None
        self.input_display = None
        self.analyses = []
        self.neighbours = np.zeros(0, np.int64)
        self.map_position = None
        self.message.setText(text)
        self.message.setVisible(True)
        for view in (self.input_view, self.recon_view, self.neighbour_view, self.restyle_view):
            view.clear_images()
        for label in (self.fit_label, self.guess_label, self.scores_label):
            label.clear()
        # Each view says what it will show: empty black boxes said nothing.
        for label, key in ((self.recon_caption, "recon"), (self.code_caption, "code"),
                           (self.map_caption, "map"), (self.neighbour_caption, "neighbours"),
                           (self.restyle_caption, "restyle")):
            label.setText(EMPTY_CAPTIONS[key])
        self.code_bars.setOpts(x=[], height=[])
        self.sigma_bars.setData(x=None, y=None)  # pyqtgraph hides an ErrorBarItem without data
        self.score_bars.setOpts(x=[], height=[])
        self.marker.clear()
        self.marker_halo.clear()
        self.neighbour_marks.clear()
        self.send_button.setEnabled(False)

    def update_views(self) -> None:
        """Preprocess the canvas and show what the shown runs make of it (a hint when empty)."""
        if self.run is None or self.is_showing_hint:
            return
        if self.image_mode:
            x = self.loaded_image
            if x is None:
                self._show_empty(LOAD_TEXT)
                return
        else:
            try:
                x = drawing.preprocess(self.canvas.image())
            except drawing.DrawingError:
                self._show_empty(EMPTY_TEXT)
                return
        self.input_image = x
        self.input_display = to_numpy_images(x[None], image_shape_of(self.run))[0]
        self.message.setVisible(False)
        self.send_button.setEnabled(True)
        self.input_view.set_images(self.input_display[None], ncols=1)
        self.analyses = [(r, drawing.analyse(r.model, x)) for r in self.shown_runs()]
        _, encoded, m, usage = self._codes()
        self._show_reconstructions()
        self._show_code(self.analyses[0][1], usage)
        self._show_place(self.analyses[0][1], encoded, m)
        if self.run.is_conditional:
            self._show_cvae(self.analyses[0][1])

    def _show_reconstructions(self) -> None:
        images = [self.input_display] + [a.reconstruction for _, a in self.analyses]
        self.recon_view.set_images(np.stack(images), ncols=len(images))
        self.recon_view.set_cell_labels([f"{a.error:.3f}" for _, a in self.analyses], first_col=1)
        parts, misfits = [], []
        for r, a in self.analyses:
            ref = self._test_bce(r)
            vs = f" (its test images: {ref:.3f})" if ref is not None else ""
            parts.append(f"{r.name}: {error_name(r)} {a.error:.3f}{vs}")
            if not drawing.fits(a.error, ref):
                misfits.append(f"{r.name} ({a.error / ref:.1f}× its test error)")
        other = self.compare.other_than(self.run)
        skipped = (f" Not compared with <b>{other.name}</b>: it takes {image_words(other)} "
                   f"images." if other is not None and not same_images(self.run, other) else "")
        self.recon_caption.setText("Input, then its reconstruction by " + "; ".join(parts) + "."
                                   + skipped)
        self.fit_label.setText(
            f"This {self._input_word} doesn't fit: " + ", ".join(misfits) + " reconstructs it far worse than "
            "its test images. It looks like nothing the model learnt." if misfits else "")
        self.fit_label.setVisible(bool(misfits))  # no empty line's height when it fits

    @staticmethod
    def _test_bce(run: Run) -> float | None:
        m = run.metrics or run.history.last_metrics
        return float(m.bce) if m is not None and m.bce is not None else None

    def _show_code(self, a: drawing.DrawingAnalysis, usage: explore.DimensionUsage) -> None:
        order = np.asarray(usage.order)
        unused = explore.unused_dimensions(usage)[order]
        pos = np.arange(len(order), dtype=float)
        mu = a.mean[order].astype(float)
        self.code_bars.setOpts(x=pos, height=mu, width=0.7,
                               brushes=[UNUSED_BRUSH if u else USED_BRUSH for u in unused])
        if a.log_sigma is not None:
            sigma = np.exp(a.log_sigma[order].astype(float))
            self.sigma_bars.setData(x=pos, y=mu, height=2 * sigma)
        else:  # an AE has no σ
            self.sigma_bars.setData(x=None, y=None)
        # Axes and ranges change only with the run: re-laying out a plot's axes on every stroke
        # was most of the tab's repaint cost (benchmarks/draw_latency.py).
        if self._code_ticks != tuple(order):
            self._code_ticks = tuple(order)
            self._update_code_ticks()
            self.code_plot.setXRange(-0.6, len(order) - 0.4, padding=0)
            self.code_plot.enableAutoRange(x=False)
        if a.log_sigma is not None:
            rng = (-3.5, 3.5)  # the prior's ±3.5
        else:  # an AE's codes have no prior scale: widen the range when they go past it
            lo, hi = self._code_range or (0.0, 0.0)
            rng = (min(lo, float(mu.min()) - 0.5) if mu.min() < lo else lo,
                   max(hi, float(mu.max()) + 0.5) if mu.max() > hi else hi)
        if rng != self._code_range:
            self._code_range = rng
            self.code_plot.setYRange(*rng, padding=0)
        sig = " with ±σ as error bars" if a.log_sigma is not None else ""
        n_unused = int(unused.sum())
        grey = f"; grey: {n_unused} dimensions the model does not use (KL < {explore.UNUSED_KL:g})" \
            if n_unused else ""
        self.code_caption.setText(f"The code: μ per latent dimension{sig}, most used first "
                                  f"(the Latent map tab's traversal order){grey}.")

    def _update_code_ticks(self, *_args) -> None:
        """Label every k-th bar of the code plot, k as its width allows (`label_step`); the
        others get a tick without text. All labels at once were unreadable past ~12 dims."""
        order = self._code_ticks
        if not order:
            return
        axis = self.code_plot.getAxis("bottom")
        font = axis.style.get("tickFont") or axis.font()  # what the axis draws its text with
        fm = QFontMetrics(font)
        widest = max(fm.horizontalAdvance(f"z{d}") for d in order)
        width = self.code_plot.getPlotItem().vb.width()
        if width <= 1:  # not laid out yet: sigResized relabels it
            width = self.code_plot.width() * 0.8
        k = label_step(len(order), widest, width)
        major = [(float(p), f"z{d}") for p, d in enumerate(order) if p % k == 0]
        minor = [(float(p), "") for p in range(len(order)) if p % k]
        self.code_plot.getAxis("bottom").setTicks([major, minor])
        self._code_labels = [t for _, t in major]

    def code_tick_labels(self) -> list[str]:
        """The dimension labels under the code plot's bars, as drawn (every k-th dimension)."""
        return list(self._code_labels)


    def _show_place(self, a: drawing.DrawingAnalysis, encoded: explore.Encoded,
                    m: explore.LatentMap) -> None:
        shown = self._shown_map(encoded)
        self.neighbours = drawing.nearest_codes(encoded.means, torch.from_numpy(a.mean), N_NEIGHBOURS)
        if shown is None:
            coords, how = m.coords, "PCA"
            self.map_position = m.project(torch.from_numpy(a.mean))[0]
        else:  # at once near its neighbours, then where the method's transform puts it
            coords = shown.coords
            how = lm.get_map_method(shown.method).label
            codes = encoded.means.numpy()
            self.map_position = lm.neighbour_place(codes, coords, a.mean[None])[0]
            self.placer.place((self.run.id, shown.key, a.mean.tobytes()), shown, a.mean[None], codes)
        self._set_star(self.map_position)
        self.neighbour_marks.setData(pos=coords[self.neighbours])
        x, y = explore.split_images(self.run.dataset.test, self.neighbours)
        names = self.run.class_names
        labels = [names[int(c)] if int(c) < len(names) else str(int(c)) for c in y]
        self.neighbour_view.set_images(x.numpy(), ncols=len(x))
        self.neighbour_view.set_cell_labels(labels)
        self._map_how = how
        self.map_caption.setText(f"The star: your {self._input_word} among {len(coords):,} test codes "
                                 f"(the Latent map tab's {how} map; circles: nearest codes).")
        self.neighbour_caption.setText(f"Its {len(labels)} nearest test images in latent space: "
                                       + ", ".join(labels) + ".")

    def _set_star(self, xy: np.ndarray) -> None:
        self.marker.setData(pos=np.asarray(xy, np.float32).reshape(1, 2))
        self.marker_halo.setData(pos=np.asarray(xy, np.float32).reshape(1, 2))

    def star_position(self) -> np.ndarray | None:
        """Where the star is drawn on the small map (None: no drawing)."""
        x, y = self.marker.getData()
        return None if x is None or not len(x) else np.array([x[0], y[0]])

    def _on_place_failed(self, token, message: str) -> None:
        """The transform failed: the star stays beside its nearest codes, and the caption says so."""
        if self.run is None or not self.analyses:
            return
        shown = self._shown_map(self._cache[self.run.id][1])
        if shown is None or token != (self.run.id, shown.key, self.analyses[0][1].mean.tobytes()):
            return
        self.map_caption.setText(
            f"The star: your {self._input_word} among {len(shown.coords):,} test codes, placed beside its "
            f"nearest codes ({self._map_how}'s transform failed: {message}).")

    def _on_placed(self, token, xy: np.ndarray, seconds: float) -> None:
        """The method's transform placed the drawing: move the star there (if still current)."""
        if self.run is None or not self.analyses:
            return
        shown = self._shown_map(self._cache[self.run.id][1])
        a = self.analyses[0][1]
        if shown is None or token != (self.run.id, shown.key, a.mean.tobytes()):
            return
        self.map_position = np.asarray(xy, np.float32)[0]
        self.placement_seconds = seconds
        self._set_star(self.map_position)
        self.map_caption.setText(
            f"The star: your {self._input_word} among {len(shown.coords):,} test codes, placed by "
            f"{self._map_how}'s transform in {seconds * 1000:.0f} ms (the Latent map tab's map; "
            "circles: nearest codes).")

    def shutdown(self) -> None:
        self.placer.shutdown()

    def _show_cvae(self, a: drawing.DrawingAnalysis) -> None:
        names = self.run.class_names
        probs = drawing.label_probabilities(a.scores)
        self.guess_label.setText(f"The model thinks it is: <b>{names[a.guess]}</b> "
                                 f"(p = {probs[a.guess]:.2f})")
        self.restyle_view.set_images(a.restyled, ncols=len(a.restyled))
        self.restyle_caption.setText(f"Your {self._input_word}'s style as every class: its code (read as "
                                     f"{names[a.label]}) decoded with each label.")
        pos = np.arange(len(probs), dtype=float)
        self.score_bars.setOpts(x=pos, height=probs, width=0.7)
        if self._score_ticks != names:
            self._score_ticks = names
            self.score_plot.getAxis("bottom").setTicks(
                [[(float(p), names[i]) for i, p in enumerate(pos)]])
            self.score_plot.setXRange(-0.6, len(pos) - 0.4, padding=0)
            self.score_plot.enableAutoRange(x=False)
        # The bars show every class; the line names the few likeliest (every class's figure
        # made a wall of text under the chart) and its tooltip lists them all.
        order = np.argsort(-probs, kind="stable")
        top = [i for i in order[:TOP_PROBABILITIES] if probs[i] >= 0.005]
        self.scores_label.setText(
            "Likeliest: " + " · ".join(f"{names[i]}\u00a0{probs[i]:.2f}" for i in top))
        self.scores_label.setToolTip(
            f"p(label | {self._input_word}), from each label's log p(x|μ,y) − KL:\n"
            + "\n".join(f"{names[i]}: {p:.3f}" for i, p in enumerate(probs)))

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

