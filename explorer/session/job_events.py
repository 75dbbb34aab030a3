"""What a training job reports: one frozen dataclass per thing that happened.

A job sends these through one signal, `event(run, event)`; listeners dispatch on the type
(`match event: case EpochEvent(): ...`). The loop's own `StepsEvent`, `EpochEvent` and
`MemberFailedEvent` travel unchanged from the worker (with their member axis; a run's listeners
get its one-member view); the others say what the job itself did. Qt-free, so tests can build
them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.data.datasets import Dataset
from latent_explorer.training.engine.events import EpochEvent, MemberFailedEvent, StepsEvent, TrainResult
from latent_explorer.training.engine.resume import ResumeState
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.record.run import RunState
from latent_explorer.training.record.timeline import Snapshot, Timeline


@dataclass(frozen=True)
class StateChanged:
    """The run moved to `state` (queued, running, paused, finished, stopped, failed);
    `error`, when given, is why (it becomes the run's error)."""

    state: RunState
    error: str | None = None


@dataclass(frozen=True)
class DatasetLoaded:
    """The job has its data in memory (shared with other runs on the same data)."""

    dataset: Dataset


@dataclass(frozen=True)
class TrainingStarted:
    """The loop began, on this device (a description such as 'CPU (2 threads)'), its thread
    using `threads` CPU threads for torch (0: not known)."""

    device: str
    threads: int = 0


@dataclass(frozen=True, eq=False)
class ReconstructionsReady:
    """Fixed test images above the model's reconstructions (a [0, 1] mosaic) and a caption."""

    grid: np.ndarray
    caption: str


@dataclass(frozen=True, eq=False)
class WeightsSnapshot:
    """A copy of the run's weights taken at the end of `epoch` (step `step`), while it trains on.

    The panels explore it as the run's model until the next one or the end: `model` is the
    job's to hand over, never touched by the training thread again.
    """

    model: LatentModel
    epoch: int
    step: int


@dataclass(frozen=True)
class MessagePosted:
    """A one-line note for the user (e.g. the dataset fell back to the bundled sample)."""

    text: str


@dataclass(frozen=True, eq=False)
class SnapshotRecorded:
    """A timeline snapshot was recorded: it is `timeline.snapshots[index]`, of `count`.

    `timeline` is the run's timeline as of this snapshot: its own list of snapshots (the
    training thread goes on adding to its list), sharing the arrays, which nothing changes.
    """

    snapshot: Snapshot
    index: int
    count: int
    timeline: Timeline


@dataclass(frozen=True)
class TrainingEnded:
    """The job is over: the loop's result, or None with the error when the loop never ran.

    With a result, also the run's timeline and what continuing it needs (None if it cannot).
    """

    result: TrainResult | None
    error: str | None = None
    timeline: Timeline | None = None
    resume: ResumeState | None = None


@dataclass(frozen=True, eq=False)
class ResultReady:
    """The loop's result for this run, told before its final state so that every listener of
    that state finds the run's weights, history and metrics in place; with the run's timeline
    and what continuing it needs (None if it cannot)."""

    result: TrainResult
    timeline: Timeline | None = None
    resume: ResumeState | None = None


@dataclass(frozen=True)
class WeightsDiscarded:
    """The run never took a step (e.g. its Ray cluster could not be reached): the weights it
    was made with are random, nothing to show, save or count."""


@dataclass(frozen=True, eq=False)
class RunConfigured:
    """The run trains to `config` now (a continued run's new total of epochs), its error as
    given; also how a job that never trained puts a continued run back as it was."""

    config: TrainConfig
    error: str | None = None


@dataclass(frozen=True, eq=False)
class MemberEvent:
    """The worker's event about one member of its loop only: `event` is what that member's own
    run is told (ReconstructionsReady, WeightsSnapshot, SnapshotRecorded, TrainingEnded)."""

    member: int
    event: object


JobEvent = Union[StateChanged, DatasetLoaded, TrainingStarted, StepsEvent, EpochEvent,
                 MemberFailedEvent, ReconstructionsReady, SnapshotRecorded, WeightsSnapshot,
                 MessagePosted, TrainingEnded, ResultReady, WeightsDiscarded, RunConfigured]

__all__ = ["DatasetLoaded", "EpochEvent", "JobEvent", "MemberEvent", "MemberFailedEvent",
           "MessagePosted", "ReconstructionsReady", "ResultReady", "RunConfigured",
           "SnapshotRecorded", "StateChanged", "StepsEvent", "TrainingEnded", "TrainingStarted",
           "WeightsDiscarded", "WeightsSnapshot"]
