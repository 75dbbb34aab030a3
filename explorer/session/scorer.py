"""Figures measured after training, in one background thread: the IW bound and sample quality.

For every ended VAE/CVAE run the session asks `RunScorer.request(run)`. The worker, in its own
QThread, computes on a copy of the run's model (made in the GUI thread, so panels drawing the
run never share a module with it): the importance-weighted bound with `iw_k` samples, rate,
distortion and active latent dimensions (training/metrics/evaluate.py), then, with the judge of the
run's dataset (training/metrics/judge.py: trained once per dataset, or loaded from its cache), the
share of prior samples it reads as real digits. Each part comes back as it is ready
(`scored(run_id, token, measures)`): the bound within a second or two, the quality once the
judge exists. Nothing here runs in the GUI thread.

Threads: one long-lived worker on a WorkerThread (explorer/session/worker_thread.py) with no
start-up work: requests reach it as queued signals, in order. Closing: `shutdown()` sets a stop
flag (the judge's training and the bound's chunks check it), disconnects, and queues `release`
behind the request under way: the worker's `ended` then moves it back to the GUI thread and
quits the thread. It waits, bounded, before any quit(): a quit first would end the thread's
event loop before the queued release, leaving the worker in a dead thread. Never terminate().

This module imports torch: the window imports it only after it is visible.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

import torch
from PySide6.QtCore import QObject, Signal, Slot

from latent_explorer.explorer.session.worker_thread import WorkerThread
from latent_explorer.explorer.session.worker_threads import lower_worker_priority
from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.data.datasets import Dataset, Split
from latent_explorer.training.metrics.evaluate import importance_weighted_bound, rate_distortion
from latent_explorer.training.metrics.judge import Judge, JudgeCancelled, get_judge, sample_quality
from latent_explorer.training.record.run import Run
from latent_explorer.training.metrics.sweep_report import DEFAULT_IW_K

IW_CHUNK = 2000  # test images per bound call: a stop request waits at most one chunk
QUALITY_SAMPLES = 1000


@dataclass(frozen=True, eq=False)
class ScoreRequest:
    """Score this copy of a run's model on its dataset; `token` says which weights it was."""

    run_id: int
    token: int
    model: LatentModel
    dataset: Dataset


class ScoreWorker(QObject):
    """Lives in the scorer's thread; one request at a time, in the order they came."""

    scored = Signal(int, object, dict)  # run id, token, measures (a part of them)
    status = Signal(str)  # a line about the judge (training, ready, failed)
    ended = Signal()  # its last act: back to the GUI thread, and the thread quits (WorkerThread)

    def __init__(self, iw_k: int, stop: threading.Event,
                 idle: threading.Event | None = None) -> None:
        super().__init__()
        self.iw_k = iw_k
        self._stop = stop
        self._idle = idle  # set while no training job runs: scoring waits for it
        self._judges: dict[int, Judge] = {}  # id(dataset) -> its judge
        self._prepared = False

    def _wait_for_idle(self) -> bool:
        """Wait while a training job runs (it has the cores); False once stopping."""
        while self._idle is not None and not self._idle.is_set():
            if self._stop.is_set():
                return False
            self._idle.wait(0.2)  # wakes on set(); the timeout only re-checks the stop flag
        return not self._stop.is_set()

    @Slot()
    def release(self) -> None:
        """The scorer is shutting down: back to the GUI thread, and end this one."""
        self.ended.emit()

    @Slot(object)
    def score(self, req: ScoreRequest) -> None:
        if not self._wait_for_idle():
            return
        if not self._prepared:
            lower_worker_priority()
            torch.set_num_threads(1)  # small passes; leave the cores to training
            self._prepared = True
        try:
            self._score(req)
        except JudgeCancelled:
            return
        except Exception as e:  # noqa: BLE001 - a figure that cannot be measured is left blank
            self.scored.emit(req.run_id, req.token, {"error": f"{type(e).__name__}: {e}"})

    def _score(self, req: ScoreRequest) -> None:
        model, test = req.model, req.dataset.test
        if self.iw_k > 0 and len(test):
            bound = self._bound(model, test)
            if bound is None:
                return
            rd = rate_distortion(model, test)
            self.scored.emit(req.run_id, req.token, {
                "iw_bound": bound, "iw_k": self.iw_k, "rate": rd.rate,
                "distortion": rd.distortion, "active_dims": rd.active_dims})
        if not self._wait_for_idle():
            return
        judge = self._judge(req.dataset)
        if judge is None or not self._wait_for_idle():
            return
        s = sample_quality(model, judge, n=QUALITY_SAMPLES)
        self.scored.emit(req.run_id, req.token, {
            "quality": s.quality, "classes_seen": s.classes_seen, "asked_share": s.asked_share,
            "judge_accuracy": judge.test_accuracy, "judge_dataset": judge.dataset})

    def _bound(self, model: LatentModel, test: Split) -> float | None:
        """The bound over the test split in chunks (a stop request is seen between them); one
        chunk, and so the CLI's figure, for splits up to IW_CHUNK images."""
        total, n = 0.0, len(test)
        for i in range(0, n, IW_CHUNK):
            if not self._wait_for_idle():
                return None
            part = Split(test.images[i:i + IW_CHUNK], test.labels[i:i + IW_CHUNK])
            total += importance_weighted_bound(model, part, self.iw_k) * len(part)
        return total / n

    def _judge(self, ds: Dataset) -> Judge | None:
        judge = self._judges.get(id(ds))
        if judge is None:
            self.status.emit(f"judge: training on {ds.name} ({len(ds.train):,} images)…")
            judge = get_judge(ds, should_stop=self._stop.is_set)
            self._judges[id(ds)] = judge
            self.status.emit(f"judge: {judge.test_accuracy:.1%} test accuracy on {ds.name} "
                             f"({'cached' if judge.from_cache else f'trained in {judge.seconds:.0f} s'})")
        return judge


class RunScorer(QObject):
    """Owns the scorer's thread (started at the first request) and hands results back."""

    scored = Signal(int, object, dict)  # run id, token, measures (GUI thread)
    status = Signal(str)
    _requested = Signal(object)  # ScoreRequest, to the worker's thread
    _released = Signal()  # to the worker's thread: go back to the GUI thread and end it

    def __init__(self, iw_k: int = DEFAULT_IW_K, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.iw_k = iw_k
        self.status_text = ""
        self._stop = threading.Event()
        # Scoring yields to training: one training loop keeps both cores busy, and two torch
        # threads computing at once slow each other (and the judge's training) far more than
        # waiting does. Set while no training job runs (the session says so).
        self._idle = threading.Event()
        self._idle.set()
        self._thread: WorkerThread | None = None
        self._worker: ScoreWorker | None = None
        self._closed = False

    @staticmethod
    def token(run: Run) -> int:
        """Which weights a result belongs to: the model object (continuing replaces it)."""
        return id(run.model)

    @staticmethod
    def wants(run: Run) -> bool:
        return (run.model is not None and run.dataset is not None and not run.is_active
                and run.model.config.is_variational and len(run.history) + run.epochs_done > 0)

    def request(self, run: Run) -> bool:
        """Queue `run` for scoring (a copy of its model); False when it has nothing to score."""
        if self._closed or not self.wants(run):
            return False
        self._ensure_thread()
        model = copy.deepcopy(run.model)
        self._requested.emit(ScoreRequest(run.id, self.token(run), model, run.dataset))
        return True

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        worker = ScoreWorker(self.iw_k, self._stop, self._idle)
        # No `work` and no stop(): see the module docstring (shutdown waits before it quits).
        wt = WorkerThread(worker, "scorer", worker.ended)
        wt.connect(self._requested, worker.score)  # queued: the worker lives in the thread
        wt.connect(worker.scored, self._on_worker_scored)
        wt.connect(worker.status, self._on_worker_status)
        self._released.connect(worker.release)  # queued: its last call in its thread
        self._thread, self._worker = wt, worker
        wt.start()

    @Slot(int, object, dict)
    def _on_worker_scored(self, run_id: int, token: int, measures: dict) -> None:
        if not self._closed:
            self.scored.emit(run_id, token, measures)

    @Slot(str)
    def _on_worker_status(self, text: str) -> None:
        if not self._closed:
            self.status_text = text
            self.status.emit(text)

    def set_training(self, training: bool) -> None:
        """A training job runs (scoring waits between its chunks) or none does (it goes on)."""
        if training:
            self._idle.clear()
        else:
            self._idle.set()

    @property
    def worker(self) -> ScoreWorker | None:
        """The worker, from its first request until shutdown."""
        return self._worker

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_running

    def request_stop(self) -> None:
        """Ask the worker to stop at its next check, without waiting (see `shutdown`)."""
        self._closed = True
        self._stop.set()
        self._idle.set()  # wake a waiting worker so it sees the stop

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop, disconnect, quit, bounded wait; True when the thread has ended."""
        self.request_stop()
        wt = self._thread
        if wt is None:
            return True
        wt.disconnect()
        self._released.emit()  # after the request it is on, if any: it stops at its next check
        try:  # no quit() yet: it would end the event loop before the queued release
            done = wt.is_finished or wt.thread.wait(timeout_ms)
        except RuntimeError:  # the C++ QThread is deleted: it had finished
            done = True
        if not done:
            done = wt.wait(100)  # it never reached the release: quit its loop at least
        if done:
            self._worker = None  # dropped here, in the GUI thread, where it now lives
        return done


__all__ = ["IW_CHUNK", "RunScorer", "ScoreRequest", "ScoreWorker"]
