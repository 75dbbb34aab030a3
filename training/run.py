"""A run: one model with its config, history and state, as the GUI and panels see it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from models.autoencoders import LatentModel
from training.data import Dataset
from training.evaluate import EvalMetrics
from training.history import History
from training.loop import TrainConfig

STATES = ("queued", "running", "paused", "finished", "stopped", "failed")
_ids = itertools.count(1)


@dataclass(eq=False)
class Run:
    """A training run or a loaded checkpoint. `model` is None until the job has built it."""

    name: str
    config: TrainConfig
    model: LatentModel | None = None
    history: History = field(default_factory=History)
    state: str = "queued"
    metrics: EvalMetrics | None = None
    error: str | None = None
    dataset: Dataset | None = None  # in memory, shared between runs on the same data
    path: Path | None = None  # where it was last saved or loaded from
    saved: bool = False  # False while the weights exist only in memory
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def beta(self) -> float:
        return 0.0 if self.config.kind == "ae" else self.config.beta

    @property
    def epochs_done(self) -> int:
        return self.history.epochs[-1].epoch if self.history.epochs else 0

    @property
    def is_usable(self) -> bool:
        """True when the model can be explored (it exists and has trained at least a step)."""
        return self.model is not None and (len(self.history) > 0 or self.state == "finished")

    @property
    def is_active(self) -> bool:
        return self.state in ("queued", "running", "paused")

    def default_name(self) -> str:
        c = self.config
        if c.kind == "ae":
            return f"AE nz={c.nz} #{self.id}"
        return f"{c.kind.upper()} β={c.beta:g} nz={c.nz} #{self.id}"
