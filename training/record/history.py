"""Per-step loss history in growable numpy buffers, plus per-epoch test metrics."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

import numpy as np

from latent_explorer.training.metrics.evaluate import EvalMetrics


@dataclass
class EpochRecord:
    epoch: int
    step: int
    metrics: EvalMetrics

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "step": self.step, "metrics": self.metrics.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "EpochRecord":
        return cls(int(d["epoch"]), int(d["step"]), EvalMetrics.from_dict(d["metrics"]))


class History:
    """Step losses (reconstruction, KL, total), the β of each step (NaN where β was fixed: only
    a run trained to a target rate logs it) and epoch records; appends are amortised O(1)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._buf = np.full((4, max(capacity, 1)), np.nan, dtype=np.float32)
        self.n = 0
        self.epochs: list[EpochRecord] = []

    def reserve(self, extra: int) -> None:
        need = self.n + extra
        if need > self._buf.shape[1]:
            grown = np.full((4, need), np.nan, dtype=np.float32)
            grown[:, : self.n] = self._buf[:, : self.n]
            self._buf = grown

    def append(self, recon: float, kl: float, total: float, beta: float = math.nan) -> None:
        if self.n == self._buf.shape[1]:
            self.reserve(self.n)  # double
        self._buf[:, self.n] = (recon, kl, total, beta)
        self.n += 1

    def extend(self, recon: np.ndarray, kl: np.ndarray, total: np.ndarray,
               beta: np.ndarray | None = None) -> None:
        """Append many steps at once (1-D arrays of one length; beta None: NaN, a fixed β):
        what `append` does per step, in one slice assignment per row."""
        n = len(recon)
        if self.n + n > self._buf.shape[1]:
            self.reserve(max(n, self._buf.shape[1]))  # at least double: amortised O(1)
        rows = self._buf[:, self.n: self.n + n]
        rows[0], rows[1], rows[2] = recon, kl, total
        rows[3] = np.nan if beta is None else beta
        self.n += n

    def truncate(self, steps: int, epochs: int) -> None:
        """Keep the first `steps` steps and the records of epochs up to `epochs` (a run
        continued from an earlier checkpoint than its log reaches)."""
        self.n = min(self.n, max(int(steps), 0))
        self.epochs = [e for e in self.epochs if e.epoch <= epochs]

    def add_epoch(self, epoch: int, step: int, metrics: EvalMetrics) -> None:
        self.epochs.append(EpochRecord(epoch, step, metrics))

    @property
    def recon(self) -> np.ndarray:
        return self._buf[0, : self.n]

    @property
    def kl(self) -> np.ndarray:
        return self._buf[1, : self.n]

    @property
    def total(self) -> np.ndarray:
        return self._buf[2, : self.n]

    @property
    def beta(self) -> np.ndarray:
        """The β each step trained with (NaN where β was fixed)."""
        return self._buf[3, : self.n]

    @property
    def has_beta(self) -> bool:
        """Whether β was steered (a target-rate run): some step logged its β."""
        return bool(self.n) and bool(np.isfinite(self._buf[3, : self.n]).any())

    def __len__(self) -> int:
        return self.n

    @property
    def last_metrics(self) -> EvalMetrics | None:
        return self.epochs[-1].metrics if self.epochs else None

    @classmethod
    def from_arrays(cls, recon: np.ndarray, kl: np.ndarray, total: np.ndarray,
                    epochs: list[EpochRecord] | None = None,
                    beta: np.ndarray | None = None) -> "History":
        h = cls(len(total))
        h._buf[:3, : len(total)] = np.stack([recon, kl, total]).astype(np.float32)
        if beta is not None:
            h._buf[3, : len(total)] = np.asarray(beta, dtype=np.float32)
        h.n = len(total)
        h.epochs = list(epochs or [])
        return h

    def write_csv(self, path: str | os.PathLike) -> None:
        """One row per step: the three losses, and the test metrics on each epoch's last step;
        a run trained to a target rate adds the β of each step as a last column."""
        epochs = {e.step: e.metrics for e in self.epochs}
        with_beta = self.has_beta
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "recon", "kl", "total", "test_bce", "test_neg_elbo", "test_kl"]
                       + (["beta"] if with_beta else []))
            for i in range(self.n):
                m = epochs.get(i + 1)
                w.writerow([i + 1, f"{self.recon[i]:.6g}", f"{self.kl[i]:.6g}",
                            f"{self.total[i]:.6g}",
                            f"{m.bce:.6g}" if m else "",
                            f"{m.neg_elbo:.6g}" if m and m.neg_elbo is not None else "",
                            f"{m.kl:.6g}" if m and m.kl is not None else ""]
                           + ([f"{self.beta[i]:.6g}"] if with_beta else []))
