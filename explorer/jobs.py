"""Training jobs in background QThreads, one at a time, and a shared in-memory dataset cache.

Queue policy: the machine this app targets has few cores and one training loop already keeps
them busy, so jobs run one after another. A new job waits in state "queued"; stopping a queued
job just takes it out of the queue ("stopped", no model). A paused job keeps its slot.

Threading (superqt's `new_worker_qthread` shape): each job has one `TrainingWorker`, moved to
its own `QThread`; `thread.started` runs the work; the worker's `finished` quits the thread and
`deleteLater`s the worker; the thread's `finished` `deleteLater`s the thread. The worker is also
the engine's `TrainingObserver`: the `Trainer` calls its hooks in the worker thread and it turns
them into Qt signals, which Qt queues to the GUI thread. The worker never touches a widget.
Pause and stop go straight to the `Trainer`, whose controls are thread-safe Events.

This module imports torch: the window imports it only after it is visible.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QObject, QThread, Qt, Signal, Slot

from models.autoencoders import LatentModel
from training.data import DataError, Dataset, load_dataset
from training.device import describe_device
from training.loop import EpochEvent, StepsEvent, TrainConfig, Trainer, TrainingObserver, TrainResult
from training.render import make_grid
from training.run import Run

# Torch threads. libgomp gives each thread that starts a parallel region its own team, but
# once the GUI thread has run a multi-threaded torch op, a team started by a worker thread gets
# no extra threads on a 2-core machine: the worker's matmuls ran at one-thread speed (0.84 s vs
# 0.48 s for 3,000 784x256 matmuls here). So the GUI thread is held to GUI_TORCH_THREADS = 1
# before it runs any torch op (panels do small forward passes there), and each training worker
# sets its own count, torch's default (all cores) unless WORKER_TORCH_THREADS says otherwise.
# benchmarks/gui_responsiveness.py measures both worker settings against headless training.
# LATENT_EXPLORER_WORKER_THREADS=<n> overrides it (0 = torch's default), for benchmarking.
def _env_count(name: str, default: int) -> int:
    """A whole number >= 0 from the environment (benchmark overrides), else `default`."""
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


DEFAULT_TORCH_THREADS = torch.get_num_threads()  # read before anyone lowers it
GUI_TORCH_THREADS = 1
WORKER_TORCH_THREADS: int | None = _env_count("LATENT_EXPLORER_WORKER_THREADS", 0) or None


def limit_gui_thread_torch() -> None:
    """Call in the GUI thread before its first torch op (see GUI_TORCH_THREADS)."""
    torch.set_num_threads(GUI_TORCH_THREADS)


# CPU priority. Training keeps every core busy (its OpenMP threads spin between kernels), so
# without help the GUI thread shares a core with them and a 25 ms repaint stalls the event loop
# for 40-70 ms (p99 timer lateness over 50 ms in 3 of 6 benchmark runs; 24-42 ms in 5 of 5
# with nice 5 and the GIL switch interval of explorer/app.py).
# Workers run WORKER_NICE steps nicer than the GUI thread: the GUI gets the CPU when it needs
# it, and training still gets all of it the rest of the time. On Linux nice values are per
# thread and the OpenMP threads a worker starts inherit its value; elsewhere Qt's LowPriority.
WORKER_NICE = _env_count("LATENT_EXPLORER_WORKER_NICE", 5)


def lower_worker_priority() -> None:
    """Make the calling worker thread, and the threads it starts later, yield to the GUI."""
    if WORKER_NICE <= 0:
        return
    if sys.platform.startswith("linux"):
        tid = threading.get_native_id()
        try:
            now = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, now + WORKER_NICE))
        except OSError:  # not allowed here: train at normal priority
            pass
    else:
        QThread.currentThread().setPriority(QThread.Priority.LowPriority)


# Step losses cross to the GUI 10 times a second: the plots redraw at most 5 times a second,
# and every delivery runs Python on the GUI thread, which competes for the GIL with training.
STEPS_INTERVAL_S = 0.1
RECON_INTERVAL_S = 3.0  # the live reconstruction strip: every epoch end, or this often
RECON_COUNT = 10  # one fixed test image per class where the test set has them

ACTIVE_STATES = ("queued", "running", "paused")


class DatasetCache:
    """Datasets loaded once per (source, data_dir) and shared by runs; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str | None], Dataset] = {}

    @staticmethod
    def key(source: str, data_dir: str | None) -> tuple[str, str | None]:
        return (source, os.path.abspath(os.path.expanduser(data_dir)) if data_dir else None)

    def put(self, source: str, data_dir: str | None, dataset: Dataset) -> None:
        with self._lock:
            self._data[self.key(source, data_dir)] = dataset

    def peek(self, source: str, data_dir: str | None = None) -> Dataset | None:
        with self._lock:
            return self._data.get(self.key(source, data_dir))

    def get(self, source: str, data_dir: str | None = None, notify=None,
            allow_download: bool = True) -> Dataset:
        """The cached dataset, loading it (in the calling thread) the first time."""
        k = self.key(source, data_dir)
        # One lock around the load: two jobs on the same data never read it twice.
        with self._lock:
            ds = self._data.get(k)
            if ds is None:
                ds = load_dataset(source, data_dir, notify=notify, allow_download=allow_download)
                self._data[k] = ds
            return ds


@dataclass(frozen=True)
class Progress:
    """Where a running job is, for its progress bar."""

    epoch: int
    epochs: int
    step: int
    total_steps: int
    steps_per_second: float
    eta_seconds: float

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    def text(self, short: bool = False) -> str:
        eta = self.eta_seconds
        eta_s = "--" if not np.isfinite(eta) else _hms(eta)
        if short:
            return f"epoch {self.epoch}/{self.epochs} · ETA {eta_s}"
        return (f"epoch {self.epoch}/{self.epochs} · step {self.step:,}/{self.total_steps:,} · "
                f"{self.steps_per_second:,.0f}/s · ETA {eta_s}")


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fixed_test_indices(labels: np.ndarray, count: int = RECON_COUNT) -> np.ndarray:
    """The first test image of each class (then the next ones), so the strip is stable."""
    picked: list[int] = []
    for c in range(10):
        hits = np.flatnonzero(labels == c)
        if len(hits):
            picked.append(int(hits[0]))
    for i in range(len(labels)):
        if len(picked) >= count:
            break
        if i not in picked:
            picked.append(i)
    return np.array(sorted(picked[:count], key=lambda i: (labels[i], i)), dtype=np.int64)


def reconstruction_grid(model, dataset: Dataset, indices: np.ndarray) -> np.ndarray:
    """Originals above their reconstructions, tiled with training.render.make_grid."""
    idx = torch.from_numpy(indices)
    x = dataset.test.float_images(idx)
    y = dataset.test.labels[idx] if model.config.is_conditional else None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            rec = model.reconstruct(x.to(model.device), y).cpu()
    finally:
        model.train(was_training)
    return make_grid(torch.cat([x, rec]), ncols=len(indices))


class TrainingWorker(QObject, TrainingObserver):
    """Runs one Trainer in its thread and reports through signals; it is the Trainer's observer."""

    dataset_loaded = Signal(object)  # Dataset
    train_started = Signal(str)  # device description
    steps_arrived = Signal(object)  # StepsEvent (its arrays are copies: safe to pass)
    epoch_ended = Signal(object)  # EpochEvent
    reconstructions_ready = Signal(object, str)  # grid (H, W) float32 in [0, 1], caption
    message_posted = Signal(str)
    train_ended = Signal(object)  # TrainResult, or None when the loop never ran
    errored = Signal(str)  # a failure before the loop ran (data, device)
    finished = Signal()  # always last

    def __init__(self, config: TrainConfig, datasets: DatasetCache,
                 dataset: Dataset | None = None) -> None:
        super().__init__()
        self.config = config
        self._datasets = datasets
        self._dataset = dataset
        self._trainer: Trainer | None = None
        self._lock = threading.Lock()  # orders pause/stop from the GUI against Trainer creation
        self._stop_requested = False
        self._paused = False
        self._last_recon = 0.0
        self._recon_idx: np.ndarray | None = None

    # -- control, from any thread ----------------------------------------------------------------
    def request_stop(self) -> None:
        with self._lock:
            self._stop_requested = True
            if self._trainer is not None:
                self._trainer.request_stop()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            if self._trainer is not None:
                self._trainer.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            if self._trainer is not None:
                self._trainer.resume()

    # -- the work, in the worker thread ----------------------------------------------------------
    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - before the loop (data, device): failed, reported
            msg = str(e) if isinstance(e, (DataError, ValueError)) else f"{type(e).__name__}: {e}"
            self.errored.emit(msg or type(e).__name__)
            self.train_ended.emit(None)
        finally:
            self.finished.emit()

    def _run(self) -> None:
        lower_worker_priority()  # before torch starts this thread's OpenMP team, which inherits it
        # Per thread for OpenMP: this worker's count, whatever the GUI thread uses.
        torch.set_num_threads(WORKER_TORCH_THREADS or DEFAULT_TORCH_THREADS)
        cfg = self.config
        ds = self._dataset or self._datasets.get(cfg.dataset, cfg.data_dir,
                                                 notify=self.message_posted.emit)
        self._dataset = ds
        self.dataset_loaded.emit(ds)
        with self._lock:
            if self._stop_requested:
                self.train_ended.emit(None)
                return
            trainer = Trainer(cfg, ds, observers=[self], notify_interval=STEPS_INTERVAL_S)
            self._trainer = trainer
            if self._paused:
                trainer.pause()
        self._recon_idx = fixed_test_indices(ds.test.labels.numpy())
        trainer.run()  # never raises: failures come back as a 'failed' TrainResult

    # -- TrainingObserver hooks (called by the Trainer, in the worker thread) --------------------
    def on_train_start(self, trainer: Trainer) -> None:
        self.train_started.emit(describe_device(trainer.device))
        self._emit_reconstructions(trainer.model, "before training")

    def on_steps(self, event: StepsEvent) -> None:
        self.steps_arrived.emit(event)  # already ≤ 30 per second: the Trainer batches them
        if time.monotonic() - self._last_recon >= RECON_INTERVAL_S and self._trainer is not None:
            self._emit_reconstructions(self._trainer.model,
                                       f"epoch {event.epoch}, step {event.last_step + 1:,}")

    def on_epoch_end(self, event: EpochEvent) -> None:
        self.epoch_ended.emit(event)
        if self._trainer is not None:
            self._emit_reconstructions(self._trainer.model, f"after epoch {event.epoch}")

    def on_train_end(self, result: TrainResult) -> None:
        self.train_ended.emit(result)

    def _emit_reconstructions(self, model: LatentModel, caption: str) -> None:
        self._last_recon = time.monotonic()
        if self._dataset is None or self._recon_idx is None:
            return
        try:
            grid = reconstruction_grid(model, self._dataset, self._recon_idx)
        except Exception:  # noqa: BLE001 - a preview must never break training
            return
        self.reconstructions_ready.emit(grid, caption)


class Job(QObject):
    """One run's training: its worker, its thread and its state; re-emits in the GUI thread."""

    state_changed = Signal(object)  # Job
    dataset_loaded = Signal(object, object)  # Job, Dataset
    started = Signal(object, str)  # Job, device description
    steps_arrived = Signal(object, object)  # Job, StepsEvent
    epoch_ended = Signal(object, object)  # Job, EpochEvent
    reconstructions_ready = Signal(object, object, str)  # Job, grid, caption
    message_posted = Signal(object, str)  # Job, message
    ended = Signal(object, object)  # Job, TrainResult or None
    finished = Signal(object)  # Job, once its thread has finished

    def __init__(self, run: Run, datasets: DatasetCache, dataset: Dataset | None = None) -> None:
        super().__init__()
        self.run = run
        self.worker = TrainingWorker(run.config, datasets, dataset)
        self.thread: QThread | None = None
        self.progress: Progress | None = None
        self.is_finished = False
        self._cleaned_up = False  # after disconnect_worker: late events are dropped
        w = self.worker
        # Bound slots of this GUI-thread object: Qt queues the worker's emissions to them.
        w.dataset_loaded.connect(self._on_worker_dataset_loaded)
        w.train_started.connect(self._on_worker_train_started)
        w.steps_arrived.connect(self._on_worker_steps_arrived)
        w.epoch_ended.connect(self._on_worker_epoch_ended)
        w.reconstructions_ready.connect(self._on_worker_reconstructions_ready)
        w.message_posted.connect(self._on_worker_message_posted)
        w.errored.connect(self._on_worker_errored)
        w.train_ended.connect(self._on_worker_train_ended)

    @property
    def state(self) -> str:
        return self.run.state

    @property
    def is_active(self) -> bool:
        return self.run.state in ACTIVE_STATES

    @property
    def is_alive(self) -> bool:
        """True while the job is queued or its thread has not finished."""
        return self.is_active or (self.thread is not None and not self.is_finished)

    def _set_state(self, state: str) -> None:
        if self.run.state != state:
            self.run.state = state
            self.state_changed.emit(self)

    def start(self) -> None:
        """Move the worker to a new thread and run it."""
        thread = QThread()
        thread.setObjectName(f"training job {self.run.id}")
        self.thread = thread
        w = self.worker
        w.moveToThread(thread)
        thread.started.connect(w.run)
        # Direct: quit() is thread-safe, and it reaches the thread even while the GUI thread is
        # blocked in wait() on close.
        w.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        w.finished.connect(w.deleteLater)
        thread.finished.connect(self._on_thread_finished)
        thread.finished.connect(thread.deleteLater)
        self._set_state("running")
        thread.start()

    def pause(self) -> None:
        if self.run.state == "running":
            self.worker.pause()
            self._set_state("paused")

    def resume(self) -> None:
        if self.run.state == "paused":
            self.worker.resume()
            self._set_state("running")

    def request_stop(self) -> None:
        self.worker.request_stop()

    def mark_ended(self, state: str) -> None:
        self._set_state(state)

    def disconnect_worker(self) -> None:
        """Drop this job's slots on the worker's signals (close: no late event reaches widgets)."""
        self._cleaned_up = True
        w = self.worker
        pairs = ((w.dataset_loaded, self._on_worker_dataset_loaded),
                 (w.train_started, self._on_worker_train_started),
                 (w.steps_arrived, self._on_worker_steps_arrived),
                 (w.epoch_ended, self._on_worker_epoch_ended),
                 (w.reconstructions_ready, self._on_worker_reconstructions_ready),
                 (w.message_posted, self._on_worker_message_posted),
                 (w.errored, self._on_worker_errored),
                 (w.train_ended, self._on_worker_train_ended))
        for sig, slot in pairs:
            try:
                sig.disconnect(slot)
            except (RuntimeError, TypeError):
                pass

    def wait(self, ms: int) -> bool:
        """quit() and a bounded wait(); True when the thread is finished. Never terminate()."""
        if self.thread is None or self.is_finished:
            return True
        try:
            self.thread.quit()
            done = self.thread.wait(ms)
        except RuntimeError:  # the C++ QThread is already deleted: it had finished
            return True
        if done:
            self.is_finished = True
        return done

    # -- slots (GUI thread) ----------------------------------------------------------------------
    @Slot(object)
    def _on_worker_dataset_loaded(self, ds: Dataset) -> None:
        if not self._cleaned_up:
            self.run.dataset = ds
            self.dataset_loaded.emit(self, ds)

    @Slot(str)
    def _on_worker_train_started(self, device: str) -> None:
        if not self._cleaned_up:
            self.started.emit(self, device)

    @Slot(object)
    def _on_worker_steps_arrived(self, ev: StepsEvent) -> None:
        if self._cleaned_up:
            return
        self.progress = Progress(ev.epoch, self.run.config.epochs, ev.last_step + 1,
                                 ev.total_steps, ev.steps_per_second, ev.eta_seconds)
        self.steps_arrived.emit(self, ev)

    @Slot(object)
    def _on_worker_epoch_ended(self, ev: EpochEvent) -> None:
        if not self._cleaned_up:
            self.run.history.add_epoch(ev.epoch, ev.step, ev.metrics)
            self.run.metrics = ev.metrics
            self.epoch_ended.emit(self, ev)

    @Slot(object, str)
    def _on_worker_reconstructions_ready(self, grid: np.ndarray, caption: str) -> None:
        if not self._cleaned_up:
            self.reconstructions_ready.emit(self, grid, caption)

    @Slot(str)
    def _on_worker_message_posted(self, message: str) -> None:
        if not self._cleaned_up:
            self.message_posted.emit(self, message)

    @Slot(str)
    def _on_worker_errored(self, message: str) -> None:
        self.run.error = message

    @Slot(object)
    def _on_worker_train_ended(self, result: TrainResult | None) -> None:
        if self._cleaned_up:
            return
        run = self.run
        if result is None:
            state = "failed" if run.error else "stopped"
        else:
            state = result.state
            run.model = result.model
            run.history = result.history
            run.metrics = result.metrics
            run.error = result.error
        if self.progress is not None:
            p = self.progress
            self.progress = Progress(p.epoch, p.epochs, p.step, p.total_steps, 0.0, float("nan"))
        self._set_state(state)
        self.ended.emit(self, result)

    @Slot()
    def _on_thread_finished(self) -> None:
        self.is_finished = True
        self.finished.emit(self)


class JobQueue(QObject):
    """Runs jobs one at a time (see the module docstring) and forwards their events."""

    job_added = Signal(object)  # Job
    job_state_changed = Signal(object)  # Job
    job_dataset_loaded = Signal(object, object)  # Job, Dataset
    job_started = Signal(object, str)  # Job, device description
    job_steps_arrived = Signal(object, object)  # Job, StepsEvent
    job_epoch_ended = Signal(object, object)  # Job, EpochEvent
    job_reconstructions_ready = Signal(object, object, str)  # Job, grid, caption
    job_message_posted = Signal(object, str)  # Job, message
    job_ended = Signal(object, object)  # Job, TrainResult or None; its state says how
    job_finished = Signal(object)  # Job, after its thread finished (or when dequeued)

    def __init__(self, datasets: DatasetCache | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.datasets = datasets or DatasetCache()
        self.jobs: list[Job] = []  # queued and running ones; a job leaves when it is over
        self._shutting_down = False

    # -- queries ---------------------------------------------------------------------------------
    def job_for(self, run: Run | None) -> Job | None:
        return next((j for j in self.jobs if j.run is run), None)

    @property
    def current(self) -> Job | None:
        """The job holding the training slot (running, paused, or its thread still ending)."""
        return next((j for j in self.jobs if j.thread is not None and not j.is_finished), None)

    @property
    def has_active(self) -> bool:
        return any(j.is_alive for j in self.jobs)

    # -- control ---------------------------------------------------------------------------------
    def submit(self, run: Run, dataset: Dataset | None = None) -> Job:
        """Queue a run; it starts at once when nothing else is training."""
        run.state = "queued"
        job = Job(run, self.datasets, dataset)
        job.state_changed.connect(self.job_state_changed)
        job.dataset_loaded.connect(self.job_dataset_loaded)
        job.started.connect(self.job_started)
        job.steps_arrived.connect(self.job_steps_arrived)
        job.epoch_ended.connect(self.job_epoch_ended)
        job.reconstructions_ready.connect(self.job_reconstructions_ready)
        job.message_posted.connect(self.job_message_posted)
        job.ended.connect(self.job_ended)
        job.finished.connect(self._on_job_finished)
        self.jobs.append(job)
        self.job_added.emit(job)
        self._start_next()
        return job

    def pause(self, run: Run) -> None:
        if (job := self.job_for(run)) is not None:
            job.pause()

    def resume(self, run: Run) -> None:
        if (job := self.job_for(run)) is not None:
            job.resume()

    def stop(self, run: Run) -> None:
        """Stop a running or paused job at its next batch; take a queued one out of the queue."""
        job = self.job_for(run)
        if job is None:
            return
        if job.state == "queued":
            self.jobs.remove(job)
            job.mark_ended("stopped")
            self.job_ended.emit(job, None)
            self.job_finished.emit(job)
        elif job.state in ("running", "paused"):
            job.request_stop()

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop for good: request stop, disconnect, quit, bounded wait. True when all ended."""
        self._shutting_down = True
        for job in [j for j in self.jobs if j.state == "queued"]:
            self.jobs.remove(job)
            job.mark_ended("stopped")
        running = [j for j in self.jobs if j.thread is not None and not j.is_finished]
        for job in running:
            job.request_stop()
        for job in running:
            job.disconnect_worker()
            try:
                job.finished.disconnect(self._on_job_finished)
            except (RuntimeError, TypeError):
                pass
        deadline = time.monotonic() + timeout_ms / 1000
        clean = True
        for job in running:
            if job.wait(max(1, int((deadline - time.monotonic()) * 1000))):
                if job.is_active:
                    job.mark_ended("stopped")
                if job in self.jobs:
                    self.jobs.remove(job)
            else:
                clean = False
                _orphans.append(job)  # keep it referenced: a running QThread is never destroyed
        return clean

    # -- internals -------------------------------------------------------------------------------
    def _start_next(self) -> None:
        if self._shutting_down or self.current is not None:
            return
        job = next((j for j in self.jobs if j.state == "queued"), None)
        if job is not None:
            job.start()

    @Slot(object)
    def _on_job_finished(self, job: Job) -> None:
        if job.is_active:  # the thread ended without a result: say so rather than hang
            job.run.error = job.run.error or "the training thread ended unexpectedly"
            job.mark_ended("failed")
            self.job_ended.emit(job, None)
        if job in self.jobs:
            self.jobs.remove(job)
        self.job_finished.emit(job)
        self._start_next()


_orphans: list[Job] = []  # jobs whose thread outlived shutdown's bounded wait


def wait_for_orphans(timeout_ms: int = 10_000) -> bool:
    """After the window has closed: give threads that missed the bounded wait a last chance."""
    return all([job.wait(timeout_ms) for job in list(_orphans)])


class DatasetLoader(QObject):
    """Loads one dataset in a QThread (for loaded checkpoints); never raises, reports instead."""

    loaded = Signal(object, object, str)  # token, Dataset or None, a status message ('' if none)
    finished = Signal()

    def __init__(self, datasets: DatasetCache, candidates: list[tuple[str, str | None]],
                 fallback: str = "mnist-sample", token: object = None) -> None:
        super().__init__()
        self.token = token  # handed back with the result (the run it is for)
        self._datasets = datasets
        self._candidates = candidates
        self._fallback = fallback
        self.thread: QThread | None = None

    @Slot()
    def run(self) -> None:
        """Try each (source, data_dir) without downloading; else the fallback, saying why."""
        notes: list[str] = []
        ds = None
        try:
            for source, data_dir in self._candidates:
                try:
                    ds = self._datasets.get(source, data_dir, notify=notes.append,
                                            allow_download=False)
                    break
                except (DataError, OSError, ValueError) as e:
                    notes.append(str(e))
            if ds is None:
                ds = self._datasets.get(self._fallback, None)
                tried = ", ".join(d or s for s, d in self._candidates) or "none recorded"
                notes.append(f"the run's dataset ({tried}) is not available; showing it on "
                             f"{ds.name} instead")
        except Exception as e:  # noqa: BLE001 - even the fallback failed: say so, keep going
            notes.append(f"no dataset could be loaded ({e})")
        self.loaded.emit(self.token, ds, " ".join(notes))
        self.finished.emit()

    def start(self) -> None:
        thread = QThread()
        self.thread = thread
        self.moveToThread(thread)
        thread.started.connect(self.run)
        self.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(thread.deleteLater)
        thread.start()

    @property
    def is_finished(self) -> bool:
        try:
            return self.thread is None or self.thread.isFinished()
        except RuntimeError:  # deleted after it finished
            return True

    def wait(self, ms: int) -> bool:
        """quit() and a bounded wait(); True when the thread is finished."""
        if self.is_finished:
            return True
        try:
            self.thread.quit()
            return self.thread.wait(ms)
        except RuntimeError:
            return True
