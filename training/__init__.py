"""Data, training loop, evaluation and checkpoints: Qt-free, shared by the CLI, GUI and tests.

The names below load on first use (PEP 562), so `import training` alone stays cheap: the
`--version` path and other torch-free helpers (training.version) do not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Checkpoint": "latent_explorer.training.record.checkpoint",
    "CheckpointError": "latent_explorer.training.record.checkpoint",
    "load_checkpoint": "latent_explorer.training.record.checkpoint",
    "save_checkpoint": "latent_explorer.training.record.checkpoint",
    "DataError": "latent_explorer.training.data.datasets",
    "Dataset": "latent_explorer.training.data.datasets",
    "Split": "latent_explorer.training.data.datasets",
    "load_dataset": "latent_explorer.training.data.sources",
    "describe_device": "latent_explorer.training.engine.device",
    "pick_device": "latent_explorer.training.engine.device",
    "EvalMetrics": "latent_explorer.training.metrics.evaluate",
    "evaluate": "latent_explorer.training.metrics.evaluate",
    "History": "latent_explorer.training.record.history",
    "EpochEvent": "latent_explorer.training.engine.events",
    "Loop": "latent_explorer.training.engine.loop",
    "LoopResult": "latent_explorer.training.engine.events",
    "Observer": "latent_explorer.training.engine.events",
    "StepsEvent": "latent_explorer.training.engine.events",
    "TrainConfig": "latent_explorer.training.config",
    "Trainer": "latent_explorer.training.engine.loop",
    "TrainingDiverged": "latent_explorer.training.engine.events",
    "TrainingObserver": "latent_explorer.training.engine.loop",
    "TrainResult": "latent_explorer.training.engine.events",
    "train": "latent_explorer.training.engine.loop",
    "version": "latent_explorer.training.version",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from latent_explorer.training.record.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
    from latent_explorer.training.config import TrainConfig
    from latent_explorer.training.data.datasets import DataError, Dataset, Split
    from latent_explorer.training.engine.device import describe_device, pick_device
    from latent_explorer.training.metrics.evaluate import EvalMetrics, evaluate
    from latent_explorer.training.record.history import History
    from latent_explorer.training.engine.events import (EpochEvent, LoopResult, Observer, StepsEvent,
                                        TrainingDiverged, TrainResult)
    from latent_explorer.training.engine.loop import Loop, Trainer, TrainingObserver, train
    from latent_explorer.training.data.sources import load_dataset
    from latent_explorer.training.version import version


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
