"""How events change a run: the one reducer the jobs' events and the workspace reader's go through.

Jobs map their worker's events onto their runs (explorer/session/jobs.py) and never write a
`Run`; the session hands each (run, event) pair to `apply_event` in the GUI thread, then tells
its views `run_changed(run, changed_by(event))`. What the workspace reader finds of a run
another process trains (`RecordRead`, `CheckpointRead`) goes in the same way. One writer, as napari's `ViewerModel` is for
its layers (STYLE.md §13, §14): a view draws from the run and never keeps a copy of its state.

Qt-free and torch-free, so tests can drive it with hand-made events.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latent_explorer.explorer.session.job_events import (
    DatasetLoaded,
    EpochEvent,
    MemberFailedEvent,
    MessagePosted,
    ReconstructionsReady,
    ResultReady,
    RunConfigured,
    SnapshotRecorded,
    StateChanged,
    StepsEvent,
    TrainingEnded,
    TrainingStarted,
    WeightsDiscarded,
    WeightsSnapshot,
)
from latent_explorer.training.record.history import History
from latent_explorer.training.record.run import Run, RunState

@dataclass(frozen=True)
class RecordRead:
    """A run's file in the workspace says where it is: its state, why it ended (None: no
    problem) and the epochs it completed; `stale_weights`: it trained on elsewhere, so the
    weights in memory are older than its newest checkpoint's."""

    state: RunState
    error: str | None
    epochs_on_disk: int
    stale_weights: bool = False


@dataclass(frozen=True, eq=False)
class CheckpointRead:
    """A listed run's checkpoint was read from `path` (a training.record.checkpoint
    Checkpoint): its weights, timeline, resume state, metrics and, when it holds no fewer
    steps than the run has, its history."""

    checkpoint: object
    path: Path


# What `run_changed` says changed, per event type ("": nothing a view of the run list draws).
_CHANGED = {StateChanged: "state", DatasetLoaded: "dataset", EpochEvent: "metrics",
            WeightsSnapshot: "model", TrainingEnded: "ended", StepsEvent: "progress",
            RunConfigured: "config"}


def changed_by(ev: object) -> str:
    """What `ev` changed of its run, for `run_changed(run, what)` ('' for nothing shown)."""
    return _CHANGED.get(type(ev), "")


def apply_event(run: Run, ev: object) -> None:
    """Apply one job event to `run` (GUI thread). Events that change nothing pass through."""
    match ev:
        case StateChanged(state=state, error=error):
            if state == RunState.RUNNING and run.measures:
                run.measures.clear()  # training again: the figures were of the old weights
            run.state = RunState(state)
            if error is not None:
                run.error = error
            if not run.is_active:
                run.snapshot_epoch = None  # ended: its model is its own, not an epoch's copy
        case DatasetLoaded(dataset=ds):
            run.dataset = ds
        case StepsEvent():
            append_steps(run.history, ev)
        case EpochEvent(epoch=epoch, step=step, metrics=metrics):
            run.history.add_epoch(epoch, step, metrics[0])
            run.metrics = metrics[0]
        case SnapshotRecorded(timeline=timeline):
            run.timeline = timeline
        case WeightsSnapshot(model=model, epoch=epoch):
            run.model, run.snapshot_epoch = model, epoch
            run.saved = False  # its weights moved on from any file's
        case ResultReady(result=result, timeline=timeline, resume=resume):
            run.model, run.metrics, run.error = result.model, result.metrics, result.error
            if not same_steps(run.history, result.history):
                run.history = result.history  # e.g. a Ray trial's, never streamed here
            run.snapshot_epoch = None
            if timeline is not None:
                run.timeline = timeline
            run.resume = resume
            run.saved = False
        case WeightsDiscarded():
            run.model, run.metrics, run.snapshot_epoch, run.resume = None, None, None, None
        case RunConfigured(config=config, error=error):
            run.config, run.error = config, error
        case TrainingEnded():
            run.snapshot_epoch = None
        case RecordRead(state=state, error=error, epochs_on_disk=epochs, stale_weights=stale):
            run.state, run.error, run.epochs_on_disk = RunState(state), error, epochs
            if stale:
                run.model = None  # load the newer weights when shown
        case CheckpointRead(checkpoint=ckpt, path=path):
            run.model, run.timeline, run.resume = ckpt.model, ckpt.timeline, ckpt.resume
            run.metrics = ckpt.metrics
            if len(ckpt.history) >= len(run.history):
                run.history = ckpt.history
            run.path, run.saved = path, True
        case TrainingStarted() | MessagePosted() | ReconstructionsReady() | MemberFailedEvent():
            pass
        case _:
            raise TypeError(f"unknown job event {ev!r}")


def append_steps(history: History, ev: StepsEvent) -> None:
    """Add a one-member StepsEvent's losses to `history` at their step numbers: the run's one
    History grows as its loop's does (a continued run that redid steps from an earlier
    checkpoint drops the steps and epochs it redoes)."""
    first = ev.first_step
    if first < len(history):
        kept = max((e.epoch for e in history.epochs if e.step <= first), default=0)
        history.truncate(first, kept)
    gap = first - len(history)
    if gap > 0:  # steps never told (not expected): kept in place as NaN
        nan = np.full(gap, np.nan)
        history.extend(nan, nan, nan)
    history.extend(ev.recon[0], ev.kl[0], ev.total[0],
                   ev.beta[0] if ev.beta is not None else None)


def same_steps(a: History, b: History) -> bool:
    """Whether two histories hold the same steps and epochs (the run's streamed one and its
    loop's at the end), NaN equal to NaN."""
    if len(a) != len(b) or [(e.epoch, e.step) for e in a.epochs] != \
            [(e.epoch, e.step) for e in b.epochs]:
        return False
    return all(np.array_equal(x, y, equal_nan=True)
               for x, y in ((a.recon, b.recon), (a.kl, b.kl), (a.total, b.total),
                            (a.beta, b.beta)))


__all__ = ["CheckpointRead", "RecordRead", "append_steps", "apply_event", "changed_by", "same_steps"]
