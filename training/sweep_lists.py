"""The typed lists of a β sweep ('0, 1e-4, 1e-3'), read without torch.

training.sweep re-exports these; the form reads them as the user types, before torch loads.
"""

from __future__ import annotations

import math


class SweepListError(ValueError):
    """A typed list of betas or seeds could not be read; the message says which item."""


def parse_betas(text: str) -> tuple[float, ...]:
    """'0, 1e-4, 1e-3' -> (0.0, 0.0001, 0.001); SweepListError for an empty list, an item
    that is not a number, a negative or non-finite β, or a repeated one."""
    items = [s.strip() for s in text.split(",")]
    if not any(items):
        raise SweepListError("the list of betas is empty")
    out: list[float] = []
    for s in items:
        if not s:
            raise SweepListError(f"empty item in the list of betas {text!r}")
        try:
            v = float(s)
        except ValueError:
            raise SweepListError(f"beta {s!r} is not a number") from None
        if not (math.isfinite(v) and v >= 0):
            raise SweepListError(f"beta must be a finite number >= 0, got {s}")
        if v in out:
            raise SweepListError(f"beta {s} is listed twice")
        out.append(v)
    return tuple(out)


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0,1,2' -> (0, 1, 2); SweepListError for an empty list, a non-integer or repeated seed."""
    items = [s.strip() for s in text.split(",")]
    if not any(items):
        raise SweepListError("the list of seeds is empty")
    out: list[int] = []
    for s in items:
        try:
            v = int(s)
        except ValueError:
            raise SweepListError(f"seed {s!r} is not a whole number") from None
        if not 0 <= v < 2**63:
            raise SweepListError(f"seed must be between 0 and 2^63-1, got {s}")
        if v in out:
            raise SweepListError(f"seed {s} is listed twice")
        out.append(v)
    return tuple(out)


__all__ = ["SweepListError", "parse_betas", "parse_seeds"]
