"""What the app keeps of the session's runs for its next launch: the form a run was started from
(once that run trains to its end) and this machine's measured training speed.

The window only wires it: the form's train requests give `remember_form` the form's stored
values, and `speeds_changed` gives the form back the speeds its estimate uses. No torch at
import (the window imports this before torch is loaded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

if TYPE_CHECKING:
    from latent_explorer.explorer.session.session import RunSession
    from latent_explorer.explorer.window_settings import WindowSettings
    from latent_explorer.training.record.run import Run


class RunMemory(QObject):
    """Remembers forms and speeds in the window's settings as the session's runs end."""

    # (single-run steps/s, sweep model-steps/s) per family of models: WindowSettings.speeds()
    speeds_changed = Signal(object, object)

    def __init__(self, settings: WindowSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.session: RunSession | None = None
        # The form as it was when each of its runs was queued (run id -> stored_values()): kept
        # as the next launch's form once one of them trains to the end.
        self._form_of_run: dict[int, dict] = {}

    def attach(self, session: RunSession) -> None:
        """Follow `session`'s runs (once, when the window starts it)."""
        self.session = session
        session.run_event.connect(self._on_run_event)
        session.run_removed.connect(self._on_run_removed)

    def remember_form(self, runs: list[Run], form: dict) -> None:
        """`form` started `runs`: it becomes the next launch's form if one of them finishes."""
        for run in runs:
            self._form_of_run[run.id] = form

    def form_of(self, run: Run) -> dict | None:
        """The form `run` was started from, while it has not ended."""
        return self._form_of_run.get(run.id)

    @Slot(object, object)
    def _on_run_event(self, run: Run, ev) -> None:
        from latent_explorer.explorer.session.job_events import TrainingEnded

        if isinstance(ev, TrainingEnded):
            self._remember_speed(run)
            self._keep_form(run)

    @Slot(object)
    def _on_run_removed(self, run: Run) -> None:
        self._form_of_run.pop(run.id, None)

    def _keep_form(self, run: Run) -> None:
        """The next launch's form: the form a run was started from, once that run has trained
        to its end. A run that failed (a dataset that would not download) or was stopped (200
        epochs typed by mistake) leaves the remembered form as it was; so does closing the
        window, whatever the form says then."""
        form = self._form_of_run.pop(run.id, None)
        if form is not None and run.state == "finished":
            self.settings.save_form_values(form)

    def _remember_speed(self, run: Run) -> None:
        """Keep this machine's speed (the session's measure) for the form's estimate: a single
        run's and a sweep's kept apart, per family of models."""
        m = self.session.measured_speed(run) if self.session is not None else None
        if m is None:
            return
        s = self.settings
        if m.sweep and (m.settled or s.sweep_speed(m.family) is None):
            s.save_sweep_speed(m.rate, m.family)
        elif not m.sweep and (m.settled or s.steps_per_second(m.family) is None):
            s.save_steps_per_second(m.rate, m.family)
        self.speeds_changed.emit(*s.speeds())


__all__ = ["RunMemory"]
