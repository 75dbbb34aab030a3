"""What the window remembers between launches (QSettings): geometry, docks, form, smoothing,
and whether the first launch's hint was dismissed."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtWidgets import QMainWindow

ORGANIZATION = "LatentExplorer"
APPLICATION = "Latent Explorer"
FIRST_SIZE = QSize(1540, 900)  # the first launch's size, where the screen has room for it
FRAME_ROOM = QSize(16, 48)  # left for the window manager's frame and title bar


def first_size(available: QSize, minimum: QSize, preferred: QSize = FIRST_SIZE) -> QSize:
    """The window's size at first launch: `preferred`, within the screen's available size
    (less room for the frame), but never below the window's minimum."""
    return preferred.boundedTo(available - FRAME_ROOM).expandedTo(minimum)


class WindowSettings:
    """Reads and writes the window's remembered state; unreadable values fall back to defaults."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings or QSettings(ORGANIZATION, APPLICATION)
        # Nothing remembered yet: the very first launch (read before anything is written).
        self.first_launch = not self.qsettings.allKeys()

    # -- the first launch's hint -----------------------------------------------------------------
    def first_run_hint_due(self) -> bool:
        """Whether to show the Training tab's hint for a new user: on the very first launch
        only, and never once it was dismissed."""
        return self.first_launch and not _true(self.qsettings.value("help/hint_dismissed"))

    def dismiss_first_run_hint(self) -> None:
        self.qsettings.setValue("help/hint_dismissed", True)
        self.qsettings.sync()

    # -- files -----------------------------------------------------------------------------------
    @property
    def last_dir(self) -> str:
        return str(self.qsettings.value("files/last_dir", str(Path.home())))

    def remember_dir(self, path: str | Path) -> None:
        self.qsettings.setValue("files/last_dir", str(Path(path).parent))

    # -- workspaces ------------------------------------------------------------------------------
    RECENT_WORKSPACES = 8

    def recent_workspaces(self) -> list[str]:
        """Workspace folders opened before, the latest first."""
        value = self.qsettings.value("workspace/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if str(v)][: self.RECENT_WORKSPACES]

    def remember_workspace(self, folder: str | Path) -> None:
        folder = str(folder)
        recent = [folder] + [f for f in self.recent_workspaces() if f != folder]
        self.qsettings.setValue("workspace/recent", recent[: self.RECENT_WORKSPACES])

    # -- window ----------------------------------------------------------------------------------
    def restore_window(self, window: QMainWindow, runs_dock) -> None:
        s = self.qsettings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            window.restoreGeometry(geometry)  # Qt moves it onto a screen it fits
        else:
            screen = window.screen().availableGeometry()
            size = first_size(screen.size(), window.minimumSizeHint())
            window.resize(size)
            # Centred with its frame (move() places the frame's corner), so none of it is off.
            spare = screen.size() - size - FRAME_ROOM
            window.move(screen.x() + max(0, spare.width() // 2),
                        screen.y() + max(0, spare.height() // 2))
            # First launch: the plots get the height, the run list about a quarter of it.
            runs = max(runs_dock.minimumSizeHint().height(), min(230, size.height() // 4))
            window.resizeDocks([runs_dock], [runs], Qt.Orientation.Vertical)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            window.restoreState(state)

    def save_window(self, window: QMainWindow) -> None:
        self.qsettings.setValue("window/geometry", window.saveGeometry())
        self.qsettings.setValue("window/state", window.saveState())

    # -- the form and the plot -------------------------------------------------------------------
    def form_values(self) -> dict | None:
        raw = self.qsettings.value("form/values")
        if isinstance(raw, str) and raw:
            try:
                values = json.loads(raw)
            except (ValueError, TypeError):
                return None
            return values if isinstance(values, dict) else None
        return None

    def save_form_values(self, values: dict) -> None:
        stored = {k: v for k, v in values.items() if v is not None}
        self.qsettings.setValue("form/values", json.dumps(stored))

    def smoothing(self, default: float) -> float:
        try:
            return float(self.qsettings.value("plot/smoothing", default))
        except (TypeError, ValueError):
            return default

    def save_smoothing(self, weight: float) -> None:
        self.qsettings.setValue("plot/smoothing", weight)

    @staticmethod
    def _speed_key(name: str, family: str) -> str:
        # The course's MLP keeps the key it had before families existed.
        return f"training/{name}" if family == "mlp" else f"training/{name}/{family}"

    def _speed(self, name: str, family: str) -> float | None:
        try:
            v = float(self.qsettings.value(self._speed_key(name, family), 0.0))
        except (TypeError, ValueError):
            return None
        return v if v > 0 else None

    def steps_per_second(self, family: str = "mlp") -> float | None:
        """The last single run's speed here for a family of models (training.config
        `speed_family`), steps/s, for the form's time estimate."""
        return self._speed("steps_per_second", family)

    def save_steps_per_second(self, rate: float, family: str = "mlp") -> None:
        if rate > 0:
            self.qsettings.setValue(self._speed_key("steps_per_second", family), float(rate))

    def sweep_speed(self, family: str = "mlp") -> float | None:
        """The last sweep's model-steps/s here (sweep steps/s × members), for sweep estimates."""
        return self._speed("sweep_model_steps_per_second", family)

    def save_sweep_speed(self, model_rate: float, family: str = "mlp") -> None:
        if model_rate > 0:
            self.qsettings.setValue(self._speed_key("sweep_model_steps_per_second", family),
                                    float(model_rate))

    def speeds(self) -> tuple[dict[str, float], dict[str, float]]:
        """(single-run steps/s, sweep model-steps/s) of every family measured here."""
        from latent_explorer.training.config import speed_families

        single = {f: v for f in speed_families() if (v := self.steps_per_second(f))}
        sweep = {f: v for f in speed_families() if (v := self.sweep_speed(f))}
        return single, sweep

    def sync(self) -> None:
        self.qsettings.sync()


def _true(value) -> bool:
    """A remembered flag: QSettings' INI files give back booleans as the text 'true'."""
    return value is True or str(value).lower() in ("true", "1")
