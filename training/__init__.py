"""Data, training loop, evaluation and checkpoints: Qt-free, shared by the CLI, GUI and tests.

The names below load on first use (PEP 562), so `import training` alone stays cheap: the
`--version` path and other torch-free helpers (training.version) do not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Checkpoint": "training.record.checkpoint",
    "CheckpointError": "training.record.checkpoint",
    "load_checkpoint": "training.record.checkpoint",
    "save_checkpoint": "training.record.checkpoint",
    "DataError": "training.data.datasets",
    "Dataset": "training.data.datasets",
    "Split": "training.data.datasets",
    "load_dataset": "training.data.sources",
    "describe_device": "training.engine.device",
    "pick_device": "training.engine.device",
    "EvalMetrics": "training.metrics.evaluate",
    "evaluate": "training.metrics.evaluate",
    "History": "training.record.history",
    "EpochEvent": "training.engine.events",
    "Loop": "training.engine.loop",
    "LoopResult": "training.engine.events",
    "Observer": "training.engine.events",
    "StepsEvent": "training.engine.events",
    "TrainConfig": "training.config",
    "Trainer": "training.engine.loop",
    "TrainingDiverged": "training.engine.events",
    "TrainingObserver": "training.engine.loop",
    "TrainResult": "training.engine.events",
    "train": "training.engine.loop",
    "version": "training.version",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from training.record.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
    from training.config import TrainConfig
    from training.data.datasets import DataError, Dataset, Split
    from training.engine.device import describe_device, pick_device
    from training.metrics.evaluate import EvalMetrics, evaluate
    from training.record.history import History
    from training.engine.events import (EpochEvent, LoopResult, Observer, StepsEvent,
                                        TrainingDiverged, TrainResult)
    from training.engine.loop import Loop, Trainer, TrainingObserver, train
    from training.data.sources import load_dataset
    from training.version import version


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
