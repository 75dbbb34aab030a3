"""Data, training loop, evaluation and checkpoints: Qt-free, shared by the CLI, GUI and tests."""

from training.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from training.data import DataError, Dataset, Split, load_dataset
from training.device import describe_device, pick_device
from training.evaluate import EvalMetrics, evaluate
from training.history import History
from training.loop import (
    EpochEvent,
    StepsEvent,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    TrainingObserver,
    TrainResult,
    train,
)

__all__ = [
    "Checkpoint", "CheckpointError", "DataError", "Dataset", "EpochEvent", "EvalMetrics",
    "History", "Split", "StepsEvent", "TrainConfig", "TrainResult", "Trainer",
    "TrainingDiverged", "TrainingObserver", "describe_device", "evaluate", "load_checkpoint",
    "load_dataset", "pick_device", "save_checkpoint", "train",
]
