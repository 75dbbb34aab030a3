"""Training jobs in background QThreads, one at a time, each reporting through one event stream.

Queue policy: the machine this app targets has few cores and one training loop already keeps
them busy, so jobs run one after another. A new job waits in state "queued"; cancelling a
queued job just takes it out of the queue ("stopped", no model). A paused job keeps its slot.

Threading (superqt's `new_worker_qthread` shape, explorer/session/worker_thread.py): each job
has one worker, moved to its own `QThread`; `thread.started` runs the work; the worker's
`finished` moves it back to the GUI thread and quits the thread (the worker is then dropped with
its job, in the GUI thread); the thread's `finished` `deleteLater`s the thread. The worker is the
engine's observer: the loop calls its hooks in the worker thread and it emits each as one
frozen event (explorer/session/job_events.py) through its single `event` signal, which Qt queues to the
GUI thread. There the job maps the event onto its run(s) as (run, event) pairs, hands each to
its owner (the session's one writer of runs, explorer/session/run_owner.py) and re-emits it as
`event(run, ev)`; the queue forwards that signal as it is. No job writes a Run. The worker never touches a widget. Pause and stop go
straight to the loop, whose controls are thread-safe Events.

One worker and one `Job` serve every loop: a single run is a loop of one member, a β sweep a
loop of M members, and the job maps member m's events onto runs[m]. `TrainingJob` and
`SweepJob` only say which runs and which config; `ContinueJob` trains an ended run further:
the same worker, given a Trainer made by `Trainer.from_checkpoint` from copies of the run's
parts.

This module imports torch: the window imports it only after it is visible.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from latent_explorer.explorer.session.datasets import DatasetCache
from latent_explorer.explorer.session.job_events import (
    DatasetLoaded,
    EpochEvent,
    MemberEvent,
    MemberFailedEvent,
    MessagePosted,
    ReconstructionsReady,
    ResultReady,
    RunConfigured,
    SnapshotRecorded,
    StateChanged,
    StepsEvent,
    TrainingEnded,
    TrainingStarted,
    WeightsDiscarded,
    WeightsSnapshot,
)
from latent_explorer.explorer.session.run_owner import apply_event
from latent_explorer.explorer.session.worker_thread import WorkerThread
from latent_explorer.explorer.session.worker_threads import prepare_worker_thread
from latent_explorer.training.data.datasets import DataError, Dataset
from latent_explorer.training.engine.device import describe_device
from latent_explorer.training.engine.eta import EtaEstimator, eta_text, evaluations_left
from latent_explorer.training.engine.events import LoopResult, Observer, SnapshotEvent
from latent_explorer.training.engine.loop import Loop, TrainConfig, Trainer
from latent_explorer.training.engine.sweep import SweepConfig, SweepTrainer
from latent_explorer.training.explore.panel_math import fixed_test_indices, reconstruction_grid
from latent_explorer.training.record.run import Run, RunState
from latent_explorer.training.record.timeline import TimelineRecorder

# Step losses cross to the GUI 10 times a second: the plots redraw at most 5 times a second,
# and every delivery runs Python on the GUI thread, which competes for the GIL with training.
STEPS_INTERVAL_S = 0.1
RECON_INTERVAL_S = 3.0  # the live reconstruction strip: every epoch end, or this often
# A copy of the weights for the panels (WeightsSnapshot): at an epoch end, at most this often.
# The bundled sample's epochs last a fraction of a second, and every copy redraws the tab in
# front on the GUI thread, which competes with training for the GIL.
WEIGHTS_INTERVAL_S = 3.0


@dataclass(frozen=True)
class Progress:
    """Where a running job is, for its progress bar, its tooltip and the status bar alike.

    `steps_per_second` and `eta_seconds` are the run's smoothed figures (training/engine/eta.py):
    training time only, pauses excluded, the remaining epochs' evaluations included;
    `eta_unsure` while that estimate is rough (the first epoch, a speed that is changing).
    """

    epoch: int
    epochs: int
    step: int
    total_steps: int
    steps_per_second: float
    eta_seconds: float
    eta_unsure: bool = False

    @classmethod
    def of(cls, ev: StepsEvent, epochs: int, speed: EtaEstimator | None = None) -> "Progress":
        """The progress `ev` reports; the rate and ETA from `speed` (else the event's own)."""
        step = ev.last_step + 1
        if speed is None:
            return cls(ev.epoch, epochs, step, ev.total_steps, ev.steps_per_second,
                       ev.eta_seconds)
        eta = speed.eta_seconds(ev.total_steps - step, evaluations_left(ev.epoch, epochs))
        return cls(ev.epoch, epochs, step, ev.total_steps, speed.steps_per_second, eta,
                   speed.is_unsure)

    def stopped(self) -> "Progress":
        """The same place, no longer moving (no rate, no ETA)."""
        return Progress(self.epoch, self.epochs, self.step, self.total_steps, 0.0, float("nan"))

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def eta_text(self) -> str:
        """'03:30' (tqdm's format), 'about 4 min (unsure)' while rough, '--' while unknown: the
        one ETA every view shows (training.engine.eta.eta_text)."""
        return eta_text(self.eta_seconds, self.eta_unsure)

    def text(self, short: bool = False, paused: bool = False) -> str:
        """Where the run is; `paused`: said first, with no rate or ETA (nothing is moving)."""
        if paused:
            if short:
                return f"paused · epoch {self.epoch}/{self.epochs}"
            return (f"paused · epoch {self.epoch}/{self.epochs} · "
                    f"step {self.step:,}/{self.total_steps:,}")
        if short:
            return f"epoch {self.epoch}/{self.epochs} · ETA {self.eta_text}"
        return (f"epoch {self.epoch}/{self.epochs} · step {self.step:,}/{self.total_steps:,} · "
                f"{self.steps_per_second:,.0f}/s · ETA {self.eta_text}")


def never_started(result) -> bool:
    """Whether a member's result failed before it took a single step (e.g. its Ray cluster
    could not be reached): its model holds only the weights it was initialised with."""
    return result.state == RunState.FAILED and len(result.history) == 0


# How the engine says a Ray head could not be reached (training.engine.ray_sweep.check_address,
# behind describe_error's type name when it ended the loop).
_NO_RAY = re.compile(r"^(?:RayUnavailable: )?(?=no Ray cluster at )")


def never_started_text(error: str | None) -> str:
    """'never started (could not reach the Ray cluster): no Ray cluster at 127.0.0.1:6379: …'
    for a member that failed before its first step, so it never reads as a run that trained
    and failed later; the engine's own words follow."""
    text = (error or "it failed before its first step").strip()
    if text.startswith("never started"):
        return text
    if _NO_RAY.match(text):
        return "never started (could not reach the Ray cluster): " + _NO_RAY.sub("", text)
    return f"never started: {text}"


class TrainingWorker(QObject, Observer):
    """Runs one training loop (a single run or a sweep) in its thread and emits what happens as
    events; the loop's observer. Control comes from any thread.

    The loop's StepsEvent, EpochEvent and MemberFailedEvent go out as they are, with their
    member axis; what concerns one member only (its reconstructions, a copy of its weights, a
    timeline snapshot, its result) goes out wrapped as `MemberEvent(m, event)`.
    """

    event = Signal(object)  # a job event (explorer/session/job_events.py); arrays in it are copies
    finished = Signal()  # always last: back to the GUI thread, and the thread quits (WorkerThread)

    def __init__(self, config: TrainConfig | SweepConfig, datasets: DatasetCache,
                 dataset: Dataset | None = None, loop: Loop | None = None, ray=None) -> None:
        """`loop`: one already made (Trainer.from_checkpoint, to continue a run), else a new
        one of `config` (a single run records a timeline; a sweep with `ray`, a RaySettings,
        trains as Ray Tune trials)."""
        super().__init__()
        self.config = config
        self._ray = ray
        self._datasets = datasets
        self._dataset = dataset if loop is None else loop.dataset
        self._prepared = loop
        self._loop: Loop | None = None
        self._lock = threading.Lock()  # orders pause/stop from the GUI against loop creation
        self._stop_requested = False
        self._paused = False
        self._recon_idx: np.ndarray | None = None
        self._last_recon = 0.0
        self._last_weights = -WEIGHTS_INTERVAL_S  # monotonic time of the last WeightsSnapshot
        # Observers besides this worker: the workspace's run writers (set before the job starts)
        self.observers: list[Observer] = []
        # The CPU threads torch uses in this worker's thread (the form's "CPU threads"; set
        # before the job starts). None: WORKER_TORCH_THREADS or torch's default.
        self.torch_threads: int | None = None
        self._threads_given = 0

    def _make_loop(self, dataset: Dataset) -> Loop:
        """The loop to run, observed by this worker (called under the control lock)."""
        observers = [self, *self.observers]
        if self._prepared is not None:
            self._prepared.observers.extend(observers)
            return self._prepared
        if isinstance(self.config, SweepConfig) and self._ray is not None:
            from latent_explorer.training.engine.ray_sweep import RaySweepTrainer

            return RaySweepTrainer(self.config, dataset, observers=observers,
                                   notify_interval=STEPS_INTERVAL_S, settings=self._ray)
        if isinstance(self.config, SweepConfig):
            return SweepTrainer(self.config, dataset, observers=observers,
                                notify_interval=STEPS_INTERVAL_S)
        return Trainer(self.config, dataset, observers=observers,
                       notify_interval=STEPS_INTERVAL_S, timeline=TimelineRecorder())

    def _weights_due(self, final: bool = False) -> bool:
        """Whether to copy the weights for the panels at this epoch end (WEIGHTS_INTERVAL_S).
        Not at the last one (`final`): the result that follows at once hands over the model."""
        now = time.monotonic()
        if final or now - self._last_weights < WEIGHTS_INTERVAL_S:
            return False
        self._last_weights = now
        return True

    # -- control, from any thread ----------------------------------------------------------------
    def request_stop(self) -> None:
        with self._lock:
            self._stop_requested = True
            if self._loop is not None:
                self._loop.request_stop()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            if self._loop is not None:
                self._loop.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            if self._loop is not None:
                self._loop.resume()

    @property
    def is_paused(self) -> bool:
        """Whether the loop is blocked at a batch boundary (it lags the request by a batch)."""
        with self._lock:
            return self._loop is not None and self._loop.is_waiting

    # -- the work, in the worker thread ----------------------------------------------------------
    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - before the loop (data, device): failed, reported
            msg = str(e) if isinstance(e, (DataError, ValueError)) else f"{type(e).__name__}: {e}"
            self.event.emit(TrainingEnded(None, msg or type(e).__name__))
        finally:
            # WorkerThread moves this worker back to the GUI thread, where it is destroyed when
            # its job is dropped (explorer/session/worker_thread.py says why), then quits.
            self.finished.emit()

    def _run(self) -> None:
        prepare_worker_thread(self.torch_threads)
        # What the loop is given (a sweep's step splits them into groups of one each).
        self._threads_given = torch.get_num_threads()
        cfg = self.config
        ds = self._dataset or self._datasets.get(
            cfg.dataset, cfg.data_dir, notify=lambda m: self.event.emit(MessagePosted(m)),
            **cfg.load_options)
        self._dataset = ds
        self.event.emit(DatasetLoaded(ds))
        with self._lock:
            if self._stop_requested:
                self.event.emit(TrainingEnded(None))
                return
            loop = self._make_loop(ds)
            self._loop = loop
            if self._paused:
                loop.pause()
        self._recon_idx = fixed_test_indices(ds.test.labels.numpy())
        loop.run()  # never raises: failures come back in its result

    # -- Observer hooks (called by the loop, in the worker thread) -------------------------------
    def on_train_start(self, loop: Loop) -> None:
        device = describe_device(loop.device)
        threads = self._threads_given
        if loop.device.type == "cpu":
            device += f" ({threads} thread{'s' if threads != 1 else ''})"
        self.event.emit(TrainingStarted(device, threads))
        if loop.n_members == 1:  # a sweep's members all start as noise: nothing to compare
            self._emit_reconstructions(loop, "before training")

    def on_steps(self, event: StepsEvent) -> None:
        self.event.emit(event)  # the loop already batches steps (STEPS_INTERVAL_S)
        if time.monotonic() - self._last_recon >= RECON_INTERVAL_S and self._loop is not None:
            self._emit_reconstructions(self._loop,
                                       f"epoch {event.epoch}, step {event.last_step + 1:,}")

    def on_epoch_end(self, event: EpochEvent) -> None:
        self.event.emit(event)
        loop = self._loop
        if loop is None:
            return
        self._emit_reconstructions(loop, f"after epoch {event.epoch}")
        if not self._weights_due(final=event.epoch >= loop.config.epochs):
            return
        for m in self._active(loop):
            try:  # in the hook the loop waits: the weights are whole
                copy = loop.member_model(m)
            except Exception:  # noqa: BLE001 - exploring while training must never break it
                return
            copy.requires_grad_(False)  # the copy is the panels' now: this thread drops it
            self.event.emit(MemberEvent(m, WeightsSnapshot(copy, event.epoch, event.step)))

    def on_snapshot(self, event: SnapshotEvent) -> None:
        rec = self._loop.timeline_recorder if self._loop is not None else None
        if rec is None or rec.timeline is None:
            return
        tl = rec.timeline
        # Its own list of snapshots (this thread goes on inserting into the recorder's); the
        # arrays are shared: nothing changes them.
        self.event.emit(MemberEvent(event.member, SnapshotRecorded(
            event.snapshot, event.index, event.count,
            replace(tl, snapshots=list(tl.snapshots)))))

    def on_member_failed(self, event: MemberFailedEvent) -> None:
        self.event.emit(event)

    def on_train_end(self, result: LoopResult) -> None:
        loop = self._loop
        rec = loop.timeline_recorder if loop is not None else None
        for m, r in enumerate(result.results):
            try:
                resume = loop.resume_state(m) if loop is not None else None
            except Exception:  # noqa: BLE001 - the run is kept either way; it continues from weights
                resume = None
            # The recorder's own timeline: the loop is done with it.
            timeline = rec.timeline if rec is not None and m == 0 else None
            self.event.emit(MemberEvent(m, TrainingEnded(r, r.error, timeline, resume)))

    def _active(self, loop: Loop) -> list[int]:
        return [m for m, ok in enumerate(loop.active) if ok]

    def _emit_reconstructions(self, loop: Loop, caption: str) -> None:
        self._last_recon = time.monotonic()
        if self._dataset is None or self._recon_idx is None:
            return
        for m in self._active(loop):
            model = loop.preview_model(m)
            if model is None:  # a Ray member before its first report
                continue
            try:
                grid = reconstruction_grid(model, self._dataset.test, self._recon_idx)
            except Exception:  # noqa: BLE001 - a preview must never break training
                return
            self.event.emit(MemberEvent(m, ReconstructionsReady(grid, caption)))


class Job(QObject):
    """One background job: a worker in its own thread running one loop, and the runs its events
    are about (runs[m] is the loop's member m: one for a single run, M for a sweep).

    `apply` maps each worker event onto the runs, with the one-member events a single run of
    that member would have been told (`for_member(m)`), so the loss plot, the run list and the
    panels treat sweep members like any run. The job never writes a run: each (run, event)
    pair goes to `owner` (the session's one writer; by default the plain reducer,
    explorer/session/run_owner.py) before it is told. Control acts on the whole loop: pausing
    or stopping any member of a sweep pauses or stops the sweep (the window says so).
    """

    event = Signal(object, object)  # Run, job event (explorer/session/job_events.py)
    finished = Signal(object)  # Job: its thread has finished, or it left the queue unstarted

    def __init__(self, runs: list[Run], worker: TrainingWorker) -> None:
        super().__init__()
        self.runs = list(runs)
        self.worker = worker
        # Applies a (run, event) pair to the run: the session's, set by the queue at submit.
        self.owner: Callable[[Run, object], None] = apply_event
        self.thread: QThread | None = None
        self._worker_thread: WorkerThread | None = None
        self.is_finished = False
        self._cleaned_up = False  # after disconnect_worker: late events are dropped
        worker.event.connect(self._on_worker_event)  # queued: this object lives in the GUI thread

    def apply(self, ev) -> Iterator[tuple[Run, object]]:
        """The (run, event) pairs one worker event makes, each applied by the owner before it
        is yielded (the mapping reads the runs as the earlier pairs left them)."""
        for run, e in self._map(ev):
            self.owner(run, e)
            yield run, e

    def _map(self, ev) -> Iterator[tuple[Run, object]]:
        """What one worker event means for each run (no writes: see `apply`)."""
        runs = self.runs
        match ev:
            case DatasetLoaded() | TrainingStarted() | MessagePosted():
                for run in runs:
                    yield run, ev
            case StepsEvent() | EpochEvent():
                for m, run in enumerate(runs):
                    if run.state != RunState.FAILED and (e := ev.for_member(m)) is not None:
                        yield run, e
            case MemberFailedEvent(member=m, message=message):
                run = runs[m]
                yield from self.set_state(run, RunState.FAILED, message)
                if len(runs) > 1:
                    yield run, MessagePosted(f"{run.name} ({run.group}) stopped alone: "
                                             f"{message} The other members train on.")
            case MemberEvent(member=m, event=ReconstructionsReady() | SnapshotRecorded() as e):
                yield runs[m], e
            case MemberEvent(member=m, event=WeightsSnapshot() as e):
                if runs[m].state != RunState.FAILED:
                    yield runs[m], e
            case MemberEvent(member=m, event=TrainingEnded(result=result)) if result \
                    and never_started(result) and runs[m].state != RunState.FAILED:
                # The loop failed before this member's first step (a Ray cluster that could
                # not be reached; not a member that failed alone, which said so already): its
                # weights are the random ones it was made with, nothing to show, save or count.
                run = runs[m]
                error = never_started_text(result.error)
                yield run, WeightsDiscarded()
                yield from self.set_state(run, RunState.FAILED, error)
                yield run, TrainingEnded(None, error)
            case MemberEvent(member=m, event=TrainingEnded(result=result) as e) if result:
                run = runs[m]
                yield run, ResultReady(result, e.timeline, e.resume)
                yield from self.set_state(run, RunState(result.state))
                if result.note:  # stopped early, or kept an earlier epoch's weights
                    yield run, MessagePosted(f"{run.name}: {result.note}")
                yield run, e
            case TrainingEnded(result=None, error=error):  # the loop never trained
                for run in runs:
                    failed = bool(error or run.error)
                    yield from self.set_state(run, RunState.FAILED if failed
                                              else RunState.STOPPED, error)
                    yield run, ev
            case _:
                raise TypeError(f"unknown job event {ev!r}")

    # -- state -----------------------------------------------------------------------------------
    @property
    def state(self) -> RunState:
        return self.runs[0].state

    @property
    def is_active(self) -> bool:
        return any(r.is_active for r in self.runs)

    @property
    def is_alive(self) -> bool:
        """True while the job is queued or its thread has not finished."""
        return self.is_active or (self.thread is not None and not self.is_finished)

    def set_state(self, run: Run, state: RunState,
                  error: str | None = None) -> Iterator[tuple[Run, object]]:
        """StateChanged when `run` is not in `state` yet (or `error` is news)."""
        if run.state != state or (error is not None and error != run.error):
            yield run, StateChanged(state, error)

    def change_state(self, run: Run, state: RunState) -> None:
        """Move a run to `state`, told to listeners as StateChanged (the only way states change)."""
        self._emit(self.set_state(run, state))

    def queued(self) -> Iterator[tuple[Run, object]]:
        """What entering the queue does to the runs: each is queued."""
        for run in self.runs:
            yield from self.set_state(run, RunState.QUEUED)

    def _emit(self, pairs: Iterable[tuple[Run, object]]) -> None:
        """Apply each pair through the owner, then tell it (one at a time: a pair's mapping
        may read what the one before it changed)."""
        for run, ev in pairs:
            self.owner(run, ev)
            self.event.emit(run, ev)

    # -- control (GUI thread) --------------------------------------------------------------------
    def start(self) -> None:
        """Move the worker to a new thread and run it."""
        w = self.worker
        wt = WorkerThread(w, f"job for {self.runs[0].name}", w.finished, work=w.run,
                          request_stop=w.request_stop)
        self._worker_thread, self.thread = wt, wt.thread
        wt.thread.finished.connect(self._on_thread_finished)
        for run in self.runs:
            self.change_state(run, RunState.RUNNING)
        wt.start()

    def pause(self) -> None:
        if self.state == RunState.RUNNING:
            self.worker.pause()
            for run in self.runs:
                if run.state == RunState.RUNNING:
                    self.change_state(run, RunState.PAUSED)

    def resume(self) -> None:
        if self.state == RunState.PAUSED:
            self.worker.resume()
            for run in self.runs:
                if run.state == RunState.PAUSED:
                    self.change_state(run, RunState.RUNNING)

    def request_stop(self) -> None:
        self.worker.request_stop()

    def cancel(self) -> None:
        """Take a job that never started out of the queue: its runs end stopped, untrained."""
        for run in self.runs:
            self.change_state(run, RunState.STOPPED)
            self._emit([(run, TrainingEnded(None))])
        self.is_finished = True
        self.finished.emit(self)

    def fail(self, message: str) -> None:
        """The thread ended without a result: say so rather than hang."""
        for run in self.runs:
            if run.is_active:
                error = run.error or message
                self._emit(self.set_state(run, RunState.FAILED, error))
                self._emit([(run, TrainingEnded(None, error))])

    def disconnect_worker(self) -> None:
        """Drop this job's slot on the worker's events (close: no late event reaches widgets)."""
        self._cleaned_up = True
        try:
            self.worker.event.disconnect(self._on_worker_event)
        except (RuntimeError, TypeError):
            pass

    def wait(self, ms: int) -> bool:
        """quit() and a bounded wait(); True when the thread is finished. Never terminate()."""
        if self._worker_thread is None or self.is_finished:
            return True
        done = self._worker_thread.wait(ms)
        if done:
            self.is_finished = True
        return done

    # -- slots (GUI thread) ----------------------------------------------------------------------
    @Slot(object)
    def _on_worker_event(self, ev) -> None:
        if not self._cleaned_up:
            self._emit(self._map(ev))

    @Slot()
    def _on_thread_finished(self) -> None:
        self.is_finished = True
        self.finished.emit(self)



class TrainingJob(Job):
    """One run trained by one `Trainer`."""

    def __init__(self, run: Run, datasets: DatasetCache, dataset: Dataset | None = None) -> None:
        super().__init__([run], TrainingWorker(run.config, datasets, dataset))

    @property
    def run(self) -> Run:
        return self.runs[0]


class SweepJob(Job):
    """The members of one sweep (runs[m] is member m of `config.members()`), trained at once."""

    def __init__(self, runs: list[Run], config: SweepConfig, datasets: DatasetCache,
                 dataset: Dataset | None = None, ray=None) -> None:
        if len(runs) != config.n_members:
            raise ValueError(f"{len(runs)} runs for a sweep of {config.n_members} members")
        super().__init__(runs, TrainingWorker(config, datasets, dataset, ray=ray))
        self.config = config


class ContinueJob(TrainingJob):
    """An ended run trained further as the same run by `trainer` (Trainer.from_checkpoint).

    The trainer works on copies of the run's model, history and timeline, so the run stays
    whole until the job hands back the result. A job that never trains (cancelled while
    queued, or refused in its thread) leaves the run as it was.
    """

    def __init__(self, run: Run, datasets: DatasetCache, trainer: Trainer) -> None:
        Job.__init__(self, [run], TrainingWorker(trainer.config, datasets, loop=trainer))
        self._before = (run.state, run.config, run.error)
        self._config = trainer.config

    def queued(self) -> Iterator[tuple[Run, object]]:
        # its epochs: the new total (progress bars, the run list); no error while it trains
        yield self.run, RunConfigured(self._config, None)
        yield from super().queued()

    def _restore(self) -> Iterator[tuple[Run, object]]:
        state, config, error = self._before
        yield self.run, RunConfigured(config, error)
        yield from self.set_state(self.run, state)

    def _map(self, ev) -> Iterator[tuple[Run, object]]:
        match ev:
            case TrainingEnded(result=None, error=error):
                run = self.run
                yield from self._restore()
                if error:
                    yield run, MessagePosted(f"{run.name}: cannot continue training: {error}")
                yield run, ev
            case _:
                yield from super()._map(ev)

    def cancel(self) -> None:
        """Taken out of the queue before it started: the run is as it was."""
        self._emit(self._restore())
        self._emit([(self.run, TrainingEnded(None))])
        self.is_finished = True
        self.finished.emit(self)


class JobQueue(QObject):
    """Runs jobs one at a time (see the module docstring) and forwards their events."""

    event = Signal(object, object)  # Run, job event: every job's stream, as it is
    job_finished = Signal(object)  # Job, after its thread finished (or when cancelled)

    def __init__(self, parent: QObject | None = None,
                 owner: Callable[[Run, object], None] | None = None) -> None:
        """`owner`: applies each job's (run, event) pairs to the runs (the session's one
        writer); None: the plain reducer (explorer/session/run_owner.py)."""
        super().__init__(parent)
        self.owner = owner or apply_event
        self.jobs: list[Job] = []  # queued and running ones; a job leaves when it is over
        self._shutting_down = False

    # -- queries ---------------------------------------------------------------------------------
    def job_for(self, run: Run | None) -> Job | None:
        return next((j for j in self.jobs if run in j.runs), None)

    @property
    def current(self) -> Job | None:
        """The job holding the training slot (running, paused, or its thread still ending)."""
        return next((j for j in self.jobs if j.thread is not None and not j.is_finished), None)

    @property
    def has_active(self) -> bool:
        return any(j.is_alive for j in self.jobs)

    # -- control ---------------------------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        """Queue a job; it starts at once when nothing else is training."""
        job.owner = self.owner
        job.event.connect(self.event)
        job._emit(job.queued())  # every change of state is an event, this one too
        job.finished.connect(self._on_job_finished)
        self.jobs.append(job)
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
        if job.state == RunState.QUEUED:
            job.cancel()  # the job reports its own end; _on_job_finished drops it
        elif job.is_active:
            job.request_stop()

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop for good: request stop, disconnect, quit, bounded wait. True when all ended."""
        self._shutting_down = True
        for job in [j for j in self.jobs if j.state == RunState.QUEUED]:
            self.jobs.remove(job)
            for run in job.runs:
                job.change_state(run, RunState.STOPPED)
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
                for run in job.runs:
                    if run.is_active:
                        job.change_state(run, RunState.STOPPED)
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
        job = next((j for j in self.jobs if j.state == RunState.QUEUED), None)
        if job is not None:
            job.start()

    @Slot(object)
    def _on_job_finished(self, job: Job) -> None:
        if job.is_active:
            job.fail("the training thread ended unexpectedly")
        if job in self.jobs:
            self.jobs.remove(job)
        self.job_finished.emit(job)
        self._start_next()


_orphans: list[Job] = []  # jobs whose thread outlived shutdown's bounded wait


def wait_for_orphans(timeout_ms: int = 10_000) -> bool:
    """After the window has closed: give threads that missed the bounded wait a last chance."""
    return all([job.wait(timeout_ms) for job in list(_orphans)])


def sweep_group_name(config: SweepConfig, number: int) -> str:
    """'sweep 1: VAE β×7' ('R×4' over target rates; '×2 seeds' when there are several)."""
    seeds = f" ×{len(config.seeds)} seeds" if len(config.seeds) > 1 else ""
    axis = "R" if config.by_rate else "β"
    return f"sweep {number}: {config.kind.upper()} {axis}×{len(config.values)}{seeds}"


def member_run_name(value: float, seed: int, by_rate: bool = False) -> str:
    """'β=0.01 s0', or 'R=10 s0' for a member trained to a target rate."""
    return f"{'R' if by_rate else 'β'}={value:g} s{seed}"
