"""What the training loop tells its observers: one event set with a member axis.

A single run is a loop of one member (M = 1); a β sweep is a loop of M members trained at once.
Every event carries all members, and `for_member(m)` gives the one-member event a single run of
member m would have sent, so a view that draws one run never needs to know which engine ran it.
Observers subclass `Observer`: the loop calls every hook, so a misspelt override fails loudly
(it is never called) rather than silently, and a missing hook cannot exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # types only: the loop imports this module, never the other way round
    from latent_explorer.models.autoencoders import LatentModel
    from latent_explorer.training.metrics.evaluate import EvalMetrics
    from latent_explorer.training.record.history import History
    from latent_explorer.training.record.timeline import Snapshot


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def divergence_message(step: int, epoch: int, losses: np.ndarray, lr: float, beta: float) -> str:
    """The one message a diverged member (or run) ends with; `step` is 0-based."""
    what = "NaN" if np.isnan(np.asarray(losses, dtype=np.float64)).any() else "infinite"
    return (f"training diverged at step {step + 1} (epoch {epoch}): the loss became {what}. "
            f"The learning rate ({lr:g}) or beta ({beta:g}) is probably too large; the last "
            "good weights were kept.")


def describe_error(e: BaseException) -> str:
    """One line for a failure that ended a loop."""
    import torch

    if isinstance(e, torch.OutOfMemoryError):
        return "out of memory: try a smaller batch size or the CPU device"
    msg = str(e) or type(e).__name__
    if isinstance(e, TrainingDiverged) or type(e).__module__.startswith(
            ("latent_explorer.training", "training")):
        return msg
    return f"{type(e).__name__}: {msg}"


@dataclass(frozen=True)
class StepsEvent:
    """Losses of the steps since the last event: (M, n) arrays, NaN where a member had already
    failed; `member_steps[m]` is how many steps member m has trained in all."""

    first_step: int
    recon: np.ndarray
    kl: np.ndarray
    total: np.ndarray
    epoch: int
    step_in_epoch: int
    steps_per_epoch: int
    total_steps: int
    steps_per_second: float  # loop steps (each trains every active member once)
    active: tuple[bool, ...] = (True,)
    member_steps: tuple[int, ...] = ()
    beta: np.ndarray | None = None  # (M, n): the β of each step, when steered to a target rate

    def __post_init__(self) -> None:
        if not self.member_steps:  # every member trained every step of this event
            object.__setattr__(self, "member_steps", (self.last_step + 1,) * len(self.active))

    @property
    def n_members(self) -> int:
        return len(self.active)

    @property
    def n_steps(self) -> int:
        return int(self.total.shape[-1])

    @property
    def last_step(self) -> int:
        return self.first_step + self.n_steps - 1

    @property
    def eta_seconds(self) -> float:
        left = self.total_steps - self.last_step - 1
        return left / self.steps_per_second if self.steps_per_second > 0 else float("nan")

    def for_member(self, m: int) -> "StepsEvent | None":
        """The one-member event a single run of member m would have sent (None: no step of it
        here)."""
        n = self.member_steps[m] - self.first_step
        if n <= 0:
            return None
        if n == self.n_steps:
            epoch, in_epoch = self.epoch, self.step_in_epoch
        else:  # it failed inside this chunk: place the event at its own last step
            epoch, in_epoch = divmod(self.member_steps[m] - 1, self.steps_per_epoch)
            epoch, in_epoch = epoch + 1, in_epoch + 1
        beta = self.beta[m:m + 1, :n].copy() if self.beta is not None else None
        return StepsEvent(self.first_step, self.recon[m:m + 1, :n].copy(),
                          self.kl[m:m + 1, :n].copy(), self.total[m:m + 1, :n].copy(), epoch,
                          in_epoch, self.steps_per_epoch, self.total_steps,
                          self.steps_per_second, beta=beta)


@dataclass(frozen=True)
class EpochEvent:
    """An epoch finished: its number (1-based), the step count so far and the test metrics of
    each member (None for a member that failed)."""

    epoch: int
    step: int
    metrics: tuple["EvalMetrics | None", ...]
    seconds: float  # training steps only (pauses excluded)
    eval_seconds: float

    @property
    def n_members(self) -> int:
        return len(self.metrics)

    def for_member(self, m: int) -> "EpochEvent | None":
        """The one-member event of member m (None when it had failed)."""
        met = self.metrics[m]
        if met is None:
            return None
        return EpochEvent(self.epoch, self.step, (met,), self.seconds, self.eval_seconds)


@dataclass(frozen=True)
class SnapshotEvent:
    """A timeline snapshot of member `member` was recorded (in the training thread) at `index`
    of `count`."""

    snapshot: "Snapshot"
    index: int
    count: int
    member: int = 0


@dataclass(frozen=True)
class MemberFailedEvent:
    """Member `member` stopped alone (its loss turned NaN or infinite); the others train on."""

    member: int
    step: int  # steps it had trained
    message: str


@dataclass
class TrainResult:
    """How one member (or a single run) ended: 'finished', 'stopped' or 'failed' (error)."""

    state: str
    model: "LatentModel"
    history: "History"
    metrics: "EvalMetrics | None"
    error: str | None = None
    seconds: float = 0.0
    eval_seconds: float = 0.0  # of `seconds`: the test evaluations after each epoch
    timeline_seconds: float = 0.0  # of `seconds`: recording the timeline's snapshots
    # Why a run ended before its epochs (early stopping), or which epoch's weights it kept;
    # one line for the CLI and the window to show (None: nothing to say).
    note: str | None = None


@dataclass(frozen=True)
class LoopResult:
    """How a loop ended and each member's own result.

    It finishes when every member that did not fail finished; it fails when all members failed
    or the loop itself broke (bad data, out of memory: `error`).
    """

    state: str
    config: object  # the TrainConfig or SweepConfig it trained
    results: tuple[TrainResult, ...] = field(default_factory=tuple)
    error: str | None = None
    seconds: float = 0.0

    def for_member(self, m: int) -> TrainResult:
        return self.results[m]


class Observer:
    """Hooks the loop calls, in its thread; override what you need."""

    def on_train_start(self, loop) -> None: ...
    def on_steps(self, event: StepsEvent) -> None: ...
    def on_epoch_end(self, event: EpochEvent) -> None: ...
    def on_snapshot(self, event: SnapshotEvent) -> None: ...
    def on_member_failed(self, event: MemberFailedEvent) -> None: ...
    def on_train_end(self, result: LoopResult) -> None: ...


_HOOKS = tuple(name for name in vars(Observer) if name.startswith("on_"))


def check_hooks(observer) -> None:
    """Refuse an observer that lacks a hook: a loop calls every one of them."""
    missing = [h for h in _HOOKS if not callable(getattr(observer, h, None))]
    if missing:
        raise TypeError(f"{type(observer).__name__} is not a training observer: it has no "
                        f"{', '.join(missing)} (subclass latent_explorer.training.engine.events."
                        "Observer)")


def all_failed_message(errors) -> str:
    """The error of a loop whose every member failed: the one member's, or the first's."""
    first = next(e for e in errors if e is not None)
    if len(errors) == 1:
        return first
    return f"every member failed; the first: {first}"


__all__ = ["EpochEvent", "LoopResult", "MemberFailedEvent", "Observer", "SnapshotEvent",
           "StepsEvent", "TrainResult", "TrainingDiverged", "all_failed_message",
           "check_hooks", "describe_error", "divergence_message"]
