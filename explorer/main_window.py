"""Latent Explorer's main window: lays out the docks and tabs and wires them to the session.

Layout: the training form docks on the left, the run list at the bottom, and the centre is a
tab widget: "Training" (live loss curves and the reconstruction strip) first, then one tab per
exploration panel, all fed "the selected run". The state lives in `RunSession`
(explorer/session/session.py); actions and menus in explorer/commands/actions.py, modal dialogs in
explorer/commands/dialogs.py, the panel tabs in explorer/views/panel_host.py, remembered settings in
explorer/window_settings.py. Nothing here imports torch at module import: `finish_startup()`
does, once the window is on screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QScrollArea, QTabWidget

from latent_explorer.explorer.about import about_text
from latent_explorer.explorer.commands.actions import WindowActions
from latent_explorer.explorer.commands.dialogs import Dialogs
from latent_explorer.explorer.views.loss_plot import run_color
from latent_explorer.explorer.views.panel_host import PanelHost
from latent_explorer.explorer.views.run_table import COL_NAME
from latent_explorer.explorer.commands.run_commands import RunCommands
from latent_explorer.explorer.session.run_memory import RunMemory
from latent_explorer.explorer.views.runs_dock import RunsPanel
from latent_explorer.explorer.views.training_form import TrainingForm
from latent_explorer.explorer.views.training_monitor import TrainingMonitor
from latent_explorer.explorer.widgets.page_scroll import PageScroll
from latent_explorer.explorer.window_settings import APPLICATION, ORGANIZATION, WindowSettings

if TYPE_CHECKING:
    from latent_explorer.explorer.session.datasets import DatasetCache
    from latent_explorer.explorer.panels.base import Panel
    from latent_explorer.explorer.session.session import RunSession
    from latent_explorer.training.record.run import Run

__all__ = ["APPLICATION", "ORGANIZATION", "MainWindow"]
CLOSE_TIMEOUT_MS = 2000  # closing never hangs longer than this on a running job


class MainWindow(QMainWindow):
    """The application window. Torch-dependent parts start in `finish_startup()`."""

    ready = Signal()  # torch is loaded and jobs can start
    first_painted = Signal()  # the window has drawn itself once (start-up timing, lazy torch)
    selected_run_changed = Signal(object)  # Run or None

    def __init__(self, settings: QSettings | None = None, load_panels: bool = True,
                 datasets: DatasetCache | None = None, workspace=None,
                 score: bool = True) -> None:
        """`score`: measure ended runs in the background (tests turn it off where the
        judge's training would only cost time). `workspace`: the folder of runs (a training.record.workspace.Workspace) the session
        writes every run into and lists and follows at launch; None keeps runs in memory."""
        super().__init__()
        self.workspace = workspace
        self._score = score  # measure ended runs' IW bound and sample quality (RunSession)
        self.setWindowTitle(APPLICATION)
        self.settings = WindowSettings(settings)
        self.dialogs = Dialogs(self)  # tests replace it: no modal dialog ever blocks them
        self.session: RunSession | None = None
        self.is_ready = False
        self._datasets = datasets
        self._load_panels = load_panels
        self._closed = False
        self._painted = False
        # The form a run was started from and this machine's speed, kept for the next launch.
        self.memory = RunMemory(self.settings, self)
        self._device_text = "…"
        self._room_timer = QTimer(self, singleShot=True, interval=0)  # once layouts settled
        self._panels_timer = QTimer(self, singleShot=True, interval=0)  # runs added: once
        self._panels_timer.timeout.connect(self._update_panels)
        self._room_timer.timeout.connect(self._make_room_for_tab)

        self.monitor = TrainingMonitor()
        self.tabs = QTabWidget(documentMode=True)
        self.tabs.addTab(self.monitor, "Training")
        self.setCentralWidget(self.tabs)
        self.panel_host = PanelHost(self.tabs, self)

        self.form = TrainingForm()
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.form)
        # As narrow as the form's fields allow, beside a vertical scroll bar: a short window
        # scrolls the form up and down, and never needs to scroll it sideways.
        scroll.setMinimumWidth(self.form.minimumSizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width())
        self.form_dock = self._dock("New run", "form_dock", scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.runs_panel = RunsPanel()
        self.runs_dock = self._dock("Runs", "runs_dock", self.runs_panel,
                                    Qt.DockWidgetArea.BottomDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.device_label = QLabel("Device: loading torch…")
        self.dataset_label = QLabel("Dataset: —")
        # The selected run's progress while it trains: the text of its Progress cell, ETA and all.
        self.progress_label = QLabel()
        self.progress_label.setAccessibleName("Selected run's progress")
        self.progress_label.hide()
        self.statusBar().addPermanentWidget(self.progress_label)
        self.statusBar().addPermanentWidget(self.dataset_label)
        self.statusBar().addPermanentWidget(self.device_label)

        self.commands = RunCommands(self)
        self.menu_actions = WindowActions(self)  # not `actions`: QWidget.actions() exists
        p = self.runs_panel
        self.form.train_requested.connect(self._on_form_train_requested)
        p.table.selected_run_changed.connect(self._on_selection_changed)
        p.model.rename_requested.connect(self._on_rename_requested)
        p.model.visibility_toggled.connect(self._on_visibility_toggled)
        p.model.progress_repainted.connect(self._update_progress_label)
        self.memory.speeds_changed.connect(self.form.set_speeds)
        self.loss_plot.smoothing_changed.connect(self.settings.save_smoothing)
        self.panel_host.failed.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.panel_host.tab_requested.connect(self.tabs.setCurrentWidget)
        self.panel_host.run_requested.connect(self._on_panel_run_requested)
        self.panel_host.export_requested.connect(lambda panel: self.export_panel_data(panel))
        self.monitor.hint_dismissed.connect(self.settings.dismiss_first_run_hint)
        self.form.sweep_requested.connect(self._on_form_sweep_requested)
        p.pause_button.clicked.connect(self.toggle_pause)
        p.stop_button.clicked.connect(self.stop_selected)
        p.continue_button.clicked.connect(lambda: self.continue_selected())
        p.save_button.clicked.connect(lambda: self.save_selected())
        p.save_sweep_button.clicked.connect(lambda: self.save_selected_sweep())
        p.open_button.clicked.connect(lambda: self.open_checkpoint())
        p.remove_button.clicked.connect(self.remove_selected)
        self.tabs.currentChanged.connect(lambda _i: self._room_timer.start())
        self._watch_page(self.monitor)

        self.settings.restore_window(self, self.runs_dock)
        if (values := self.settings.form_values()) is not None:
            self.form.set_values(values)
        self.form.set_speeds(*self.settings.speeds())
        self.loss_plot.set_smoothing(self.settings.smoothing(self.loss_plot.smoothing))
        if self.settings.first_run_hint_due():
            self.monitor.show_first_run_hint()
        self._update_selection_views()

    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self, objectName=name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._room_timer.start()

    def _watch_page(self, tab) -> None:
        """Make room again when a tab's page needs more (a notice or a caption appeared)."""
        page = getattr(tab, "page", None)
        if isinstance(page, PageScroll):
            page.needed_changed.connect(self._room_timer.start)

    def _make_room_for_tab(self) -> None:
        """Let the tab in front show whole: the room it lacks comes from the docks, down to
        their minimum (as the window does for any tab's minimum); past that, the tab scrolls."""
        scroll = getattr(self.tabs.currentWidget(), "page", None)
        if not isinstance(scroll, PageScroll) or not self.isVisible():
            return
        need = scroll.needed_size()
        lacks = need.width() - scroll.width()
        dock = self.form_dock
        if lacks > 0 and dock.isVisible() and not dock.isFloating():
            spare = dock.width() - dock.minimumSizeHint().width()
            if spare > 0:
                self.resizeDocks([dock], [dock.width() - min(lacks, spare)],
                                 Qt.Orientation.Horizontal)
        lacks = need.height() - scroll.height()
        dock = self.runs_dock
        if lacks > 0 and dock.isVisible() and not dock.isFloating():
            spare = dock.height() - dock.minimumSizeHint().height()
            if spare > 0:
                self.resizeDocks([dock], [dock.height() - min(lacks, spare)],
                                 Qt.Orientation.Vertical)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()

    # -- what tests and tools look at --------------------------------------------------------------
    loss_plot = property(lambda self: self.monitor.loss_plot)
    recon_strip = property(lambda self: self.monitor.recon_strip)
    run_model = property(lambda self: self.runs_panel.model)
    run_table = property(lambda self: self.runs_panel.table)
    details = property(lambda self: self.runs_panel.details)
    panels = property(lambda self: self.panel_host.panels)
    runs = property(lambda self: list(self.run_model.runs))

    def selected_run(self) -> Run | None:
        return self.run_table.selected_run()

    def usable_runs(self) -> list[Run]:
        return self.session.usable_runs() if self.session is not None else []

    # -- start-up --------------------------------------------------------------------------------
    def finish_startup(self) -> None:
        """Import torch, pick the device, start the session and the panels (idempotent)."""
        if self.is_ready or self._closed:
            return
        self.statusBar().showMessage("Loading torch…")
        from latent_explorer.explorer.session.session import RunSession
        from latent_explorer.explorer.session.worker_threads import limit_gui_thread_torch
        from latent_explorer.training.engine.device import (describe_device, device_choices,
                                                            pick_device)

        limit_gui_thread_torch()  # so training threads get the cores: see worker_threads.py
        self.session = s = RunSession(self._datasets, self, workspace=self.workspace,
                                       score=self._score)
        s.run_added.connect(self._on_run_added)
        s.run_changed.connect(self._on_run_changed)
        s.run_removed.connect(self._on_run_removed)
        s.run_event.connect(self._on_run_event)
        self.memory.attach(s)
        self.run_model.set_progress_source(s.progress_of)
        s.message.connect(self.statusBar().showMessage)
        s.notice.connect(self.monitor.show_notice)
        try:
            self._device_text = describe_device(pick_device("auto"))
        except Exception as e:  # noqa: BLE001 - a broken driver must not stop the app
            self._device_text = f"unknown ({e})"
        self.device_label.setText(f"Device: {self._device_text}")
        self.form.set_devices(device_choices())  # the form offered 'auto' and the CPU until now
        if self._load_panels:
            self.panel_host.create_registered()
            for panel in self.panels:
                self._watch_page(panel)
        self.is_ready = True
        self._room_timer.start()  # the new tabs may need room the docks can give
        self.statusBar().showMessage("Ready", 3000)
        self._update_selection_views()
        self.ready.emit()

    def add_panel(self, panel: Panel) -> None:
        self.panel_host.add(panel)
        self._watch_page(panel)
        self._update_panels()

    # -- commands (menus, buttons, shortcuts) -----------------------------------------------------
    @Slot(dict)
    def _on_form_train_requested(self, values: dict) -> None:
        form = self.form.stored_values()  # as it is now: starting may change it
        if (run := self.start_run(values)) is not None:
            self.memory.remember_form([run], form)

    def start_run(self, values: dict) -> Run | None:
        return self.commands.start(values)

    @Slot(dict)
    def _on_form_sweep_requested(self, values: dict) -> None:
        form = self.form.stored_values()
        self.memory.remember_form(self.start_sweep(values), form)

    def start_sweep(self, values: dict) -> list[Run]:
        """Queue a β sweep of the form's sweep values; its first member is selected."""
        return self.commands.start_sweep(values)

    @Slot(object)
    def _on_panel_run_requested(self, run) -> None:
        if run in self.run_model.runs:
            self.run_table.select_run(run)

    def toggle_pause(self) -> None:
        if (run := self.selected_run()) is not None and self.session is not None:
            self.session.toggle_pause(run)
            if run.group and run.is_active:
                what = "Paused" if run.state == "paused" else "Resumed"
                self.statusBar().showMessage(
                    f"{what} the whole sweep ({run.group}): its members train together", 6000)

    def stop_selected(self) -> None:
        self.commands.stop(self.selected_run())

    def continue_selected(self, epochs: int | None = None) -> Run | None:
        return self.commands.continue_training(self.selected_run(), epochs)

    def open_checkpoint(self, path: str | None = None) -> Run | None:
        return self.commands.open_checkpoint(path)

    def save_selected(self, path: str | None = None) -> Path | None:
        return self.commands.save(self.selected_run(), path)

    def save_selected_sweep(self, folder: str | None = None) -> list[Path]:
        """Save every member of the selected run's sweep into `folder` (asked when None)."""
        return self.commands.save_sweep(self.selected_run(), folder)

    def export_selected(self, path: str | None = None) -> Path | None:
        return self.commands.export(self.selected_run(), path)

    def export_panel_data(self, panel: Panel, path: str | None = None) -> Path | None:
        """Write what a tab shows as data (its Export button): samples, codes, the map."""
        return self.commands.export_data(panel, path)

    def remove_selected(self) -> None:
        run = self.selected_run()
        if run is not None and self.commands.may_remove(run):
            self.remove_run(run)

    def remove_run(self, run: Run) -> None:
        if self.session is not None:
            self.session.remove(run)
            if run.folder is not None and self.session.trash:
                self.statusBar().showMessage(
                    f"{run.name} moved to the workspace's trash (Edit → Undo remove brings it "
                    "back)", 8000)

    # -- the workspace (commands/run_commands.py does the work) ---------------------------------
    def open_workspace(self, folder: str | None = None) -> bool:
        return self.commands.open_workspace(folder)

    def undo_remove(self) -> Run | None:
        return self.commands.undo_remove()

    def empty_trash(self) -> int:
        return self.commands.empty_trash()

    def rename_selected(self) -> None:
        if (run := self.selected_run()) is not None:
            self.run_table.edit(self.run_model.index(self.run_model.row_of(run), COL_NAME))

    def rename_run(self, run: Run, name: str) -> None:
        self.session.rename(run, name)

    def set_run_visible(self, run: Run, visible: bool) -> None:
        """Show or hide a run's curves (as its checkbox in the run list does)."""
        row = self.run_model.row_of(run)
        if row >= 0:
            state = Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked
            self.run_model.setData(self.run_model.index(row, 0), state.value,
                                   Qt.ItemDataRole.CheckStateRole)

    def about_text(self) -> str:
        return about_text(self._device_text)

    def show_about(self) -> None:
        self.dialogs.show_about(self.about_text())

    def open_user_guide(self) -> bool:
        """Help → User guide: docs/user-guide.md, installed with the package."""
        from latent_explorer.explorer.commands.help import user_guide_url

        url = user_guide_url()
        if url is None:
            self.dialogs.show_error("User guide", "This copy of Latent Explorer was installed "
                                    "without its user guide (docs/user-guide.md).")
            return False
        if not self.dialogs.open_url(url):
            self.statusBar().showMessage(f"Could not open {url.toDisplayString()}", 10000)
            return False
        return True

    def show_shortcuts(self) -> None:
        """Help → Keyboard shortcuts: every action that has a key, read from the actions."""
        from PySide6.QtGui import QAction

        from latent_explorer.explorer.commands.help import shortcut_rows

        self.dialogs.show_shortcuts(shortcut_rows(self.findChildren(QAction)))

    # -- session events (GUI thread) --------------------------------------------------------------
    @Slot(object)
    def _on_run_added(self, run: Run) -> None:
        color = run_color(run.id - 1)
        self.run_model.add_run(run, color)
        if self.selected_run() is None:
            self.runs_panel.update_details(None)  # "select a run", no longer "no runs yet"
        if _listed_only(run):  # curves once it has a history; panels once for a burst of runs
            self._panels_timer.start()
        else:
            self.monitor.add_run(run, color)
            self._update_panels()

    def _plot(self, run: Run) -> None:
        """Curves for a run that has a history now (it was only listed until shown)."""
        if not self.loss_plot.has_run(run.id) and not _listed_only(run):
            self.monitor.add_run(run, run_color(run.id - 1))

    @Slot(object, str)
    def _on_run_changed(self, run: Run, what: str) -> None:
        if what == "progress":  # several times a second: the run list's cells (throttled) and
            self.run_model.progress_changed(run)  # the status bar's line, as the cell reads
            if run is self.selected_run():
                self._update_progress_label()
            return
        self._plot(run)
        self.run_model.refresh(run)
        self.loss_plot.rename_run(run.id, run.name)
        selected = self.selected_run()
        if run is selected:
            self._update_selection_views()
        elif selected is not None and run.group and run.group == selected.group:
            self.menu_actions.update(selected, self._closed)  # e.g. Save sweep, once all ended
        self._update_panels()

    @Slot(object)
    def _on_run_removed(self, run: Run) -> None:
        self.run_model.remove_run(run)
        self.monitor.remove_run(run)
        self._update_selection_views()

    @Slot(object, object)
    def _on_run_event(self, run: Run, ev) -> None:
        from latent_explorer.explorer.session.job_events import (DatasetLoaded,
                                                                 ReconstructionsReady,
                                                                 TrainingStarted)

        self._plot(run)
        self.monitor.on_run_event(run, ev)
        match ev:
            case ReconstructionsReady():
                self.monitor.show_reconstructions(self.session.reconstructions,
                                                  self.selected_run(), run)
            case DatasetLoaded(dataset=ds):
                self.form.set_train_size(run.config.data_dir or run.config.dataset, len(ds.train))
                if run is self.selected_run() or run.is_active:
                    self._show_dataset(ds)
            case TrainingStarted(device=device):
                self.device_label.setText(f"Device: {device}")

    @Slot()
    def _update_progress(self) -> None:
        """Repaint the run list's progress cells and the status bar's line now, rather than at
        the run list's next throttled repaint."""
        self.run_model.repaint_progress()

    def _update_progress_label(self) -> None:
        """The status bar's line: the selected run's progress text while it is active."""
        run = self.selected_run()
        text = ""
        if run is not None and run.is_active:
            text = self.run_model.progress_text(run)
            if text:
                text = f"{run.name}: {text}"
        self.progress_label.setText(text)
        self.progress_label.setToolTip(text)
        self.progress_label.setVisible(bool(text))

    # -- selection --------------------------------------------------------------------------------
    @Slot(object)
    def _on_selection_changed(self, run: Run | None) -> None:
        if run is not None and self.session is not None and run.folder is not None:
            self.session.ensure_loaded(run)  # a listed workspace run: its weights, when shown
            self.session.ensure_group_loaded(run)  # its sweep's members, for the Sweep tab
        self.loss_plot.set_highlighted(run.id if run else None)
        self.monitor.set_selected_run(run)
        self._update_selection_views()
        if self.session is not None:
            self.monitor.show_reconstructions(self.session.reconstructions, run)
        self.selected_run_changed.emit(run)

    @Slot(object, str)
    def _on_rename_requested(self, run: Run, name: str) -> None:
        if self.session is not None:
            self.session.rename(run, name)

    @Slot(object, bool)
    def _on_visibility_toggled(self, run: Run, visible: bool) -> None:
        self.loss_plot.set_run_visible(run.id, visible)

    def _update_selection_views(self) -> None:
        run = self.selected_run()
        if run is not None and run.dataset is not None:
            self._show_dataset(run.dataset)
        self.menu_actions.update(run, self._closed)
        self.runs_panel.update_details(run)
        self._update_progress_label()
        self._update_panels()

    def _show_dataset(self, ds) -> None:
        self.dataset_label.setText(f"Dataset: {ds.name}")
        self.dataset_label.setToolTip(ds.description)

    def _update_panels(self) -> None:
        runs = self.session.runs if self.session is not None else []
        self.panel_host.update(self.usable_runs(), self.selected_run(), runs)

    # -- closing ----------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Confirm, stop the jobs (request stop, disconnect, quit, bounded wait), then close."""
        if not self._closed and self.session is not None:
            # runs other processes train go on after the window closes: not asked about
            active = [r for r in self.session.runs if r.is_active
                      and self.session.job_for(r) is not None]
            unsaved = self.session.unsaved_runs()
            if (active or unsaved) and not self.dialogs.confirm_close(active, unsaved):
                event.ignore()
                return
        self.shutdown()
        event.accept()

    def shutdown(self) -> bool:
        """Stop every thread this window started, each within CLOSE_TIMEOUT_MS. True if clean."""
        if self._closed:
            return True
        self._closed = True
        self.settings.save_window(self)  # the form was saved when its last run finished
        self.settings.sync()
        clean = self.session.shutdown(CLOSE_TIMEOUT_MS) if self.session is not None else True
        self.panel_host.shutdown()
        self.monitor.shutdown()
        for run in self.run_model.runs:
            self.run_model.refresh(run)
        self.menu_actions.update(self.selected_run(), closed=True)
        return clean


def _listed_only(run: Run) -> bool:
    """A workspace run listed from its run file: no weights, no history, not training here."""
    return (run.folder is not None and run.model is None and len(run.history) == 0
            and not run.history.epochs and not run.is_active)
