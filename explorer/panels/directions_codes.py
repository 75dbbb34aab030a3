"""The test split's codes and their principal directions for the Directions tab, made off the
GUI thread.

Encoding 10,000 test images and their PCA takes longer than a frame (0.11 s for a (64, 32) MLP
with nz = 8, 0.27 s for (512, 256) with nz = 32, on one core of this 2-core machine), so `CodesMaker.make(run)` does it in a worker thread
(explorer/session/worker_thread.py, one QThread per job) and reports `ready(TestCodes)` or
`failed(str)`; a newer request supersedes an older one, whose result is dropped. Codes are kept
per run and training step (`TestCodes.key`): asking again for the same weights answers at once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from latent_explorer.explorer.session.worker_thread import WorkerThread
from latent_explorer.training.explore.directions import PrincipalDirections, principal_directions

MAX_COMPONENTS = 10  # principal directions offered as sliders (GANSpace shows the top few)


@dataclass(frozen=True)
class TestCodes:
    """A run's test split encoded: posterior means (N, D) float64, labels (N,), their PCA."""

    run_id: int
    key: tuple
    codes: np.ndarray
    labels: np.ndarray
    pcs: PrincipalDirections | None  # None: fewer than 2 codes


def codes_key(run) -> tuple:
    """What the codes depend on: the weights (a training snapshot is a new model) and the data."""
    return (run.id, len(run.history), id(run.model), id(run.dataset.test))


def make_codes(run) -> TestCodes:
    """Encode `run`'s test split (posterior means; a CVAE's with the true labels) and take the
    principal directions of the aggregate posterior's means (training/explore/directions.py)."""
    from latent_explorer.training.explore import panel_math as explore

    enc = explore.encode_split(run.model, run.dataset.test)
    codes = enc.means.numpy().astype(np.float64)
    pcs = principal_directions(codes, MAX_COMPONENTS) if len(codes) >= 2 else None
    return TestCodes(run.id, codes_key(run), codes, np.asarray(enc.labels, np.int64), pcs)


class _Job(QObject):
    """One encoding in a worker thread."""

    done = Signal(int, object)  # job id, TestCodes
    failed = Signal(int, str)
    ended = Signal()  # always last (WorkerThread moves the job back and quits the thread)

    def __init__(self, job_id: int, run) -> None:
        super().__init__()
        self.job_id, self.run = job_id, run

    @Slot()
    def work(self) -> None:
        from latent_explorer.explorer.session.worker_threads import lower_worker_priority

        lower_worker_priority()  # the GUI thread gets the CPU when it wants it
        try:
            result = make_codes(self.run)
        except Exception as e:  # noqa: BLE001 - said in the tab, not raised in a thread
            self.failed.emit(self.job_id, f"{type(e).__name__}: {e}")
        else:
            self.done.emit(self.job_id, result)
        self.run = None  # the thread holds no run once done
        self.ended.emit()


class CodesMaker(QObject):
    """Test codes per run, made in the background; the latest request wins."""

    ready = Signal(object)  # TestCodes
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._current: int | None = None  # the job whose result counts
        self._jobs: list[WorkerThread] = []
        self._done: TestCodes | None = None  # the last codes made (one run's: N × nz floats)
        self._closed = False

    @property
    def is_busy(self) -> bool:
        return self._current is not None

    def cached(self, run) -> TestCodes | None:
        """The codes of `run`'s current weights, if made already."""
        d = self._done
        return d if d is not None and d.key == codes_key(run) else None

    def make(self, run) -> TestCodes | None:
        """The codes at once when cached; else None, and `ready` follows from a worker thread."""
        if self._closed:
            return None
        if (found := self.cached(run)) is not None:
            self._current = None
            return found
        self._current = next(self._ids)
        self._jobs = [j for j in self._jobs if j.is_running]
        job = _Job(self._current, run)
        thread = WorkerThread(job, "directions-codes", job.ended, work=job.work)
        thread.connect(job.done, self._on_done)
        thread.connect(job.failed, self._on_failed)
        self._jobs.append(thread)
        thread.start()
        return None

    def forget(self) -> None:
        """Drop the result of the job under way (the run went away)."""
        self._current = None

    @Slot(int, object)
    def _on_done(self, job_id: int, result: TestCodes) -> None:
        if job_id != self._current or self._closed:
            return
        self._current = None
        self._done = result
        self.ready.emit(result)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        if job_id != self._current or self._closed:
            return
        self._current = None
        self.failed.emit(message)

    @property
    def is_running(self) -> bool:
        return any(j.is_running for j in self._jobs)

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Drop late results and wait (bounded) for the threads; True when all ended."""
        self._closed = True
        self._current = None
        ok = True
        for j in self._jobs:
            ok = j.stop(timeout_ms) and ok
        return ok


__all__ = ["MAX_COMPONENTS", "CodesMaker", "TestCodes", "codes_key", "make_codes"]
