"""What a training job reports: one frozen dataclass per thing that happened.

A job sends these through one signal, `event(run, event)`; listeners dispatch on the type
(`match event: case EpochEvent(): ...`). The loop's own `StepsEvent` and `EpochEvent` travel
unchanged; the others say what the job itself did. Qt-free, so tests can build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from training.data import Dataset
from training.loop import EpochEvent, StepsEvent, TrainResult
from training.run import RunState


@dataclass(frozen=True)
class StateChanged:
    """The run moved to `state` (queued, running, paused, finished, stopped, failed)."""

    state: RunState


@dataclass(frozen=True)
class DatasetLoaded:
    """The job has its data in memory (shared with other runs on the same data)."""

    dataset: Dataset


@dataclass(frozen=True)
class TrainingStarted:
    """The loop began, on this device (a description such as 'CPU (2 threads)')."""

    device: str


@dataclass(frozen=True, eq=False)
class ReconstructionsReady:
    """Fixed test images above the model's reconstructions (a [0, 1] mosaic) and a caption."""

    grid: np.ndarray
    caption: str


@dataclass(frozen=True)
class MessagePosted:
    """A one-line note for the user (e.g. the dataset fell back to the bundled sample)."""

    text: str


@dataclass(frozen=True)
class TrainingEnded:
    """The job is over: the loop's result, or None with the error when the loop never ran."""

    result: TrainResult | None
    error: str | None = None


JobEvent = Union[StateChanged, DatasetLoaded, TrainingStarted, StepsEvent, EpochEvent,
                 ReconstructionsReady, MessagePosted, TrainingEnded]

__all__ = ["DatasetLoaded", "EpochEvent", "JobEvent", "MessagePosted", "ReconstructionsReady",
           "StateChanged", "StepsEvent", "TrainingEnded", "TrainingStarted"]
