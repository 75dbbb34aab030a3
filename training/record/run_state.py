"""A run's state, and what a state explains: torch-free, so the window reads it before torch loads.

`training.record.run` re-exports `RunState`; the window's menus (explorer/commands/actions.py) and the timeline
strip import this module directly, because `training.record.run` pulls in torch through the model.
"""

from __future__ import annotations

from enum import Enum


class RunState(str, Enum):
    """Where a run is; compares equal to its string value ("running" == RunState.RUNNING)."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    # Its writer (another process, or this window before a crash) died mid-run: its last epoch
    # checkpoint is on disk and Continue resumes it exactly (training.record.workspace).
    INTERRUPTED = "interrupted"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def is_active(self) -> bool:
        """Queued, running or paused: a job still holds the run."""
        return self in ACTIVE_STATES

    @classmethod
    def loaded(cls, text: str) -> "RunState":
        """The state recorded in a file; an active one (a crash mid-run) reads as stopped."""
        try:
            state = cls(text)
        except ValueError:
            return cls.FINISHED
        return cls.STOPPED if state.is_active else state


ACTIVE_STATES = frozenset({RunState.QUEUED, RunState.RUNNING, RunState.PAUSED})
STATES = tuple(s.value for s in RunState)  # kept for older imports


def no_timeline_reason(name: str, *, group: str = "", state: str = "finished",
                       trained: bool = True) -> str:
    """Why the run `name` has no training timeline to show (a sentence for the user).

    `group`: the sweep it is a member of ('' for a single run); `trained`: whether it has
    weights at all. Sweep members record none: a sweep trains its members together and keeps
    their losses and test metrics, not snapshots.
    """
    state = str(state)
    if group:
        return (f"{name} is a member of {group}: sweep members record no timeline (the sweep "
                "trains them together and keeps their loss curves and test metrics, not "
                "snapshots). Train it as a single run, or continue it, to record one.")
    if state == RunState.QUEUED:
        return (f"{name} is queued: its timeline fills in once it trains (snapshots at "
                "log-spaced steps, then at every epoch end).")
    if state in (RunState.RUNNING, RunState.PAUSED):
        return (f"The timeline of {name} fills in as it trains: snapshots at log-spaced steps, "
                "then at every epoch end.")
    if not trained:
        why = "failed" if state == RunState.FAILED else "was stopped"
        return f"{name} {why} before it trained: there is no timeline to show."
    return (f"{name} has no training timeline: its checkpoint was saved without one, by a "
            "version of Latent Explorer older than timelines (its loss curves are all there is).")


__all__ = ["ACTIVE_STATES", "STATES", "RunState", "no_timeline_reason"]
