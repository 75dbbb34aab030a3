"""What several test modules share that is not a fixture: config builders, the main window
driven by hand, panel makers and image checks, the mouse-drawn 7, and the exact-resume steps.

Imported as `from helpers import ...` (pytest puts tests/ on sys.path, as for tolerances.py).
The fixtures that go with these (settings, datasets, window, all_runs, mnist600) are in
conftest.py. No test module imports another: what two of them need lives here.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from latent_explorer.explorer.widgets.image_view import PAD
from latent_explorer.training.data.datasets import Dataset
from latent_explorer.training.engine.loop import TrainConfig, Trainer, TrainingObserver
from latent_explorer.training.engine.sweep import SweepConfig
from latent_explorer.training.record.checkpoint import (Checkpoint, checkpoint_of, load_checkpoint,
                                                        save_checkpoint)
from latent_explorer.training.record.run import Run
from latent_explorer.training.record.timeline import TimelineRecorder

LEFT = Qt.MouseButton.LeftButton


# -- configs --------------------------------------------------------------------------------------
# The small model every test trains unless it says otherwise: 640 train images at batch 64 are
# 10 steps an epoch (conftest's small_dataset). A test passes only what it needs to differ.
SMALL_TRAIN = dict(kind="vae", beta=0.005, nz=4, hidden=(32,), epochs=1, batch_size=64, lr=1e-3,
                   seed=0, device="cpu", dataset="mnist-sample")
SMALL_SWEEP = dict(kind="vae", betas=(0.0, 0.005, 1.0), seeds=(0,), nz=8, hidden=(64, 32),
                   epochs=1, batch_size=64, lr=2e-3, device="cpu", dataset="mnist-sample")


def train_config(*changes: dict, **kw) -> TrainConfig:
    """SMALL_TRAIN with each dict of `changes` applied in turn, then `kw` (a module's own
    defaults as a dict it passes first: `train_config(RESUME, epochs=2)`)."""
    return TrainConfig(**_merged(SMALL_TRAIN, *changes, kw))


def sweep_config(*changes: dict, **kw) -> SweepConfig:
    """SMALL_SWEEP with each dict of `changes` applied in turn, then `kw`."""
    return SweepConfig(**_merged(SMALL_SWEEP, *changes, kw))


def _merged(*dicts: dict) -> dict:
    out: dict = {}
    for d in dicts:
        out.update(d)
    return out


def wait_until(condition, timeout: float = 30.0) -> bool:
    """Poll `condition` until it holds or `timeout` s pass (qtbot.waitUntil for a plain thread,
    whose flags have no signal to wait on): True if it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)  # a poll's interval, not a wait for something to happen
    return True


# -- the main window --------------------------------------------------------------------------------
LONG = 2000  # epochs for runs a test stops: far longer than any test waits
WAIT_MS = 30_000


class FakeDialogs:
    """The window's dialogs answered by the test (explorer/commands/dialogs.py): nothing modal opens."""

    def __init__(self, path: str | None = None, close: bool = True) -> None:
        self.path = path  # what every file dialog answers
        self.close = close  # the answer to "quit anyway?"
        self.asked_close: list[tuple[list, list]] = []
        self.errors: list[tuple[str, str]] = []
        self.abouts: list[str] = []
        self.epochs: int | None = None  # the answer to "continue training to how many epochs?"
        self.confirms: list[tuple[str, str]] = []  # (title, text) of every yes/no question
        self.answer = True  # the answer to them
        self.asked_epochs: list[tuple[int, int]] = []
        self.asked_data: list[tuple[str, str, str]] = []  # (title, suggested, filter) of exports
        self.urls: list = []  # every QUrl the window asked to open (Help → User guide)
        self.url_opens = True  # whether opening them works
        self.shortcut_lists: list[list] = []  # the rows of every Help → Keyboard shortcuts
        self.asked_images = 0  # how often an image file was asked for (the Draw tab's Load)

    def open_path(self, directory: str = "") -> str | None:
        return self.path

    def save_path(self, suggested: str) -> str | None:
        return self.path

    def image_path(self, directory: str = "") -> str | None:
        self.asked_images += 1
        return self.path

    def export_path(self, suggested: str) -> str | None:
        return self.path

    def data_path(self, title: str, suggested: str, file_filter: str) -> str | None:
        self.asked_data.append((title, suggested, file_filter))
        return self.path

    def open_url(self, url) -> bool:
        self.urls.append(url)
        return self.url_opens

    def show_shortcuts(self, rows: list) -> None:
        self.shortcut_lists.append(list(rows))

    def folder_path(self, title: str, directory: str = "") -> str | None:
        return self.path

    def workspace_folder(self, directory: str) -> str | None:
        return self.path

    def ask_epochs(self, current: int, minimum: int) -> int | None:
        self.asked_epochs.append((current, minimum))
        return self.epochs

    def confirm(self, title: str, text: str) -> bool:
        self.confirms.append((title, text))
        return self.answer

    def confirm_close(self, active, unsaved) -> bool:
        self.asked_close.append((list(active), list(unsaved)))
        return self.close

    def show_error(self, title: str, text: str) -> None:
        self.errors.append((title, text))

    def show_about(self, html: str) -> None:
        self.abouts.append(html)


def make_window(qtbot, settings, datasets, load_panels: bool = False):
    from latent_explorer.explorer.main_window import MainWindow

    w = MainWindow(settings=settings, load_panels=load_panels, datasets=datasets)
    qtbot.addWidget(w)
    w.dialogs = FakeDialogs()
    w.show()
    w.finish_startup()
    return w


def fill_form(w, **values) -> None:
    v = {"kind": "vae", "beta": 0.005, "nz": 8, "epochs": 1, "batch_size": 64, "lr": 1e-3,
         "seed": 0, "dataset": "mnist-sample", "data_dir": None}
    v.update(values)
    w.form.set_values(v)


def click_train(qtbot, w):
    n = len(w.runs)
    qtbot.mouseClick(w.form.train_button, LEFT)
    assert len(w.runs) == n + 1, w.form.message.text()
    return w.runs[-1]


def wait_ended(qtbot, w, run) -> None:
    qtbot.waitUntil(lambda: run.state in ("finished", "stopped", "failed"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not w.session.has_active, timeout=WAIT_MS)


def wait_running(qtbot, w, run) -> None:
    """Until the run has reported steps (it is really in the loop)."""
    qtbot.waitUntil(lambda: w.loss_plot.step_count(run.id) > 0, timeout=WAIT_MS)


def cell(w, run, col: int, role=Qt.ItemDataRole.DisplayRole):
    """What the run list shows for `run` in column `col`."""
    m = w.run_model
    return m.data(m.index(m.row_of(run), col), role)


def trained_checkpoint(tmp_path, dataset, name="loaded run"):
    """A 2-epoch CVAE trained and saved as tmp_path/run.safetensors: (path, result)."""
    cfg = TrainConfig(kind="cvae", beta=0.01, nz=4, epochs=2, dataset="mnist-sample", device="cpu")
    result = Trainer(cfg, dataset).run()
    path = tmp_path / "run.safetensors"
    save_checkpoint(path, Checkpoint(result.model, cfg, result.history, result.metrics,
                                     name=name, dataset="mnist-sample"))
    return path, result


# -- panels -----------------------------------------------------------------------------------------
CELL = 28 + PAD  # one digit and the gap after it, in a panel's mosaic


def grid_shape(rows: int, cols: int) -> tuple[int, int]:
    """The shape of a mosaic of rows × cols digits."""
    return rows * CELL + PAD, cols * CELL + PAD


def grid_cell(grid, r, c):
    """The 28×28 digit at row r, column c of a mosaic."""
    return grid[PAD + r * CELL : PAD + r * CELL + 28, PAD + c * CELL : PAD + c * CELL + 28]


def make_panel(qtbot, cls, all_runs, run=None, show=False, size=(1100, 750)):
    panel = cls()
    qtbot.addWidget(panel)
    panel.resize(*size)
    if show:
        panel.show()
        qtbot.waitExposed(panel)
    panel.set_runs(all_runs)
    panel.set_run(run)
    return panel


def assert_image(view, shape):
    """The view's one ImageItem shows a non-blank mosaic of `shape`, at levels (0, 1)."""
    img = view.image.image
    assert img is not None and img.shape == shape
    assert img.std() > 0.02 and 0 <= img.min() and img.max() <= 1
    assert tuple(view.image.levels) == (0.0, 1.0)
    np.testing.assert_array_equal(img, view.grid)


def make_draw(qtbot, all_runs, run):
    """A shown Draw tab on `run`."""
    from latent_explorer.explorer.panels.draw import DrawPanel

    return make_panel(qtbot, DrawPanel, all_runs, run, show=True, size=(1200, 800))


def canvas_point(canvas, fx: float, fy: float) -> QPoint:
    """Widget position of (fx, fy) in [0, 1]² of the square the canvas draws into."""
    side = min(canvas.width(), canvas.height())
    x0, y0 = (canvas.width() - side) / 2, (canvas.height() - side) / 2
    return QPoint(int(x0 + fx * side), int(y0 + fy * side))


def draw_seven(qtbot, canvas) -> None:
    """A 7 with the mouse: the top bar, then the diagonal, as one press-move-release stroke."""
    path = [(0.25, 0.2), (0.45, 0.2), (0.75, 0.2), (0.62, 0.45), (0.5, 0.65), (0.42, 0.85)]
    with qtbot.waitSignal(canvas.stroke_finished, timeout=2000):
        qtbot.mousePress(canvas, LEFT, pos=canvas_point(canvas, *path[0]))
        for p in path[1:]:
            qtbot.mouseMove(canvas, canvas_point(canvas, *p))  # Qt 6 keeps the button down
        qtbot.mouseRelease(canvas, LEFT, pos=canvas_point(canvas, *path[-1]))


def wait_drawn(qtbot, panel) -> None:
    qtbot.waitUntil(lambda: panel.recon_view.has_image and panel.input_view.has_image, timeout=5000)


# -- exact resume -----------------------------------------------------------------------------------
# conftest's mnist600: 600 train images at batch 64 are 10 steps an epoch, the last of 24 images.
RESUME = dict(nz=8, hidden=(64, 32), epochs=4, lr=2e-3, seed=7, dataset="mnist-600")


class StopAt(TrainingObserver):
    """Requests a stop once `step` steps are done (the loop stops before the next batch)."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.trainer = None
        self.first_steps: list[int] = []

    def on_train_start(self, trainer) -> None:
        self.trainer = trainer
        if self.step == 0:
            trainer.request_stop()

    def on_steps(self, event) -> None:
        self.first_steps.append(event.first_step)
        if event.last_step + 1 >= self.step:
            self.trainer.request_stop()


def straight(config: TrainConfig, data: Dataset):
    """A run that never stops: (trainer, result)."""
    trainer = Trainer(config, data, timeline=TimelineRecorder(n_codes=40))
    result = trainer.run()
    assert result.state == "finished", result.error
    return trainer, result


def stop_save_load(config: TrainConfig, data: Dataset, tmp_path, stop_at: int | None,
                   resume_from=None):
    """Train (or continue) until `stop_at` steps (None: to the end), save, load the file."""
    observers = [StopAt(stop_at)] if stop_at is not None else []
    if resume_from is None:
        trainer = Trainer(config, data, observers, notify_interval=0,
                          timeline=TimelineRecorder(n_codes=40))
    else:
        trainer = Trainer.from_checkpoint(resume_from, config.epochs, data, observers,
                                          notify_interval=0)
    result = trainer.run()
    path = save_checkpoint(tmp_path / f"run-{len(result.history)}.safetensors",
                           checkpoint_of(trainer, result, "run"))
    return trainer, result, load_checkpoint(path)


def assert_same_run(a_trainer, a, b_trainer, b) -> None:
    """The same weights, loss history, epochs and timeline, bit for bit."""
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb), "weights differ"
    for f in ("recon", "kl", "total", "beta"):
        assert np.array_equal(getattr(a.history, f), getattr(b.history, f), equal_nan=True), f
    assert [e.to_dict() for e in a.history.epochs] == [e.to_dict() for e in b.history.epochs]
    ta, tb = a_trainer.timeline_recorder.timeline, b_trainer.timeline_recorder.timeline
    assert ta.steps.tolist() == tb.steps.tolist()
    for x, y in zip(ta.snapshots, tb.snapshots):
        assert np.array_equal(x.reconstructions, y.reconstructions)
        assert np.array_equal(x.samples, y.samples) and np.array_equal(x.coords, y.coords)


# -- the Latent map: panels, points and lasso drags as a user makes them ----------------------
def make(qtbot, cls, run):
    return make_panel(qtbot, cls, [run], run, show=True)


def fresh(run: Run, **changes) -> Run:
    """The same weights as a new run (its own id: nothing of it is in memory yet)."""
    return Run(run.name, run.config, run.model, run.history, state="finished",
               dataset=run.dataset, **changes)


def scatter_points(panel) -> np.ndarray:
    """Every drawn point, by label, as the user sees them."""
    labels = panel.run.dataset.test.labels.numpy()
    pts = np.zeros((len(labels), 2), np.float32)
    for c, item in enumerate(panel.scatters):
        if len(item.data):
            pts[labels == c] = np.c_[item.data["x"], item.data["y"]]
    return pts


def send_mouse(widget, kind, local: QPointF, button, buttons) -> None:
    ev = QMouseEvent(kind, local, widget.mapToGlobal(local), button, buttons,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def to_pixel(panel, x: float, y: float) -> QPointF:
    vb = panel.plot.getViewBox()
    return QPointF(panel.plot.mapFromScene(vb.mapViewToScene(QPointF(x, y))))


def drag_lasso(panel, polygon: np.ndarray) -> None:
    """Press, move along the polygon with the button held, release: a lasso on the map.

    pyqtgraph drops mouse moves that come faster than its `mouseRateLimit` (100 a second), as
    a hand's do not; the moves sent here at once all count with the limit off meanwhile."""
    vp = panel.plot.viewport()
    px = [to_pixel(panel, float(x), float(y)) for x, y in polygon]
    limit = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOption("mouseRateLimit", -1)
    try:
        send_mouse(vp, QEvent.Type.MouseButtonPress, px[0], LEFT, LEFT)
        for p in px[1:] + px[:1]:
            send_mouse(vp, QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, LEFT)
        send_mouse(vp, QEvent.Type.MouseButtonRelease, px[0], LEFT, Qt.MouseButton.NoButton)
    finally:
        pg.setConfigOption("mouseRateLimit", limit)


def gaps(values: np.ndarray, percents: list[float]) -> list[float]:
    """Near each percentile, the middle of the widest gap between neighbouring values: a lasso
    edge there leaves every point clearly in or out, whatever pixel the drag rounds it to."""
    v = np.sort(values)
    out = []
    for q in percents:
        k = int(round(q / 100 * (len(v) - 1)))
        lo, hi = max(0, k - 5), min(len(v) - 1, k + 5)
        j = lo + int(np.argmax(np.diff(v[lo : hi + 1])))
        out.append(float(v[j] + v[j + 1]) / 2)
    return out
