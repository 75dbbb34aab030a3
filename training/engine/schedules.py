"""Training schedules: the KL weight's factor, the learning rate, and the best epoch, per step.

Every function is a pure function of the step index (0-based: the steps done before this
one), so a continued run computes exactly what an uninterrupted one would, and the CLI, the
window and the tests share one definition. No torch, no numpy: the training form imports it
while torch is still loading.

KL weight: the step trains with β · `kl_factor(step)`.

- Linear warm-up (Bowman et al. 2016, "Generating sentences from a continuous space"): the
  factor rises linearly from 0 at the first step to 1 after `warmup` steps, then stays 1.
- Cyclical annealing (Fu et al. 2019, "Cyclical Annealing Schedule: A Simple Approach to
  Mitigating KL Vanishing", NAACL): the run's T steps are split into M cycles of T/M steps;
  within each the factor rises linearly from 0 over the first R proportion of the cycle, then
  stays 1. τ = (t mod T/M) / (T/M); factor = min(1, τ / R). Past the run's T steps (a run
  continued further than it was planned) the factor stays 1.

Learning rate: the step trains with `lr_at(step)`.

- An optional linear warm-up over W steps: lr · (t + 1) / W, so the first step already moves.
- Then constant (the course's), or cosine decay (Loshchilov & Hutter 2017, "SGDR", without
  restarts) from lr to lr_min over the rest of the run's T steps:
  lr_min + (lr − lr_min) · ½ (1 + cos(π p)), p = (t − W) / (T − W), held at lr_min past T.

The run's length T is its planned epochs (`TrainConfig.schedule_epochs`, or its epochs) times
the steps per epoch; continuing a run past it keeps T, so the schedule never jumps back.

Best epoch and early stopping (`BestEpoch`): the epoch whose test −ELBO (an AE's: its test
BCE) is the lowest so far, and whether `patience` epochs have passed without a lower one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LR_SCHEDULES = ("constant", "cosine")
KEEP_CHOICES = ("last", "best")
DEFAULT_KL_RATIO = 0.5  # Fu et al.'s R


# -- the factors and the rate, as functions of the step ---------------------------------------
def linear_warmup(step: int, warmup_steps: float) -> float:
    """The KL factor of linear warm-up: step / warmup_steps, at most 1 (1 with no warm-up)."""
    if warmup_steps <= 0 or step >= warmup_steps:
        return 1.0
    return max(step, 0) / warmup_steps


def cyclical(step: int, total_steps: int, cycles: int, ratio: float = DEFAULT_KL_RATIO) -> float:
    """The KL factor of cyclical annealing (Fu et al. 2019): `cycles` cycles over `total_steps`,
    each rising linearly from 0 over its first `ratio` proportion, then 1; 1 past the run."""
    if cycles <= 0 or total_steps <= 0 or step >= total_steps:
        return 1.0
    period = total_steps / cycles
    tau = math.fmod(max(step, 0), period) / period
    return min(1.0, tau / ratio)


def warmup_lr(step: int, lr: float, warmup_steps: float) -> float:
    """The learning rate of a linear warm-up over `warmup_steps`: lr·(step + 1)/warmup_steps
    up to lr."""
    if warmup_steps <= 0 or step + 1 >= warmup_steps:
        return lr
    return lr * (step + 1) / warmup_steps


def cosine_lr(step: int, total_steps: int, lr: float, lr_min: float = 0.0,
              warmup_steps: float = 0.0) -> float:
    """The learning rate at `step` of a linear warm-up then cosine decay from lr to lr_min at
    `total_steps` (held there past it)."""
    if step + 1 < warmup_steps:
        return warmup_lr(step, lr, warmup_steps)
    span = total_steps - warmup_steps
    p = 1.0 if span <= 0 else min(max((step - warmup_steps) / span, 0.0), 1.0)
    return lr_min + (lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * p))


# -- a run's schedule ---------------------------------------------------------------------------
def schedule_span(config) -> int | None:
    """The epochs a config's run-long schedules (cosine decay, KL cycles) span: its
    `schedule_epochs`, else its `epochs`; None when it has none (warm-ups end by themselves)."""
    def g(name: str, default: Any) -> Any:  # a config of an older version lacks some
        return getattr(config, name, default)

    if g("lr_schedule", "constant") != "cosine" and not g("kl_cycles", 0):
        return None
    return int(g("schedule_epochs", None) or config.epochs)


@dataclass(frozen=True)
class Schedule:
    """A run's KL factor and learning rate per step; `of(config, steps_per_epoch)` builds it.

    `has_kl` / `has_lr`: whether the factor or the rate ever differ from 1 and the config's lr
    (when not, the loop leaves β and the optimizer alone: a run without schedules steps
    exactly as before they existed).
    """

    lr: float
    total_steps: int
    kl_warmup_steps: float = 0.0
    kl_cycles: int = 0
    kl_ratio: float = DEFAULT_KL_RATIO
    lr_schedule: str = "constant"
    lr_min: float = 0.0
    lr_warmup_steps: float = 0.0

    @classmethod
    def of(cls, config, steps_per_epoch: int) -> "Schedule":
        """The schedule of a TrainConfig (or anything with its fields) at `steps_per_epoch`."""
        def g(name: str, default: Any) -> Any:  # a config of an older version lacks some
            return getattr(config, name, default)

        epochs = g("schedule_epochs", None) or config.epochs
        return cls(lr=float(config.lr), total_steps=int(epochs) * steps_per_epoch,
                   kl_warmup_steps=float(g("kl_warmup", 0.0)) * steps_per_epoch,
                   kl_cycles=int(g("kl_cycles", 0)), kl_ratio=float(g("kl_ratio", 0.5)),
                   lr_schedule=g("lr_schedule", "constant"), lr_min=float(g("lr_min", 0.0)),
                   lr_warmup_steps=float(g("lr_warmup", 0.0)) * steps_per_epoch)

    @property
    def has_kl(self) -> bool:
        return self.kl_warmup_steps > 0 or self.kl_cycles > 0

    @property
    def has_lr(self) -> bool:
        return self.lr_schedule != "constant" or self.lr_warmup_steps > 0

    def kl_factor(self, step: int) -> float:
        """What β is multiplied by at `step`."""
        if self.kl_cycles > 0:
            return cyclical(step, self.total_steps, self.kl_cycles, self.kl_ratio)
        return linear_warmup(step, self.kl_warmup_steps)

    def lr_at(self, step: int) -> float:
        """The learning rate of `step`."""
        if self.lr_schedule == "cosine":
            return cosine_lr(step, self.total_steps, self.lr, self.lr_min, self.lr_warmup_steps)
        return warmup_lr(step, self.lr, self.lr_warmup_steps)


def schedule_problems(kind_variational: bool, kind_label: str, target_rate, kl_warmup,
                      kl_cycles, kl_ratio, lr_schedule, lr, lr_min, lr_warmup) -> list[str]:
    """Why these schedule settings cannot train (empty when fine); shared by a run's and a
    sweep's config, and the training form."""
    p = []
    if not _number(kl_warmup) or kl_warmup < 0:
        p.append(f"KL warm-up must be a number of epochs >= 0, got {kl_warmup}")
    if not (isinstance(kl_cycles, int) and not isinstance(kl_cycles, bool)) or kl_cycles < 0:
        p.append(f"KL cycles must be a whole number >= 0, got {kl_cycles}")
    if not _number(kl_ratio) or not 0 < kl_ratio <= 1:
        p.append(f"KL ratio must be a proportion > 0 and <= 1, got {kl_ratio}")
    kl = (_number(kl_warmup) and kl_warmup > 0) or (isinstance(kl_cycles, int) and kl_cycles > 0)
    if kl:
        if _number(kl_warmup) and kl_warmup > 0 and isinstance(kl_cycles, int) and kl_cycles > 0:
            p.append("choose a KL warm-up or KL cycles, not both")
        if not kind_variational:
            p.append(f"an {kind_label} has no KL term to warm up or cycle")
        elif target_rate is not None:
            p.append("a KL schedule cannot be combined with a target rate: the rate "
                     "controller sets beta itself")
    if lr_schedule not in LR_SCHEDULES:
        p.append(f"learning-rate schedule must be {' or '.join(LR_SCHEDULES)}, got "
                 f"{lr_schedule!r}")
    if not _number(lr_min) or lr_min < 0:
        p.append(f"minimum learning rate must be a number >= 0, got {lr_min}")
    elif lr_schedule == "cosine" and _number(lr) and lr_min >= lr:
        p.append(f"the minimum learning rate ({lr_min:g}) must be below the learning rate "
                 f"({lr:g})")
    if not _number(lr_warmup) or lr_warmup < 0:
        p.append(f"learning-rate warm-up must be a number of epochs >= 0, got {lr_warmup}")
    return p


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def describe(config) -> str:
    """The schedules of a config in a few words ('' when it has none), for the CLI's first line
    and tooltips: 'KL warm-up 5 epochs, cosine LR to 0'."""
    def g(name: str, default: Any) -> Any:
        return getattr(config, name, default)

    parts = []
    if g("kl_cycles", 0):
        parts.append(f"{g('kl_cycles', 0)} KL cycles (ratio {g('kl_ratio', 0.5):g})")
    elif g("kl_warmup", 0.0):
        parts.append(f"KL warm-up {_epochs(g('kl_warmup', 0.0))}")
    if g("lr_warmup", 0.0):
        parts.append(f"LR warm-up {_epochs(g('lr_warmup', 0.0))}")
    if g("lr_schedule", "constant") == "cosine":
        parts.append(f"cosine LR to {g('lr_min', 0.0):g}")
    if g("keep", "last") == "best":
        parts.append("keeping the best epoch")
    if g("early_stop", 0):
        parts.append(f"early stop after {_epochs(g('early_stop', 0))} without improvement")
    return ", ".join(parts)


def _epochs(n: float) -> str:
    return f"{n:g} epoch" + ("" if n == 1 else "s")


# -- the best epoch and early stopping --------------------------------------------------------
def monitored_value(metrics) -> float | None:
    """The number the best epoch minimises: the test −ELBO, or an AE's test BCE per pixel
    (an AE has no ELBO); None when there is none or it is not finite."""
    if metrics is None:
        return None
    v = metrics.neg_elbo if metrics.neg_elbo is not None else metrics.bce
    return float(v) if v is not None and math.isfinite(v) else None


@dataclass
class BestEpoch:
    """The epoch with the lowest monitored value so far, and early stopping's patience.

    `update(epoch, step, value)` after each epoch's evaluation returns whether that epoch is
    the new best (strictly lower); `should_stop(epoch)` whether `patience` epochs (0: never)
    have passed since the best. `to_dict`/`from_dict`: what exact resume keeps.
    """

    patience: int = 0
    epoch: int = 0  # 0: no epoch evaluated yet
    step: int = 0
    value: float = math.inf
    what: str = "test -ELBO"  # an AE's: "test BCE"

    def update(self, epoch: int, step: int, value: float | None) -> bool:
        if value is None or not value < self.value:
            return False
        self.epoch, self.step, self.value = int(epoch), int(step), float(value)
        return True

    def should_stop(self, epoch: int) -> bool:
        return self.patience > 0 and self.epoch > 0 and epoch - self.epoch >= self.patience

    def stop_message(self, epoch: int) -> str:
        return (f"stopped early after epoch {epoch}: the {self.what} has not improved for "
                f"{_epochs(epoch - self.epoch)} (the best, {self.value:.4g}, was epoch "
                f"{self.epoch})")

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "step": self.step, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict, patience: int = 0, what: str = "test -ELBO") -> "BestEpoch":
        best = cls(patience, int(d["epoch"]), int(d["step"]), float(d["value"]), what)
        if best.epoch < 0 or best.step < 0 or math.isnan(best.value):
            raise ValueError("best epoch out of range")
        return best


__all__ = ["BestEpoch", "DEFAULT_KL_RATIO", "KEEP_CHOICES", "LR_SCHEDULES", "Schedule",
           "cosine_lr", "cyclical", "describe", "linear_warmup", "monitored_value",
           "schedule_problems", "schedule_span", "warmup_lr"]
