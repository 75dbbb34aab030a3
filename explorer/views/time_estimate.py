"""How long a run or a sweep would take here: the speeds this machine measured, per family of
models (training.config.speed_family: 'mlp', 'conv', 'conv-vamp', ...). Qt-free; the training
form shows what it says."""

from __future__ import annotations

import math


# What a sweep "Run on: Ray" spends before its first step: starting (or reaching) the cluster,
# Tune's set-up and each trial process importing torch. Issue 35 measured about 25 s for an
# embedded local cluster on a 2-core laptop, where the estimate said "about 00:01".
RAY_STARTUP_S = 25.0


def startup_seconds(engine: str) -> float:
    """Seconds a sweep on `engine` ('local' or 'ray') spends before training: added to the
    steps' time in the form's estimate."""
    return RAY_STARTUP_S if engine == "ray" else 0.0


def _positive(values) -> dict[str, float]:
    d = values if isinstance(values, dict) else {"mlp": values}
    return {k: float(v) for k, v in d.items() if v and v > 0 and math.isfinite(v)}


class SpeedBook:
    """A single run's steps/s and a sweep's model-steps/s (sweep steps/s × members), per family.

    A plain number given for either is the course MLP's. A family with nothing measured gets no
    estimate rather than another family's: a conv step costs ~13× an MLP step."""

    def __init__(self) -> None:
        self.single: dict[str, float] = {}
        self.sweep: dict[str, float] = {}

    def set(self, single: dict[str, float] | float | None,
            sweep: dict[str, float] | float | None = None) -> None:
        self.single, self.sweep = _positive(single), _positive(sweep)

    def set_single(self, family: str, rate: float | None) -> None:
        """One family's single-run speed (None or ≤ 0: forget it)."""
        rest = {k: v for k, v in self.single.items() if k != family}
        self.single = {**rest, **_positive({family: rate})}

    def seconds(self, steps: int, family: str, members: int = 0) -> float | None:
        """About how long `steps` steps take: a single run (members 0) at the family's single-run
        speed; a sweep of `members` at its sweep speed shared by them, or, before any sweep of
        the family was measured, as that many single runs one after another (an upper bound
        where members train at once; the time itself where they are stepped in turn)."""
        single = self.single.get(family)
        if not members:
            return steps / single if single else None
        rate = self.sweep.get(family) or single
        return steps * members / rate if rate else None

    def is_upper_bound(self, family: str, members: int) -> bool:
        """Whether `seconds` for this sweep is an upper bound (no sweep of it measured yet)."""
        return bool(members) and family not in self.sweep


__all__ = ["RAY_STARTUP_S", "SpeedBook", "startup_seconds"]
