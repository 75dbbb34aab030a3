"""Per-step loss history in growable numpy buffers, plus per-epoch test metrics."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from training.metrics.evaluate import EvalMetrics


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
    """Step losses (reconstruction, KL, total) and epoch records; appends are amortised O(1)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._buf = np.zeros((3, max(capacity, 1)), dtype=np.float32)
        self.n = 0
        self.epochs: list[EpochRecord] = []

    def reserve(self, extra: int) -> None:
        need = self.n + extra
        if need > self._buf.shape[1]:
            grown = np.zeros((3, need), dtype=np.float32)
            grown[:, : self.n] = self._buf[:, : self.n]
            self._buf = grown

    def append(self, recon: float, kl: float, total: float) -> None:
        if self.n == self._buf.shape[1]:
            self.reserve(self.n)  # double
        self._buf[:, self.n] = (recon, kl, total)
        self.n += 1

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

    def __len__(self) -> int:
        return self.n

    @property
    def last_metrics(self) -> EvalMetrics | None:
        return self.epochs[-1].metrics if self.epochs else None

    @classmethod
    def from_arrays(cls, recon: np.ndarray, kl: np.ndarray, total: np.ndarray,
                    epochs: list[EpochRecord] | None = None) -> "History":
        h = cls(len(total))
        h._buf[:, : len(total)] = np.stack([recon, kl, total]).astype(np.float32)
        h.n = len(total)
        h.epochs = list(epochs or [])
        return h

    def write_csv(self, path: str | os.PathLike) -> None:
        """One row per step: the three losses, and the test metrics on each epoch's last step."""
        epochs = {e.step: e.metrics for e in self.epochs}
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "recon", "kl", "total", "test_bce", "test_neg_elbo", "test_kl"])
            for i in range(self.n):
                m = epochs.get(i + 1)
                w.writerow([i + 1, f"{self.recon[i]:.6g}", f"{self.kl[i]:.6g}",
                            f"{self.total[i]:.6g}",
                            f"{m.bce:.6g}" if m else "",
                            f"{m.neg_elbo:.6g}" if m and m.neg_elbo is not None else "",
                            f"{m.kl:.6g}" if m and m.kl is not None else ""])
