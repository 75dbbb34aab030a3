"""The window's commands on runs: train, stop, continue, open, save, export, remove.

The session does the work (explorer/session/session.py); this only asks the user through the
window's dialogs (explorer/commands/dialogs.py) and says in the status bar and a message box how it went.
It knows the window only as `CommandsWindow`, what it needs of it, so the window can import
this module without this module importing the window back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from latent_explorer.explorer.window_settings import APPLICATION
from latent_explorer.training.record.names import file_stem

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStatusBar

    from latent_explorer.explorer.commands.dialogs import Dialogs
    from latent_explorer.explorer.panels.base import Panel
    from latent_explorer.explorer.views.loss_plot import LossPlot
    from latent_explorer.explorer.views.run_table import RunTable
    from latent_explorer.explorer.session.session import RunSession
    from latent_explorer.explorer.views.training_form import TrainingForm
    from latent_explorer.explorer.window_settings import WindowSettings
    from latent_explorer.training.record.run import Run


@runtime_checkable
class CommandsWindow(Protocol):
    """What `RunCommands` uses of its window (explorer.main_window.MainWindow)."""

    form: TrainingForm
    settings: WindowSettings
    dialogs: Dialogs
    session: RunSession | None

    @property
    def run_table(self) -> RunTable: ...
    @property
    def loss_plot(self) -> LossPlot: ...
    def finish_startup(self) -> None: ...
    def statusBar(self) -> QStatusBar: ...


class RunCommands:
    """The window's commands on runs (the selected one, mostly), with their dialogs."""

    def __init__(self, window: CommandsWindow) -> None:
        self.window = window

    def start(self, values: dict) -> Run | None:
        """Queue a run of the form's values; values the engine refuses are explained inline."""
        from latent_explorer.explorer.views.training_form import config_from_values

        w = self.window
        w.finish_startup()
        try:
            config = config_from_values(values)
        except (TypeError, ValueError) as e:
            w.form.show_message(f"Cannot train: {e}.")
            self._status(f"Cannot train: {e}", 8000)
            return None
        if not self._download_agreed(config.dataset, config.data_dir):
            return None
        # The form is remembered for the next launch once this run has trained to its end
        # (MainWindow._remember_form), not now: a dataset that fails to load must not stick.
        # Its CPU threads are the training thread's to set, not the run's (0: torch's default).
        run = w.session.start(config, threads=values.get("threads") or None)
        w.run_table.select_run(run)
        if run.state == "queued":
            self._status(f"{run.name} queued: it starts when the run training now ends (one run "
                         "trains at a time)", 6000)
        return run

    def _download_agreed(self, source: str, data_dir: str | None) -> bool:
        """Whether the run may load its data: nothing to download, or the user said yes to
        what would be fetched (the default answer is No: nothing leaves without a yes)."""
        from latent_explorer.training.data.sources import download_pending

        pending = None if data_dir else download_pending(source)
        if pending is None:
            return True
        if self.window.dialogs.confirm("Download the dataset?",
                                       f"Training on it first downloads {pending}. Download it now?"):
            return True
        self.window.form.show_message(f"Not started: {source} is not downloaded yet.")
        self._status(f"Not started: {source} is not downloaded", 6000)
        return False

    def start_sweep(self, values: dict) -> list[Run]:
        """Queue a β sweep (one run per member); values the engine refuses are explained inline."""
        from latent_explorer.training.engine.sweep import SweepConfig

        w = self.window
        w.finish_startup()
        values = dict(values)
        engine, address = values.pop("engine", "local"), values.pop("address", None)
        threads = values.pop("threads", None) or None  # the training thread's, as for a run
        try:
            config = SweepConfig(**values)
            ray = None
            if engine == "ray":
                from latent_explorer.training.engine.ray_sweep import RaySettings

                # Trial checkpoints in the workspace's .ray/, as the CLI keeps them: the
                # storage a restarted trial on another node reads (a temp folder without one).
                ws = w.session.workspace
                ray = RaySettings(address=address,
                                  storage=str(ws.root / ".ray") if ws is not None else None)
        except (TypeError, ValueError) as e:
            w.form.show_message(f"Cannot train the sweep: {e}.")
            self._status(f"Cannot train the sweep: {e}", 8000)
            return []
        if not self._download_agreed(config.dataset, config.data_dir):
            return []
        runs = w.session.start_sweep(config, ray=ray, threads=threads)  # remembered once trained
        w.run_table.select_run(runs[0])
        queued = " (queued: it starts when the run training now ends)" \
            if runs[0].state == "queued" else ""
        self._status(f"{runs[0].group}: {len(runs)} members train at once{queued}; the Sweep "
                     "tab compares them", 8000)
        return runs

    def stop(self, run: Run | None) -> None:
        w = self.window
        if run is not None and w.session is not None and run.is_active:
            w.session.stop(run)
            if run.group:
                self._status(f"Stopping the whole sweep ({run.group}): its members train "
                             "together; every member keeps its weights", 6000)
            else:
                self._status(f"Stopping {run.name}…", 3000)

    def continue_training(self, run: Run | None, epochs: int | None = None) -> Run | None:
        """Train an ended run further, to a total the user gives (the same run)."""
        w = self.window
        if run is None or w.session is None:
            return None
        from latent_explorer.training.engine.resume import ResumeError

        problem = w.session.continue_problem(run)
        if problem:
            self._status(f"Cannot continue training: {problem}", 8000)
            return None
        done = run.epochs_done
        if epochs is None:
            epochs = w.dialogs.ask_epochs(done, done + 1)
            if epochs is None:
                return None
        try:
            w.session.continue_run(run, epochs)
        except ResumeError as e:
            self._fail("Cannot continue training", f"Cannot continue {run.name}: {e}")
            return None
        return run

    def _status(self, text: str, ms: int) -> None:
        self.window.statusBar().showMessage(text, ms)

    def _fail(self, title: str, msg: str) -> None:
        self._status(msg, 15000)
        self.window.dialogs.show_error(title, msg)

    def open_checkpoint(self, path: str | None = None) -> Run | None:
        """Load a checkpoint as a run (its history plotted); its dataset loads in the background."""
        w = self.window
        path = path or w.dialogs.open_path(w.settings.last_dir)
        if not path:
            return None
        w.finish_startup()
        try:
            run = w.session.open(path)
        except Exception as e:  # noqa: BLE001 - whatever the file holds, the app goes on
            from latent_explorer.training.record.checkpoint import CheckpointError

            msg = str(e) if isinstance(e, CheckpointError) else f"{path}: {type(e).__name__}: {e}"
            self._fail("Cannot open checkpoint", msg)
            return None
        w.run_table.select_run(run)
        w.settings.remember_dir(path)
        note = f" ({'; '.join(run.notices)})" if run.notices else ""
        self._status(f"Opened {run.name} from {path}; loading its dataset…{note}", 8000)
        return run

    def save(self, run: Run | None, path: str | None = None) -> Path | None:
        """Save `run` as a checkpoint (the engine's safetensors format)."""
        w = self.window
        if run is None or run.model is None or run.is_active:
            self._status("Select a run that has finished, stopped or failed to save it", 5000)
            return None
        suggested = str(Path(w.settings.last_dir) / (file_stem(run.name) + ".safetensors"))
        path = path or w.dialogs.save_path(suggested)
        if not path:
            return None
        try:
            p = w.session.save(run, path)
        except Exception as e:  # noqa: BLE001 - disk full, no permission: say so, keep the run
            self._fail("Cannot save", f"Could not save {run.name} to {path}: {e}")
            return None
        w.settings.remember_dir(p)
        self._status(f"Saved {run.name} to {p}", 6000)
        return p

    def export(self, run: Run | None, path: str | None = None) -> Path | None:
        """`run`'s step losses and test metrics as CSV, or the plots as PNG."""
        w = self.window
        if run is None:
            return None
        suggested = str(Path(w.settings.last_dir) / (file_stem(run.name) + ".csv"))
        path = path or w.dialogs.export_path(suggested)
        if not path:
            return None
        p = Path(path)
        try:
            if p.suffix.lower() == ".png":
                if not w.loss_plot.graphics.grab().save(str(p)):
                    raise OSError("the image could not be written")
            else:
                run.history.write_csv(p)
        except Exception as e:  # noqa: BLE001
            self._fail("Cannot export", f"Could not export to {p}: {e}")
            return None
        self._status(f"Exported {run.name} to {p}", 6000)
        return p

    def export_data(self, panel: Panel, path: str | None = None) -> Path | None:
        """Write what `panel` shows as data (samples, codes and map coordinates) to a file the
        user names; its suffix picks the format (training/explore/export.py). A bad path is
        said in the status bar and a message box; nothing else changes."""
        from latent_explorer.training.explore.export import ExportError, with_default_suffix

        w = self.window
        if not panel.can_export_data():
            self._status(f"{panel.title}: nothing to export yet (select a trained run)", 5000)
            return None
        suggested = str(Path(w.settings.last_dir) / panel.default_data_file_name())
        path = path or w.dialogs.data_path(f"Export {panel.title.lower()}", suggested,
                                           panel.data_filter)
        if not path:
            return None
        p = with_default_suffix(path, panel.data_suffixes[0])
        try:
            what = panel.export_data(p)
        except Exception as e:  # noqa: BLE001 - a bad name, disk full, no permission: say so
            where = "" if isinstance(e, ExportError) else f" to {p}"  # it names the file
            self._fail("Cannot export", f"Could not export{where}: {e}")
            return None
        w.settings.remember_dir(p)
        self._status(f"Exported {what} to {p}", 8000)
        return p

    def may_remove(self, run: Run) -> bool:
        """Whether to remove `run`: asks first when it trains or holds unsaved weights."""
        if run.is_active:
            text = f"{run.name} is training: it will be stopped and removed. Remove it?"
        elif run.model is not None and not run.saved:
            text = (f"{run.name} has not been saved: its weights will be lost when it is "
                    "removed. Remove it?")
        else:
            return True
        return self.window.dialogs.confirm("Remove run", text)

    def sweep_save_problem(self, run: Run | None) -> str | None:
        """Why the sweep of `run` cannot be saved now (a sentence), or None when it can."""
        w = self.window
        members = w.session.sweep_members(run) if w.session is not None else []
        if not members:
            return "select a member of a β sweep to save the whole sweep"
        if any(r.is_active for r in members):
            return f"{run.group} is still training; stop it or let it finish first"
        if not any(r.model is not None for r in members):
            return f"no member of {run.group} has weights to save"
        return None

    def save_sweep(self, run: Run | None, folder: str | None = None) -> list[Path]:
        """Save every member of `run`'s sweep into one folder, named as the `sweep` command
        names its files (vae-beta0.01-seed0.safetensors); asks before replacing files."""
        from latent_explorer.training.metrics.sweep_report import member_file_names

        w = self.window
        problem = self.sweep_save_problem(run)
        if problem:
            self._status(f"Cannot save the sweep: {problem}", 8000)
            return []
        members = [r for r in w.session.sweep_members(run) if r.model is not None]
        folder = folder or w.dialogs.folder_path(f"Save {run.group} into folder",
                                                 w.settings.last_dir)
        if not folder:
            return []
        target = Path(folder)
        # As the CLI names them: a target-rate member by its target, never two files alike.
        paths = [target / name for name in member_file_names(
            [(r.config, r.beta) for r in members])]
        existing = [p for p in paths if p.exists()]
        if existing and not w.dialogs.confirm(
                "Save sweep", f"{len(existing)} of the {len(paths)} files exist in {target} "
                f"(e.g. {existing[0].name}). Replace them?"):
            return []
        saved: list[Path] = []
        for r, path in zip(members, paths):
            try:
                saved.append(w.session.save(r, path))
            except Exception as e:  # noqa: BLE001 - disk full, no permission: say so, keep the runs
                self._fail("Cannot save the sweep", f"Could not save {r.name} to {path}: {e} "
                           f"({len(saved)} of {len(members)} members saved)")
                return saved
        w.settings.remember_dir(saved[-1])
        self._status(f"Saved the {len(saved)} members of {run.group} to {target}", 8000)
        return saved

    # -- the workspace ----------------------------------------------------------------------------
    def open_workspace(self, folder: str | None = None) -> bool:
        """Show the runs of another workspace folder (asked for when None); False if not."""
        w = self.window
        from latent_explorer.training.record.workspace import WorkspaceError, open_workspace

        if folder is None:
            start = str(w.workspace.root) if w.workspace is not None else ""
            folder = w.dialogs.workspace_folder(start)
            if not folder:
                return False
        try:
            ws = open_workspace(folder)
        except WorkspaceError as e:
            w.dialogs.show_error("Cannot open the workspace", str(e))
            return False
        w.workspace = ws
        w.settings.remember_workspace(ws.root)
        if w.session is not None:
            w.session.set_workspace(ws)
        self._show_workspace()
        return True

    def _show_workspace(self) -> None:
        w = self.window
        where = f" — {w.workspace.root}" if w.workspace is not None else ""
        w.setWindowTitle(f"{APPLICATION}{where}")

    def undo_remove(self) -> Run | None:
        w = self.window
        run = w.session.undo_remove() if w.session is not None else None
        if run is not None:
            w.run_table.select_run(run)
            w.statusBar().showMessage(f"{run.name} is back from the trash", 6000)
        return run

    def empty_trash(self) -> int:
        w = self.window
        ws = w.workspace
        if ws is None or w.session is None:
            return 0
        n = len(ws.trashed())
        if n == 0:
            w.statusBar().showMessage("The workspace's trash is empty", 5000)
            return 0
        if not w.dialogs.confirm("Empty trash", f"Delete the {n} run(s) in the workspace's "
                                 "trash for good? This cannot be undone."):
            return 0
        done = w.session.empty_trash()
        w.statusBar().showMessage(f"Deleted {done} run(s) for good", 6000)
        return done
