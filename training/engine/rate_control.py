"""Training to a target rate: β steered each step by a PI controller on a running mean of the KL.

ControlVAE (Shao et al., ICML 2020) sets β from a PI controller on the KL so that the KL settles
at a set point; Burgess et al. 2018 ("Understanding disentangling in β-VAE") steer the KL to a
target capacity instead. Here, per member:

    KL̄ₜ  = running mean of the batch KL (exponential, `EMA_STEPS` steps)
    eₜ   = log(KL̄ₜ / target)                    > 0: the rate is too high, raise β
    Iₜ   = Iₜ₋₁ + kᵢ·eₜ                          the integral term
    log βₜ = log β₀ + kₚ·eₜ + Iₜ,  clamped to [log β_min, log β_max]

The controller acts on log β: the β that gives 8 nats and the one that gives 40 are orders of
magnitude apart, and a log-ratio error makes one set of gains fit every target. Anti-windup by
clamping the integral: it never takes log β past a bound, so while β is held there it does not
grow, and it never has to unwind before β can move back. β at the lower
bound counts as 0 (an AE-like loss), at the upper one it is `BETA_MAX` (10: far past the β that
collapses every code of the course's models).

Qt-free and torch-free: numpy arrays with one entry per member.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BETA_MIN = 1e-6  # the lower bound of β; at it, β counts as 0
BETA_MAX = 10.0
EMA_STEPS = 50  # the running mean's horizon, in steps
KP = 0.2  # proportional gain on log(KL̄ / target)
KI = 0.01  # integral gain per step


@dataclass
class RateControlState:
    """One member's controller state: what exact resume saves and restores."""

    target: float
    log_beta0: float
    integral: float = 0.0
    kl_mean: float = math.nan  # NaN until the first step
    beta: float = math.nan

    def to_dict(self) -> dict:
        return {"target": self.target, "log_beta0": self.log_beta0, "integral": self.integral,
                "kl_mean": self.kl_mean, "beta": self.beta}

    @classmethod
    def from_dict(cls, d: dict) -> "RateControlState":
        state = cls(float(d["target"]), float(d["log_beta0"]), float(d["integral"]),
                    float(d["kl_mean"]), float(d["beta"]))
        if not (state.target > 0 and math.isfinite(state.log_beta0)
                and math.isfinite(state.integral)):
            raise ValueError("rate control state out of range")
        return state


def _log_beta(beta: float) -> float:
    return math.log(min(max(beta, BETA_MIN), BETA_MAX))


class RateControl:
    """PI control of β towards a target KL, for M members at once (NaN target: β fixed)."""

    def __init__(self, targets, betas, kp: float = KP, ki: float = KI,
                 ema_steps: int = EMA_STEPS) -> None:
        self.targets = np.array([math.nan if t is None else float(t) for t in targets])
        self.controlled = np.isfinite(self.targets)
        self.fixed = np.array([float(b) for b in betas])
        self.log_beta0 = np.array([_log_beta(b) for b in betas])
        self.integral = np.zeros(len(self.targets))
        self.kl_mean = np.full(len(self.targets), np.nan)
        self.kp, self.ki = kp, ki
        self.alpha = 1.0 / ema_steps
        self.lo, self.hi = math.log(BETA_MIN), math.log(BETA_MAX)
        self.betas = self.fixed.copy()  # the β of the next step

    @property
    def n_members(self) -> int:
        return len(self.targets)

    def update(self, kl: np.ndarray, active: np.ndarray) -> np.ndarray:
        """The β of every member for the next step, after a step whose batch KLs were `kl`."""
        on = self.controlled & active & np.isfinite(kl)
        if not on.any():
            return self.betas
        kl = np.asarray(kl, dtype=np.float64)
        first = on & np.isnan(self.kl_mean)
        self.kl_mean[first] = kl[first]
        rest = on & ~first
        self.kl_mean[rest] += self.alpha * (kl[rest] - self.kl_mean[rest])
        # A rate of 0 nats is a collapsed code: the log error is bounded rather than -inf.
        err = np.zeros_like(self.kl_mean)
        err[on] = np.log(np.maximum(self.kl_mean[on], 1e-3) / self.targets[on])
        base = self.log_beta0 + self.kp * err
        # Anti-windup: the integral is clamped so that log β lands on a bound, never past it,
        # so it cannot grow while β is held there.
        integral = np.clip(self.integral + self.ki * err, self.lo - base, self.hi - base)
        self.integral[on] = integral[on]
        u = np.clip(base + self.integral, self.lo, self.hi)
        new = np.where(u <= self.lo, 0.0, np.minimum(np.exp(u), BETA_MAX))
        self.betas = np.where(on, new, self.betas)
        return self.betas

    def member_state(self, m: int) -> RateControlState | None:
        if not self.controlled[m]:
            return None
        return RateControlState(float(self.targets[m]), float(self.log_beta0[m]),
                                float(self.integral[m]), float(self.kl_mean[m]),
                                float(self.betas[m]))

    def load_member(self, m: int, state: RateControlState) -> None:
        """Continue member m from a saved state (exact resume)."""
        self.targets[m], self.controlled[m] = state.target, True
        self.log_beta0[m], self.integral[m] = state.log_beta0, state.integral
        self.kl_mean[m] = state.kl_mean
        if math.isfinite(state.beta):
            self.betas[m] = state.beta


__all__ = ["BETA_MAX", "BETA_MIN", "RateControl", "RateControlState"]
