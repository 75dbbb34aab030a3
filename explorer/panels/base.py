"""The base of every exploration panel: the contract with the window, a hint page, PNG export.

The window (explorer/views/panel_host.py) calls `set_runs` whenever the list of usable runs changes
(a run finished, was loaded, renamed or removed, or a training run's first weights arrived) and
`set_run` whenever the selection changes, usable or not (the hint then says why not), or the
selected run has newer weights. A run that trains is explored from a copy of its weights taken
at an epoch end (`run.snapshot_epoch`); `run_caption` says so.
A panel with `follows_training = True` (the Sweep tab) is given every run instead, training
ones included, and both calls again whenever any run progressed (an epoch ended, a state or a
measured figure changed), so it can redraw live. A panel asks the window to select a run by
emitting `run_requested(run)`; every tab then follows. Panels draw only: the math lives in
Qt-free functions (training/explore/panel_math.py).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from latent_explorer.explorer.widgets.page_scroll import PageScroll
from latent_explorer.training.explore.render import save_png
from latent_explorer.training.record.names import file_stem
from latent_explorer.training.record.run import Run

PNG_SCALE = 4  # exported PNGs: images upscaled ×4 (nearest), like the CLI's ×2 grids
# Where a panel can send an image ("Send to…"): the target names panels `accept`.
INTERPOLATION_START = "interpolation start"
INTERPOLATION_END = "interpolation end"
TRAVERSAL_START = "traversal start"
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


class Panel(QWidget):
    """A tab exploring 'the selected run': a hint page (no run, no model, no data, wrong kind)
    and a content page that subclasses fill."""

    title = "Panel"
    needs_data = True  # panels that draw test images need run.dataset.test
    # (target, float image in [0, 1] as the selected run's model takes it: (C, H, W), or (H, W)
    # for a grey one such as a 28×28 drawing): give this image to the panel that accepts
    # target; the PanelHost routes it and brings that panel's tab to the front.
    sent = Signal(str, object)
    run_requested = Signal(object)  # Run: ask the window to select it (the run list follows)
    follows_training = False  # True: set_runs gets every run, and calls repeat as runs progress
    # Data out: a panel that writes its data as arrays or a table (training/explore/export.py)
    # names the suffixes it writes (the first is the default), its file dialog's filter, and
    # implements `export_data`. Its Export button emits `data_export_requested`: the window asks
    # for the file through its dialogs and says in the status bar how it went.
    data_export_requested = Signal()
    data_suffixes: tuple[str, ...] = ()
    data_filter = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Run | None = None
        self.runs: list[Run] = []
        self._stale = False  # mark_stale: refresh when next seen
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
        # A window too small for this tab scrolls it rather than grow past the screen.
        self.page = PageScroll(self._stack)
        layout.addWidget(self.page)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setToolTip("Save this panel's image as a PNG file")
        self.save_button.clicked.connect(self._on_save_clicked)

    # -- the contract with the window ----------------------------------------------------------
    def set_runs(self, runs: list[Run]) -> None:
        """All runs with a usable model, in run-list order (for 'compare with' pickers)."""
        self.runs = list(runs)
        self._update_run_list()

    def set_run(self, run: Run | None) -> None:
        """The selected run, or None: show a hint instead of images."""
        self.run = run
        reason = self.unusable_reason(run)
        if reason:
            self.hint.setText(reason)
            self._stack.setCurrentWidget(self.hint)
            self._clear()
            return
        self._stack.setCurrentWidget(self.content)
        self._update_run()

    def accepts(self, target: str) -> bool:
        """Whether `receive_image` takes images sent to `target` (e.g. INTERPOLATION_START)."""
        return False

    def receive_image(self, target: str, image: np.ndarray) -> None:
        """Use an image in [0, 1] sent from another panel (only for accepted targets): the
        selected run's (C, H, W) (`as_model_image` reads the shapes panels send)."""
        raise NotImplementedError(f"{self.title} takes no images ({target!r})")

    def shutdown(self) -> None:
        """The window is closing (panels with threads or timers stop them here)."""

    @property
    def is_showing_hint(self) -> bool:
        return self._stack.currentWidget() is self.hint

    def unusable_reason(self, run: Run | None) -> str | None:
        """Why this panel cannot show `run` (a sentence for the user), or None."""
        if run is None:
            return "Select a run in the run list (or load a checkpoint) to explore it here."
        if not run.is_usable:
            return not_explorable_reason(run)
        if self.needs_data and (run.dataset is None or run.dataset.test is None):
            return f"The test images for <b>{run.name}</b> are still loading…"
        if self.needs_data and len(run.dataset.test) == 0:
            return f"<b>{run.name}</b>'s dataset has no test images to show."
        return None

    # -- costly work, done when the tab is seen -------------------------------------------------
    # A panel that encodes the test split (or fits a map) does it for the tab the user looks at:
    # while a run trains, every step would otherwise redo it on every hidden tab.
    def mark_stale(self) -> bool:
        """What the panel shows is out of date (another run, or its weights moved on): refresh
        now if the tab is visible, else when it is next shown. Whether it refreshed now."""
        self._stale = True
        return self.isVisible() and self.refresh_if_stale()

    @property
    def is_stale(self) -> bool:
        return self._stale

    def refresh_if_stale(self) -> bool:
        """`refresh` if marked stale and a usable run is shown; whether it did."""
        if not self._stale or self.run is None or self.is_showing_hint:
            return False
        self.refresh_now()
        return True

    def refresh_now(self) -> None:
        """`refresh`, stale or not, visible or not (the panel needs its result at once)."""
        self._stale = False
        self.refresh()

    def refresh(self) -> None:
        """Redo the work `mark_stale` deferred (panels that call it implement this)."""

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh_if_stale()

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

    # -- data out (arrays and tables) ----------------------------------------------------------
    def make_export_button(self, text: str, tip: str) -> QPushButton:
        """The panel's Export button: it asks the window to export (data_export_requested)."""
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: self.data_export_requested.emit())
        return button

    def can_export_data(self) -> bool:
        """Whether the panel shows data `export_data` can write now."""
        return False

    def default_data_file_name(self) -> str:
        """The name the export dialog suggests (the run's name and what the panel shows)."""
        what = self.title.lower().replace(" ", "_").replace("-", "_")
        stem = f"{file_stem(self.run.name)}-{what}" if self.run is not None else what
        return stem + (self.data_suffixes[0] if self.data_suffixes else "")

    def export_data(self, path: str | Path) -> str:
        """Write the shown data to `path` (its suffix picks the format); returns what was
        written, in words. training.explore.export.ExportError or OSError: not written."""
        raise NotImplementedError(f"{self.title} exports no data")

    def save_png(self, path: str | Path) -> Path | None:
        grid = self.export_grid()
        if grid is None:
            return None
        return save_png(grid, path, scale=PNG_SCALE)

    # The modal dialog lives in a method tests can replace, so a test never blocks on it.
    def ask_save_path(self, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Save image", suggested, "PNG images (*.png)")
        return path or None

    def _on_save_clicked(self) -> None:
        path = self.ask_save_path(self.default_file_name())
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


def labeled_slider(lo: int, hi: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setValue(value)
    return s


def not_explorable_reason(run: Run) -> str:
    """Why `run` has no weights to explore yet (or at all), as the user should read it."""
    name = f"<b>{escape(run.name)}</b>"
    state = str(run.state)
    if state == "queued":
        return (f"{name} is queued: it starts when the run training now ends. Its weights "
                "appear here from the end of its first epoch.")
    if state in ("running", "paused"):
        doing = "is training" if state == "running" else "is paused"
        return (f"{name} {doing} and has not finished its first epoch yet: the tabs explore a "
                "copy of its weights taken at epoch ends, from the first one on.")
    if state == "failed":
        why = f": {escape(run.error)}" if run.error else ""
        return f"{name} failed before it had trained weights to explore{why}"
    if run.model is None:
        return (f"{name} was stopped before it trained (it left the queue): there are no "
                "weights to explore. Start it again with Train.")
    return f"{name} stopped before its first step: its weights are untrained."


def image_shape_of(run: Run) -> tuple[int, int, int]:
    """(C, H, W) of the images `run`'s model takes (a 28×28 digit until it has a model)."""
    if run.model is not None:
        return tuple(int(s) for s in run.model.config.image_shape)  # type: ignore[return-value]
    if run.dataset is not None:
        return run.dataset.image_shape
    return (1, 28, 28)


def shape_words(shape: tuple[int, ...]) -> str:
    """'28×28 grey', '64×64 colour': how a (C, H, W) image shape reads."""
    c, h, w = shape
    return f"{h}×{w} " + ("grey" if c == 1 else "colour" if c == 3 else f"{c}-channel")


def image_words(run: Run) -> str:
    """'28×28 grey', '64×64 colour': the images `run`'s model takes."""
    return shape_words(image_shape_of(run))


def same_images(a: Run, b: Run) -> bool:
    """Whether two runs take images of one shape (one's inputs can go through the other)."""
    return image_shape_of(a) == image_shape_of(b)


def error_name(run: Run) -> str:
    """What the reconstruction error per value is called for `run`'s likelihood: the course's
    'BCE/pixel' for the Bernoulli, '−log p(x|z)/value' for any other (models/likelihoods.py)."""
    cfg = run.model.config if run.model is not None else None
    if cfg is None or getattr(cfg, "likelihood", "bernoulli") == "bernoulli":
        return "BCE/pixel"
    return "−log p(x|z)/value"


def as_model_image(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A float32 (C, H, W) copy of an image sent between tabs, for a model of `shape`: taken as
    (C, H, W), flat, (H, W) grey or a display array (H, W, 3). ValueError: another size."""
    a = np.asarray(image, dtype=np.float32)
    c, h, w = shape
    if a.shape == (c, h, w):
        return a.copy()
    if a.size == c * h * w and a.ndim <= 2 and (a.ndim == 1 or c == 1):
        return a.reshape(c, h, w).copy()
    if c == 3 and a.shape == (h, w, 3):
        return np.ascontiguousarray(a.transpose(2, 0, 1))
    raise ValueError(f"an image of shape {a.shape} cannot go through a model of "
                     f"{shape_words(shape)} images")


def samples_filter(shape: tuple[int, ...] | None) -> str:
    """The export dialog's filter for samples: .npy float32 (N, C, H, W), or a PNG grid."""
    dims = "N×C×H×W" if shape is None else "N×" + "×".join(str(s) for s in shape)
    return f"NumPy array, float32 {dims} in [0, 1] (*.npy);;PNG grid (*.png)"


def run_caption(run: Run) -> str:
    """'<b>name</b> (VAE, β = 0.005, nz = 32)', and which weights while the run trains."""
    beta = f", β = {run.beta:g}" if run.is_variational else ""
    text = f"<b>{escape(run.name)}</b> ({run.model_label}{beta}, nz = {run.config.nz})"
    if run.is_active:
        doing = "training" if str(run.state) == "running" else str(run.state)
        if run.snapshot_epoch is not None:
            text += f", {doing}: its weights as of epoch {run.snapshot_epoch}"
        else:
            text += f", {doing}: its weights from before this training (epoch {run.epochs_done})"
    return text
