"""The window's actions (menus, shortcuts) and which of them the selected run allows.

It knows the window only as `ActionsWindow`, what it needs of it, so the window can import this
module without this module importing the window back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from latent_explorer.training.record.run_state import RunState

if TYPE_CHECKING:
    from latent_explorer.explorer.window_settings import WindowSettings
    from PySide6.QtWidgets import QDockWidget, QMenuBar

    from latent_explorer.explorer.views.runs_dock import RunsPanel
    from latent_explorer.explorer.session.session import RunSession
    from latent_explorer.explorer.views.training_form import TrainingForm
    from latent_explorer.training.record.run import Run


@runtime_checkable
class ActionsWindow(Protocol):
    """What `WindowActions` uses of its window (a QMainWindow: explorer.main_window.MainWindow)."""

    form: TrainingForm
    runs_panel: RunsPanel
    form_dock: QDockWidget
    runs_dock: QDockWidget
    session: RunSession | None
    settings: WindowSettings

    def addAction(self, action: QAction) -> None: ...
    def removeAction(self, action: QAction) -> None: ...
    def menuBar(self) -> QMenuBar: ...
    def close(self) -> bool: ...
    def open_checkpoint(self) -> object: ...
    def save_selected(self) -> object: ...
    def export_selected(self) -> object: ...
    def toggle_pause(self) -> None: ...
    def stop_selected(self) -> None: ...
    def continue_selected(self) -> object: ...
    def rename_selected(self) -> None: ...
    def remove_selected(self) -> None: ...
    def show_about(self) -> None: ...
    def open_user_guide(self) -> object: ...
    def show_shortcuts(self) -> object: ...
    def open_workspace(self, folder: str | None = None) -> bool: ...
    def undo_remove(self) -> object: ...
    def empty_trash(self) -> int: ...


class WindowActions:
    """Builds every QAction and menu of `window`; `update(run)` enables what applies to it."""

    def __init__(self, window: ActionsWindow) -> None:
        self.window = w = window

        def action(text: str, slot: Callable, shortcut=None, tip: str = "") -> QAction:
            a = QAction(text, w)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
                a.setToolTip(tip)
            a.triggered.connect(lambda _checked=False: slot())
            w.addAction(a)
            return a

        self.open = action("&Open checkpoint…", w.open_checkpoint, QKeySequence.StandardKey.Open,
                           "Load a saved run")
        self.save = action("&Save run as…", w.save_selected, QKeySequence.StandardKey.Save,
                           "Save the selected run")
        self.save_sweep = action("Save s&weep to folder…", w.save_selected_sweep, None,
                                 "Save every member of the selected run's β sweep into one "
                                 "folder (one checkpoint each)")
        self.export = action("&Export…", w.export_selected, "Ctrl+E",
                             "Export the selected run's losses (CSV) or the plots (PNG)")
        self.quit = action("&Quit", w.close, QKeySequence.StandardKey.Quit)
        self.open_workspace = action("Open &workspace…", w.open_workspace, "Ctrl+Shift+O",
                                     "Show the runs of another folder of runs (every run is "
                                     "written there from its first step)")
        self.undo_remove = action("&Undo remove", w.undo_remove, QKeySequence.StandardKey.Undo,
                                  "Bring the last removed run back from the workspace's trash")
        self.empty_trash = action("Empty &trash…", w.empty_trash, None,
                                  "Delete the runs in the workspace's trash for good")
        self.train = action("&Train", w.form.request_train, "Ctrl+Return",
                            "Start a run with the form's settings")
        self.pause = action("&Pause", w.toggle_pause, "Ctrl+P", "Pause or resume the selected run")
        self.stop = action("St&op", w.stop_selected, "Ctrl+.",
                           "Stop the selected run (its weights so far are kept)")
        self.continue_ = action("&Continue training…", w.continue_selected, None,
                                "Train the selected finished, stopped or loaded run further "
                                "(the same run: its curves and timeline go on)")
        self.rename = action("Re&name", w.rename_selected, "F2")
        self.remove = action("&Remove", w.remove_selected, QKeySequence.StandardKey.Delete)
        # Delete and F2 belong to the run list: line edits in the form keep their own keys.
        table = w.runs_panel.table
        if not table.accessibleName():
            table.setAccessibleName("Run list")  # where Help → Keyboard shortcuts says they work
        for a in (self.rename, self.remove):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            w.removeAction(a)
            table.addAction(a)
        self.user_guide = action("&User guide", w.open_user_guide,
                                 QKeySequence.StandardKey.HelpContents,
                                 "Open the user guide: the window, each tab, sweeps, timelines")
        self.shortcuts = action("&Keyboard shortcuts", w.show_shortcuts, "Ctrl+/",
                                "List every command that has a key, with its key")
        self.about = action("&About Latent Explorer", w.show_about)

        bar = w.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.open, self.save, self.save_sweep, self.export])
        file_menu.addSeparator()
        file_menu.addAction(self.open_workspace)
        self.recent_menu = file_menu.addMenu("Open &recent workspace")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addAction(self.empty_trash)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_remove)
        run_menu = bar.addMenu("&Run")
        run_menu.addActions([self.train, self.pause, self.stop, self.continue_])
        run_menu.addSeparator()
        run_menu.addActions([self.rename, self.remove])
        view_menu = bar.addMenu("&View")
        view_menu.addAction(w.form_dock.toggleViewAction())
        view_menu.addAction(w.runs_dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.user_guide, self.shortcuts])
        help_menu.addSeparator()
        help_menu.addAction(self.about)

    def _fill_recent(self) -> None:
        """The recent workspaces, the latest first (rebuilt each time the menu opens)."""
        w = self.window
        self.recent_menu.clear()
        recent = w.settings.recent_workspaces()
        for folder in recent:
            a = self.recent_menu.addAction(folder)
            a.triggered.connect(lambda _c=False, f=folder: w.open_workspace(f))
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def update(self, run: Run | None, closed: bool = False) -> None:
        p = self.window.runs_panel
        state = run.state if run else None
        can_pause = state in (RunState.RUNNING, RunState.PAUSED)
        label = "&Resume" if state == RunState.PAUSED else "&Pause"
        for a in (self.pause, p.pause_button):
            a.setEnabled(can_pause)
            a.setText(label)
        can_stop = run is not None and run.is_active
        for a in (self.stop, p.stop_button):
            a.setEnabled(can_stop)
        can_save = run is not None and run.model is not None and not run.is_active
        for a in (self.save, p.save_button, self.export):
            a.setEnabled(can_save)
        sweep_problem = (self.window.commands.sweep_save_problem(run)
                         if run is not None and run.group else "select a sweep member")
        for a in (self.save_sweep, p.save_sweep_button):
            a.setEnabled(not closed and sweep_problem is None)
        p.save_sweep_button.setToolTip(
            "Save every member of this β sweep into one folder" if sweep_problem is None
            else f"Save a whole β sweep into one folder ({sweep_problem})")
        session = self.window.session
        can_continue = (not closed and session is not None
                        and session.continue_problem(run) is None)
        for a in (self.continue_, p.continue_button):
            a.setEnabled(can_continue)
        for a in (self.remove, p.remove_button, self.rename):
            a.setEnabled(run is not None)
        self.train.setEnabled(not closed)
