"""Latent Explorer's main window: training form, run list, live loss plots and panel tabs.

Layout: the training form docks on the left, the run list docks at the bottom, and the centre
is a tab widget: "Training" (live loss curves and the reconstruction strip) first, then one tab
per exploration panel, all fed "the selected run". Nothing here imports torch at module import:
`finish_startup()` does, once the window is on screen.
"""

from __future__ import annotations

import csv
import json
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.loss_plot import LossPlot, run_color
from explorer.recon_strip import ReconStrip
from explorer.run_table import COL_NAME, RunTable, RunTableModel
from explorer.training_form import TrainingForm

if TYPE_CHECKING:
    import numpy as np

    from explorer.jobs import DatasetCache, DatasetLoader, Job, JobQueue
    from explorer.panels.base import Panel
    from training.run import Run

ORGANIZATION = "LatentExplorer"
APPLICATION = "Latent Explorer"
CLOSE_TIMEOUT_MS = 2000  # closing never hangs longer than this on a running job
PROGRESS_INTERVAL_MS = 250  # progress bars refresh 4 times a second
CHECKPOINT_FILTER = "Latent Explorer checkpoints (*.safetensors);;All files (*)"
DATA_LICENCE = (
    "MNIST: Yann LeCun and Corinna Cortes, from NIST's Special Databases 1 and 3; made "
    "available under the Creative Commons Attribution-Share Alike 3.0 licence. The bundled "
    "5,000-digit sample is a subset of it.<br>Fashion-MNIST: © Zalando SE, MIT licence."
)


class MainWindow(QMainWindow):
    """The application window. Torch-dependent parts start in `finish_startup()`."""

    ready = Signal()  # torch is loaded and jobs can start
    first_painted = Signal()  # the window has drawn itself once (start-up timing, lazy torch)
    selected_run_changed = Signal(object)  # Run or None

    def __init__(self, settings: QSettings | None = None, load_panels: bool = True,
                 datasets: DatasetCache | None = None) -> None:
        super().__init__()
        self.setWindowTitle(APPLICATION)
        self.settings = settings or QSettings(ORGANIZATION, APPLICATION)
        self.jobs: JobQueue | None = None
        self.datasets = datasets
        self.panels: list[Panel] = []
        self.is_ready = False
        self._load_panels = load_panels
        self._loaders: list[DatasetLoader] = []
        self._recon: dict[int, tuple[np.ndarray, str]] = {}
        self._sent_runs: list[tuple[int, str]] | None = None
        self._sent_run: Run | None = None
        self._closed = False
        self._painted = False
        self._progress_pending: dict[int, Job] = {}
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(PROGRESS_INTERVAL_MS)
        self._progress_timer.timeout.connect(self._on_progress_timer_timeout)
        self._device_text = "…"

        # Centre: the training monitor and a tab per panel.
        self.loss_plot = LossPlot()
        self.recon_strip = ReconStrip()
        monitor = QWidget()
        mon_layout = QVBoxLayout(monitor)
        mon_layout.addWidget(self.loss_plot, 1)
        mon_layout.addWidget(self.recon_strip)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(monitor, "Training")
        self.setCentralWidget(self.tabs)

        # Left: the form.
        self.form = TrainingForm()
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.form.sizeHint().width() + 8)  # never cut the fields off
        self.form_dock = QDockWidget("New run", self)
        self.form_dock.setObjectName("form_dock")
        self.form_dock.setWidget(scroll)
        self.form_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                   | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.form_dock)

        # Bottom: the run list and the buttons acting on the selected run.
        self.run_model = RunTableModel(self)
        self.run_table = RunTable(self.run_model)
        # Room for three runs without scrolling: the classic β comparison (0, 0.005, 10).
        t = self.run_table
        t.setMinimumHeight(t.horizontalHeader().sizeHint().height()
                           + 3 * t.verticalHeader().defaultSectionSize()
                           + t.horizontalScrollBar().sizeHint().height() + 2 * t.frameWidth())
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pause_button = QPushButton("&Pause")
        self.stop_button = QPushButton("St&op")
        self.save_button = QPushButton("&Save…")
        self.open_button = QPushButton("Open checkpoint…")
        self.remove_button = QPushButton("&Remove")
        buttons = QHBoxLayout()
        for b in (self.pause_button, self.stop_button, self.save_button, self.open_button,
                  self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        runs_box = QWidget()
        runs_layout = QVBoxLayout(runs_box)
        runs_layout.addWidget(self.run_table, 1)
        runs_layout.addWidget(self.details)
        runs_layout.addLayout(buttons)
        self.runs_dock = QDockWidget("Runs", self)
        self.runs_dock.setObjectName("runs_dock")
        self.runs_dock.setWidget(runs_box)
        self.runs_dock.setFeatures(self.form_dock.features())
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.runs_dock)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)

        # Status bar: messages on the left, device and dataset on the right.
        self.device_label = QLabel("Device: loading torch…")
        self.dataset_label = QLabel("Dataset: —")
        self.statusBar().addPermanentWidget(self.dataset_label)
        self.statusBar().addPermanentWidget(self.device_label)

        self._make_actions()
        self.form.train_requested.connect(self._on_form_train_requested)
        self.run_table.selected_run_changed.connect(self._on_run_table_selected_run_changed)
        self.run_model.renamed.connect(self._on_run_model_renamed)
        self.run_model.visibility_toggled.connect(self._on_run_model_visibility_toggled)
        self.loss_plot.smoothing_changed.connect(self._on_loss_plot_smoothing_changed)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop_selected)
        self.save_button.clicked.connect(self.save_selected)
        self.open_button.clicked.connect(self.open_checkpoint)
        self.remove_button.clicked.connect(self.remove_selected)
        self._restore_settings()
        self._update_actions()
        self._update_details()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()

    # -- start-up --------------------------------------------------------------------------------
    def finish_startup(self) -> None:
        """Import torch, pick the device, start the job queue and the panels (idempotent)."""
        if self.is_ready or self._closed:
            return
        self.statusBar().showMessage("Loading torch…")
        from explorer.jobs import DatasetCache, JobQueue, limit_gui_thread_torch
        from training.device import describe_device, pick_device

        limit_gui_thread_torch()  # so training threads get the cores: see explorer/jobs.py

        self.datasets = self.datasets or DatasetCache()
        self.jobs = JobQueue(self.datasets, self)
        q = self.jobs
        q.job_state_changed.connect(self._on_job_state_changed)
        q.job_dataset_loaded.connect(self._on_job_dataset_loaded)
        q.job_started.connect(self._on_job_started)
        q.job_steps_arrived.connect(self._on_job_steps_arrived)
        q.job_epoch_ended.connect(self._on_job_epoch_ended)
        q.job_reconstructions_ready.connect(self._on_job_reconstructions_ready)
        q.job_message_posted.connect(self._on_job_message_posted)
        q.job_ended.connect(self._on_job_ended)
        q.job_finished.connect(self._on_job_finished)
        try:
            self._device_text = describe_device(pick_device("auto"))
        except Exception as e:  # noqa: BLE001 - a broken driver must not stop the app
            self._device_text = f"unknown ({e})"
        self.device_label.setText(f"Device: {self._device_text}")
        if self._load_panels:
            self._create_panels()
        self.is_ready = True
        self.statusBar().showMessage("Ready", 3000)
        self._update_actions()
        self.ready.emit()

    def _create_panels(self) -> None:
        """Exploration panels from explorer.panels.create_panels(), when that exists."""
        try:
            import explorer.panels as panels_pkg

            create = getattr(panels_pkg, "create_panels", None)
            panels = list(create()) if callable(create) else []
        except Exception as e:  # noqa: BLE001 - a broken panel must not take the app down
            traceback.print_exc()
            self.statusBar().showMessage(f"Exploration panels unavailable: {e}", 10000)
            return
        for panel in panels:
            self.add_panel(panel)

    def add_panel(self, panel: Panel) -> None:
        """Add an exploration panel as a tab; it is fed the usable runs and the selection."""
        self.panels.append(panel)
        self.tabs.addTab(panel, getattr(panel, "title", type(panel).__name__))
        usable = self.usable_runs()
        self._call_panel(panel, "set_runs", usable)
        sel = self.selected_run()
        self._call_panel(panel, "set_run", sel if sel in usable else None)

    # -- queries ---------------------------------------------------------------------------------
    @property
    def runs(self) -> list[Run]:
        return list(self.run_model.runs)

    def selected_run(self) -> Run | None:
        return self.run_table.selected_run()

    def usable_runs(self) -> list[Run]:
        """Runs the panels can explore: a trained model and its dataset in memory."""
        return [r for r in self.run_model.runs if r.is_usable and r.dataset is not None
                and not r.is_active]

    def job_for(self, run: Run | None) -> Job | None:
        return self.jobs.job_for(run) if self.jobs is not None else None

    # -- actions ---------------------------------------------------------------------------------
    def _make_actions(self) -> None:
        def action(text: str, slot, shortcut=None, tip: str = "") -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
                a.setToolTip(tip)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.open_action = action("&Open checkpoint…", self.open_checkpoint,
                                  QKeySequence.StandardKey.Open, "Load a saved run")
        self.save_action = action("&Save run as…", self.save_selected,
                                  QKeySequence.StandardKey.Save, "Save the selected run")
        self.export_action = action("&Export…", self.export_selected, "Ctrl+E",
                                    "Export the selected run's losses (CSV) or the plots (PNG)")
        self.quit_action = action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.train_action = action("&Train", self.form.request_train, "Ctrl+Return",
                                   "Start a run with the form's settings")
        self.pause_action = action("&Pause", self.toggle_pause, "Ctrl+P",
                                   "Pause or resume the selected run")
        self.stop_action = action("St&op", self.stop_selected, "Ctrl+.",
                                  "Stop the selected run (its weights so far are kept)")
        self.rename_action = action("Re&name", self.rename_selected, "F2")
        self.remove_action = action("&Remove", self.remove_selected, QKeySequence.StandardKey.Delete)
        # Delete and F2 belong to the run list: line edits in the form keep their own keys.
        for a in (self.rename_action, self.remove_action):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.removeAction(a)
            self.run_table.addAction(a)
        self.about_action = action("&About Latent Explorer", self._show_about)

        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([self.open_action, self.save_action, self.export_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addActions([self.train_action, self.pause_action, self.stop_action])
        run_menu.addSeparator()
        run_menu.addActions([self.rename_action, self.remove_action])
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.form_dock.toggleViewAction())
        view_menu.addAction(self.runs_dock.toggleViewAction())
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.about_action)
        self.pause_button.setToolTip("Pause or resume the selected run (Ctrl+P)")
        self.stop_button.setToolTip("Stop the selected run; a queued run leaves the queue (Ctrl+.)")
        self.save_button.setToolTip("Save the selected run as a checkpoint file (Ctrl+S)")
        self.open_button.setToolTip("Load a checkpoint file as a run (Ctrl+O)")
        self.remove_button.setToolTip("Remove the selected run from the list (Delete)")

    def _update_actions(self) -> None:
        run = self.selected_run()
        state = run.state if run else None
        can_pause = state in ("running", "paused")
        self.pause_action.setEnabled(can_pause)
        self.pause_button.setEnabled(can_pause)
        label = "&Resume" if state == "paused" else "&Pause"
        self.pause_action.setText(label)
        self.pause_button.setText(label)
        can_stop = state in ("queued", "running", "paused")
        self.stop_action.setEnabled(can_stop)
        self.stop_button.setEnabled(can_stop)
        can_save = run is not None and run.model is not None and not run.is_active
        for w in (self.save_action, self.save_button, self.export_action):
            w.setEnabled(can_save)
        for w in (self.remove_action, self.remove_button, self.rename_action):
            w.setEnabled(run is not None)
        self.train_action.setEnabled(not self._closed)

    def _update_details(self) -> None:
        """The line under the run list: the selected run's state, error and file."""
        run = self.selected_run()
        if run is None:
            n = len(self.run_model.runs)
            self.details.setText("Select a run to explore it in the panel tabs." if n else
                                 "No runs yet: set the hyper-parameters on the left and press "
                                 "Train, or open a checkpoint (Ctrl+O).")
            self.details.setStyleSheet("")
            return
        parts = [f"<b>{_html(run.name)}</b>: {run.state}"]
        if run.error:
            parts.append(f"<span style='color:#d62728'>{_html(run.error)}</span>")
        if run.metrics is not None:
            parts.append(_html(run.metrics.summary()))
        if run.dataset is not None:
            parts.append(_html(run.dataset.description))
        if run.path is not None:
            parts.append(("saved to " if run.saved else "from ") + _html(str(run.path)))
        elif run.model is not None and not run.is_active:
            parts.append("not saved yet")
        self.details.setText(" · ".join(parts))

    # -- training --------------------------------------------------------------------------------
    @Slot(dict)
    def _on_form_train_requested(self, values: dict) -> None:
        self.start_run(values)

    def start_run(self, values: dict) -> Run | None:
        """Build a TrainConfig from form values and queue it; bad values are explained inline."""
        self.finish_startup()
        if self.jobs is None:
            return None
        from training.loop import TrainConfig
        from training.run import Run

        kw = dict(values)
        if kw.get("kind") == "ae" or kw.get("beta") is None:
            kw["beta"] = kw.get("beta") or 0.0
        try:
            config = TrainConfig(**kw)
        except (TypeError, ValueError) as e:
            self.form.show_message(f"Cannot train: {e}.")
            self.statusBar().showMessage(f"Cannot train: {e}", 8000)
            return None
        self._save_form_settings()
        run = Run(name="", config=config)
        run.name = run.default_name()
        self._add_run(run)
        self.jobs.submit(run)
        self.run_table.select_run(run)
        if run.state == "queued":
            self.statusBar().showMessage(f"{run.name} queued: it starts when the run training now "
                                         "ends (one run trains at a time)", 6000)
        return run

    def _add_run(self, run: Run) -> None:
        color = run_color(run.id - 1)
        self.run_model.add_run(run, color)
        self.loss_plot.add_run(run, color)

    @Slot()
    def toggle_pause(self) -> None:
        run = self.selected_run()
        if run is None or self.jobs is None:
            return
        if run.state == "running":
            self.jobs.pause(run)
        elif run.state == "paused":
            self.jobs.resume(run)

    @Slot()
    def stop_selected(self) -> None:
        run = self.selected_run()
        if run is not None and self.jobs is not None and run.is_active:
            self.jobs.stop(run)
            self.statusBar().showMessage(f"Stopping {run.name}…", 3000)

    # -- job events (GUI thread) -----------------------------------------------------------------
    @Slot(object)
    def _on_job_state_changed(self, job: Job) -> None:
        self.run_model.refresh(job.run)
        if job.run is self.selected_run():
            self._update_actions()
            self._update_details()

    @Slot(object, object)
    def _on_job_dataset_loaded(self, job: Job, ds) -> None:
        self.dataset_label.setText(f"Dataset: {ds.name}")
        self.dataset_label.setToolTip(ds.description)

    @Slot(object, str)
    def _on_job_started(self, job: Job, device: str) -> None:
        self.device_label.setText(f"Device: {device}")
        self.statusBar().showMessage(f"Training {job.run.name} on {device}", 4000)

    @Slot(object, object)
    def _on_job_steps_arrived(self, job: Job, ev) -> None:
        self.loss_plot.append_steps(job.run.id, ev.first_step, ev.recon, ev.kl, ev.total)
        self._progress_pending[job.run.id] = job
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    @Slot()
    def _on_progress_timer_timeout(self) -> None:
        """Progress bars: a few updates a second is plenty, and each costs GUI time."""
        pending, self._progress_pending = self._progress_pending, {}
        for job in pending.values():
            self.run_model.set_progress(job.run, job.progress)

    @Slot(object, object)
    def _on_job_epoch_ended(self, job: Job, ev) -> None:
        self.loss_plot.add_epoch_marker(job.run.id, ev.step, ev.metrics)
        self.run_model.refresh(job.run)
        if job.run is self.selected_run():
            self._update_details()

    @Slot(object, object, str)
    def _on_job_reconstructions_ready(self, job: Job, grid, caption: str) -> None:
        if self.run_model.row_of(job.run) < 0:
            return
        self._recon[job.run.id] = (grid, f"{job.run.name}: {caption}")
        self._update_recon_strip(prefer=job.run)

    @Slot(object, str)
    def _on_job_message_posted(self, job: Job, message: str) -> None:
        self.statusBar().showMessage(message, 15000)

    @Slot(object, object)
    def _on_job_ended(self, job: Job, result) -> None:
        run = job.run
        if self.run_model.row_of(run) < 0:  # removed while it trained
            return
        self._progress_pending.pop(run.id, None)
        if result is not None:
            self.loss_plot.set_history(run)
        self.run_model.set_progress(run, job.progress)
        self.run_model.refresh(run)
        if run.state == "failed":
            self.statusBar().showMessage(f"{run.name} failed: {run.error}", 20000)
        elif run.state == "finished":
            summary = f" ({run.metrics.summary()})" if run.metrics else ""
            self.statusBar().showMessage(f"{run.name} finished{summary}", 10000)
        else:
            self.statusBar().showMessage(f"{run.name} {run.state}", 6000)
        self._update_actions()
        self._update_details()
        self._update_panels()

    @Slot(object)
    def _on_job_finished(self, job: Job) -> None:
        self._update_actions()

    # -- selection, renaming, visibility ---------------------------------------------------------
    @Slot(object)
    def _on_run_table_selected_run_changed(self, run: Run | None) -> None:
        self.loss_plot.set_highlighted(run.id if run else None)
        if run is not None and run.dataset is not None:
            self.dataset_label.setText(f"Dataset: {run.dataset.name}")
            self.dataset_label.setToolTip(run.dataset.description)
        self._update_actions()
        self._update_details()
        self._update_recon_strip()
        self._update_panels()
        self.selected_run_changed.emit(run)

    @Slot(object, str)
    def _on_run_model_renamed(self, run: Run, name: str) -> None:
        self.loss_plot.rename_run(run.id, name)
        self._update_details()
        self._update_panels()

    @Slot(object, bool)
    def _on_run_model_visibility_toggled(self, run: Run, visible: bool) -> None:
        self.loss_plot.set_run_visible(run.id, visible)

    @Slot(float)
    def _on_loss_plot_smoothing_changed(self, weight: float) -> None:
        self.settings.setValue("plot/smoothing", weight)

    def set_run_visible(self, run: Run, visible: bool) -> None:
        """Show or hide a run's curves (as its checkbox in the run list does)."""
        row = self.run_model.row_of(run)
        if row >= 0:
            self.run_model.setData(self.run_model.index(row, 0),
                                   (Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked).value,
                                   Qt.ItemDataRole.CheckStateRole)

    def rename_selected(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.run_table.edit(self.run_model.index(self.run_model.row_of(run), COL_NAME))

    def rename_run(self, run: Run, name: str) -> None:
        row = self.run_model.row_of(run)
        if row >= 0:
            self.run_model.setData(self.run_model.index(row, COL_NAME), name)

    def _update_recon_strip(self, prefer: Run | None = None) -> None:
        """Show the selected run's latest reconstructions, else the training run's."""
        sel = self.selected_run()
        if sel is not None and sel.id in self._recon:
            rid = sel.id
        elif prefer is not None and prefer.id in self._recon:
            rid = prefer.id
        else:
            return
        if prefer is not None and rid != prefer.id:
            return
        grid, caption = self._recon[rid]
        self.recon_strip.show_grid(rid, grid, caption)

    # -- panels ----------------------------------------------------------------------------------
    def _update_panels(self) -> None:
        """Feed every panel the usable runs and the selection, when either changed."""
        usable = self.usable_runs()
        key = [(r.id, r.name) for r in usable]
        sel = self.selected_run()
        sel = sel if sel in usable else None
        runs_changed = key != self._sent_runs
        run_changed = sel is not self._sent_run
        self._sent_runs, self._sent_run = key, sel
        for panel in self.panels:
            if runs_changed:
                self._call_panel(panel, "set_runs", usable)
            if run_changed:
                self._call_panel(panel, "set_run", sel)

    def _call_panel(self, panel: Panel, method: str, arg) -> None:
        try:
            getattr(panel, method)(arg)
        except Exception as e:  # noqa: BLE001 - a panel's bug must not lose the user's runs
            traceback.print_exc()
            self.statusBar().showMessage(f"{getattr(panel, 'title', 'panel')}: {e}", 10000)

    # -- files -----------------------------------------------------------------------------------
    @Slot()
    def open_checkpoint(self, path: str | None = None) -> Run | None:
        """Load a checkpoint as a run (its history plotted); its dataset loads in the background."""
        path = path or self._ask_open_path()
        if not path:
            return None
        self.finish_startup()
        from training.checkpoint import CheckpointError, load_checkpoint
        from training.run import STATES, Run

        try:
            ckpt = load_checkpoint(path)
        except CheckpointError as e:
            self.statusBar().showMessage(str(e), 15000)
            self._show_error("Cannot open checkpoint", str(e))
            return None
        except Exception as e:  # noqa: BLE001 - whatever the file holds, the app goes on
            msg = f"{path}: {type(e).__name__}: {e}"
            self.statusBar().showMessage(msg, 15000)
            self._show_error("Cannot open checkpoint", msg)
            return None
        state = ckpt.state if ckpt.state in STATES and ckpt.state not in ("queued", "running",
                                                                        "paused") else "finished"
        run = Run(name=ckpt.name, config=ckpt.train_config, model=ckpt.model,
                  history=ckpt.history, state=state, metrics=ckpt.metrics, path=Path(path),
                  saved=True)
        self._add_run(run)
        self.run_table.select_run(run)
        self.settings.setValue("files/last_dir", str(Path(path).parent))
        self.statusBar().showMessage(f"Opened {run.name} from {path}; loading its dataset…", 5000)
        self._load_dataset_for(run, ckpt.dataset)
        return run

    def _load_dataset_for(self, run: Run, recorded: str) -> None:
        from explorer.jobs import DatasetLoader
        from training.data import SOURCES

        cfg = run.config
        candidates: list[tuple[str, str | None]] = []
        if cfg.data_dir and Path(cfg.data_dir).expanduser().is_dir():
            candidates.append(("folder", cfg.data_dir))
        for name in (recorded, cfg.dataset):
            if name and name in SOURCES and (name, None) not in candidates:
                candidates.append((name, None))
        assert self.datasets is not None
        loader = DatasetLoader(self.datasets, candidates, token=run)
        loader.loaded.connect(self._on_loader_loaded)
        self._loaders.append(loader)
        loader.start()

    @Slot(object, object, str)
    def _on_loader_loaded(self, run: Run, ds, message: str) -> None:
        if self._closed:
            return
        self._loaders = [x for x in self._loaders if not x.is_finished]
        run.dataset = ds
        if ds is not None and run.model is not None and run.id not in self._recon:
            # A loaded run never trained here: give it the same strip a training run shows.
            from explorer.jobs import fixed_test_indices, reconstruction_grid

            idx = fixed_test_indices(ds.test.labels.numpy())
            grid = reconstruction_grid(run.model, ds, idx)
            self._recon[run.id] = (grid, f"{run.name}: as loaded from {run.path.name if run.path else 'file'}")
            self._update_recon_strip()
        if message:
            self.statusBar().showMessage(f"{run.name}: {message}", 15000)
        else:
            self.statusBar().showMessage(f"{run.name}: ready on {ds.name}", 5000)
        if run is self.selected_run() and ds is not None:
            self.dataset_label.setText(f"Dataset: {ds.name}")
            self.dataset_label.setToolTip(ds.description)
        self._update_details()
        self._update_panels()

    @Slot()
    def save_selected(self, path: str | None = None) -> Path | None:
        """Save the selected run as a checkpoint (the engine's safetensors format)."""
        run = self.selected_run()
        if run is None or run.model is None or run.is_active:
            self.statusBar().showMessage("Select a run that has finished, stopped or failed to "
                                         "save it", 5000)
            return None
        suggested = str(Path(self.settings.value("files/last_dir", str(Path.home())))
                        / (_safe_filename(run.name) + ".safetensors"))
        path = path or self._ask_save_path(suggested)
        if not path:
            return None
        from training.checkpoint import Checkpoint, save_checkpoint

        p = Path(path)
        if p.suffix != ".safetensors":
            p = p.with_name(p.name + ".safetensors")
        try:
            save_checkpoint(p, Checkpoint(
                model=run.model, train_config=run.config, history=run.history,
                metrics=run.metrics, name=run.name,
                dataset=run.dataset.name if run.dataset is not None else run.config.dataset,
                state=run.state))
        except Exception as e:  # noqa: BLE001 - disk full, no permission: say so, keep the run
            msg = f"Could not save {run.name} to {p}: {e}"
            self.statusBar().showMessage(msg, 15000)
            self._show_error("Cannot save", msg)
            return None
        run.path, run.saved = p, True
        self.settings.setValue("files/last_dir", str(p.parent))
        self.run_model.refresh(run)
        self._update_details()
        self.statusBar().showMessage(f"Saved {run.name} to {p}", 6000)
        return p

    @Slot()
    def export_selected(self, path: str | None = None) -> Path | None:
        """The selected run's step losses and test metrics as CSV, or the plots as PNG."""
        run = self.selected_run()
        if run is None:
            return None
        suggested = str(Path(self.settings.value("files/last_dir", str(Path.home())))
                        / (_safe_filename(run.name) + ".csv"))
        path = path or self._ask_export_path(suggested)
        if not path:
            return None
        p = Path(path)
        try:
            if p.suffix.lower() == ".png":
                if not self.loss_plot.graphics.grab().save(str(p)):
                    raise OSError("the image could not be written")
            else:
                _write_history_csv(run, p)
        except Exception as e:  # noqa: BLE001
            msg = f"Could not export to {p}: {e}"
            self.statusBar().showMessage(msg, 15000)
            self._show_error("Cannot export", msg)
            return None
        self.statusBar().showMessage(f"Exported {run.name} to {p}", 6000)
        return p

    @Slot()
    def remove_selected(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        if run.is_active or (run.model is not None and not run.saved):
            what = ("is training; it will be stopped and" if run.is_active
                    else "has not been saved; its weights will be lost and it")
            if not self._ask_confirm("Remove run", f"{run.name} {what} removed. Remove it?"):
                return
        self.remove_run(run)

    def remove_run(self, run: Run) -> None:
        """Take a run out of the list, plots and panels (stopping it first if it trains)."""
        if run.is_active and self.jobs is not None:
            self.jobs.stop(run)  # its last events find no row and are dropped
        self.run_model.remove_run(run)
        self.loss_plot.remove_run(run.id)
        self._recon.pop(run.id, None)
        if self.recon_strip.run_id == run.id:
            self.recon_strip.clear("The run shown here was removed.")
        self._update_actions()
        self._update_details()
        self._update_panels()

    # -- dialogs: small methods so tests can replace them ----------------------------------------
    def _ask_open_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint",
                                              self.settings.value("files/last_dir", ""),
                                              CHECKPOINT_FILTER)
        return path or None

    def _ask_save_path(self, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Save run as", suggested, CHECKPOINT_FILTER)
        return path or None

    def _ask_export_path(self, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export", suggested, "Loss history (*.csv);;Plot image (*.png)")
        return path or None

    def _ask_confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def _ask_confirm_close(self, active: list[Run], unsaved: list[Run]) -> bool:
        lines = []
        if active:
            lines.append(f"{len(active)} run(s) are training or queued; they will be stopped.")
        if unsaved:
            names = ", ".join(r.name for r in unsaved[:5]) + ("…" if len(unsaved) > 5 else "")
            lines.append(f"{len(unsaved)} trained run(s) are not saved and will be lost: {names}.")
        return self._ask_confirm("Quit Latent Explorer", "\n\n".join(lines + ["Quit anyway?"]))

    def _show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def _show_about(self) -> None:
        QMessageBox.about(self, "About Latent Explorer", self.about_text())

    def about_text(self) -> str:
        import platform

        import numpy
        import pyqtgraph
        import PySide6
        from PySide6.QtCore import qVersion

        torch_v = sys.modules["torch"].__version__ if "torch" in sys.modules else "not loaded"
        try:
            from importlib.metadata import version

            app_v = version("latent-explorer")
        except Exception:  # noqa: BLE001 - running from a source tree
            app_v = "source tree"
        return (
            f"<h3>Latent Explorer {app_v}</h3>"
            "<p>Train auto-encoders (AE, β-VAE, CVAE) on MNIST-style digits, watch them learn "
            "and explore their latent spaces.</p>"
            f"<p>Python {platform.python_version()} · PySide6 {PySide6.__version__} "
            f"(Qt {qVersion()}) · pyqtgraph {pyqtgraph.__version__} · torch {torch_v} · "
            f"NumPy {numpy.__version__}<br>Device: {self._device_text}</p>"
            f"<p><b>Data licences</b><br>{DATA_LICENCE}</p>"
        )

    # -- settings and closing --------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
            # First launch: the plots get the height, the run list about a quarter of it.
            self.resizeDocks([self.runs_dock], [230], Qt.Orientation.Vertical)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        raw = s.value("form/values")
        if isinstance(raw, str) and raw:
            try:
                values = json.loads(raw)
                if isinstance(values, dict):
                    self.form.set_values(values)
            except (ValueError, TypeError):
                pass  # an unreadable value: keep the defaults
        try:
            self.loss_plot.set_smoothing(float(s.value("plot/smoothing", self.loss_plot.smoothing)))
        except (TypeError, ValueError):
            pass

    def _save_form_settings(self) -> None:
        values = self.form.values()
        stored = {k: v for k, v in values.items() if v is not None}
        self.settings.setValue("form/values", json.dumps(stored))

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self._save_form_settings()
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Confirm, stop the jobs (request stop, disconnect, quit, bounded wait), then close."""
        if self._closed:
            event.accept()
            return
        active = [r for r in self.run_model.runs if r.is_active]
        unsaved = [r for r in self.run_model.runs
                   if r.model is not None and not r.saved and not r.is_active]
        if (active or unsaved) and not self._ask_confirm_close(active, unsaved):
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> bool:
        """Stop every thread this window started, each within CLOSE_TIMEOUT_MS. True if clean."""
        if self._closed:
            return True
        self._closed = True
        self._save_settings()
        clean = True
        if self.jobs is not None:
            clean = self.jobs.shutdown(CLOSE_TIMEOUT_MS)
        for loader in self._loaders:
            try:
                loader.loaded.disconnect()
            except (RuntimeError, TypeError):
                pass
            clean = loader.wait(CLOSE_TIMEOUT_MS) and clean
        self._loaders.clear()
        for panel in self.panels:  # panels with their own threads may offer a shutdown()
            stop = getattr(panel, "shutdown", None)
            if callable(stop):
                _quietly(stop)
        for run in self.run_model.runs:
            self.run_model.refresh(run)
        return clean


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - closing goes on
        traceback.print_exc()


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe_filename(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name)
    return keep.strip("_") or "run"


def _write_history_csv(run: Run, path: Path) -> None:
    h = run.history
    epochs = {e.step: e.metrics for e in h.epochs}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "recon", "kl", "total", "test_bce", "test_neg_elbo", "test_kl"])
        for i in range(len(h)):
            m = epochs.get(i + 1)
            w.writerow([i + 1, f"{h.recon[i]:.6g}", f"{h.kl[i]:.6g}", f"{h.total[i]:.6g}",
                        f"{m.bce:.6g}" if m else "",
                        f"{m.neg_elbo:.6g}" if m and m.neg_elbo is not None else "",
                        f"{m.kl:.6g}" if m and m.kl is not None else ""])


def schedule_startup(window: MainWindow) -> None:
    """Finish start-up once the event loop runs, i.e. after the window has been shown."""
    QTimer.singleShot(0, window.finish_startup)
