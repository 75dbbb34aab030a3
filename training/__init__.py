"""Data, training loop, evaluation and checkpoints: Qt-free, shared by the CLI, GUI and tests.

The names below load on first use (PEP 562), so `import training` alone stays cheap: the
`--version` path and other torch-free helpers (training.version) do not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Checkpoint": "training.checkpoint",
    "CheckpointError": "training.checkpoint",
    "load_checkpoint": "training.checkpoint",
    "save_checkpoint": "training.checkpoint",
    "DataError": "training.data",
    "Dataset": "training.data",
    "Split": "training.data",
    "load_dataset": "training.sources",
    "describe_device": "training.device",
    "pick_device": "training.device",
    "EvalMetrics": "training.evaluate",
    "evaluate": "training.evaluate",
    "History": "training.history",
    "EpochEvent": "training.loop",
    "StepsEvent": "training.loop",
    "TrainConfig": "training.config",
    "Trainer": "training.loop",
    "TrainingDiverged": "training.loop",
    "TrainingObserver": "training.loop",
    "TrainResult": "training.loop",
    "train": "training.loop",
    "version": "training.version",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from training.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
    from training.config import TrainConfig
    from training.data import DataError, Dataset, Split
    from training.device import describe_device, pick_device
    from training.evaluate import EvalMetrics, evaluate
    from training.history import History
    from training.loop import (
        EpochEvent,
        StepsEvent,
        Trainer,
        TrainingDiverged,
        TrainingObserver,
        TrainResult,
        train,
    )
    from training.sources import load_dataset
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
