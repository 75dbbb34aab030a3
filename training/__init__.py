"""Data, training loop, evaluation and checkpoints: Qt-free, shared by the CLI, GUI and tests.

Names load on first use (PEP 562), so the torch-free parts (`training.sources`, the CLI's
parser) can be imported without torch: the GUI and `--help` start fast.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "Checkpoint": "training.checkpoint", "CheckpointError": "training.checkpoint",
    "load_checkpoint": "training.checkpoint", "save_checkpoint": "training.checkpoint",
    "DataError": "training.data", "Dataset": "training.data", "Split": "training.data",
    "load_dataset": "training.data",
    "describe_device": "training.device", "pick_device": "training.device",
    "EvalMetrics": "training.evaluate", "evaluate": "training.evaluate",
    "History": "training.history",
    "EpochEvent": "training.loop", "StepsEvent": "training.loop", "TrainConfig": "training.loop",
    "Trainer": "training.loop", "TrainingDiverged": "training.loop",
    "TrainingObserver": "training.loop", "TrainResult": "training.loop", "train": "training.loop",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_WHERE)
