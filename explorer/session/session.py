"""The runs of one window and the jobs that train them: a model object with no widgets.

`RunSession` owns the runs, the job queue, the shared dataset cache, the loaders of opened
checkpoints' data and the latest reconstruction strip of each run. The window lays out widgets
and connects them to its signals; tests drive it without a window. Everything a feature needs
about runs goes through here: `start`, `open`, `save`, `remove`, `pause`/`resume`/`stop`,
`rename`, `continue_run`, `start_sweep`, `shutdown`. Ended VAE/CVAE runs are scored in the
background (explorer/session/scorer.py): their IW bound and sample quality land in `run.measures`.

Signals: `run_added(run)`, `run_changed(run, what)` (what changed: 'state', 'metrics', 'name',
'file', 'dataset', 'model', 'config', 'measures', 'ended', or 'progress' while it trains, several
times a second), `run_removed(run)`, `run_event(run, event)` (every job event, after the run was
updated; see explorer/session/job_events.py), `message(text, timeout_ms)` (a line for the
status bar).

One owner of run state: jobs never write a `Run`. Each job event reaches `_apply`, the one place
that applies it (explorer/session/run_owner.py) and keeps the session's per-run maps (progress,
speed, reconstruction strip); the views draw from the runs and those maps on `run_changed`.

This module imports torch (through the jobs): create the session once the window is visible.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from latent_explorer.explorer.session.datasets import DatasetCache, DatasetLoader
from latent_explorer.explorer.session.job_events import (
    DatasetLoaded,
    EpochEvent,
    MessagePosted,
    ReconstructionsReady,
    StateChanged,
    StepsEvent,
    TrainingEnded,
    TrainingStarted,
)
from latent_explorer.explorer.session.jobs import (STEPS_INTERVAL_S, ContinueJob, Job, JobQueue, Progress, SweepJob,
                                   TrainingJob, member_run_name, sweep_group_name)
from latent_explorer.explorer.session.run_owner import (CheckpointRead, RecordRead, apply_event,
                                                       changed_by)
from latent_explorer.explorer.session.scorer import RunScorer
from latent_explorer.training.record.checkpoint import (
    checkpoint_from_run,
    load_checkpoint,
    run_from_checkpoint,
    save_checkpoint,
)
from latent_explorer.training.config import speed_family
from latent_explorer.training.engine.eta import EtaEstimator
from latent_explorer.training.explore.panel_math import fixed_test_indices, reconstruction_grid
from latent_explorer.training.record.history import History
from latent_explorer.training.engine.loop import TrainConfig, Trainer
from latent_explorer.training.engine.resume import ResumeError
from latent_explorer.training.record.run import Run, RunState
from latent_explorer.training.data.sources import dataset_candidates
from latent_explorer.training.engine.sweep import SweepConfig
from latent_explorer.training.record.checkpoint import CheckpointError
from latent_explorer.training.record.workspace import (RunRecord, RunWriter, Workspace,
                                                       WorkspaceError, apply_record, read_run)
from latent_explorer.training.record.workspace import request as request_run
from latent_explorer.explorer.session.workspace_watch import Scan, WorkspaceWatcher

CHECKPOINT_SUFFIX = ".safetensors"
SHUTDOWN_MIN_MS = 100  # the least any one thread is waited for on close, whatever is left
FALLBACK_PREFIX = "Using the bundled"  # training.data.datasets's notice when 'auto' falls back


SPEED_MIN_TRAINING_S = 5.0  # a run's speed is this machine's once it trained this long


# A listed sweep of up to this many members loads whole when one of them is selected (a
# checkpoint takes ~20-50 ms to read): more would stall the selection.
GROUP_LOAD_LIMIT = 16


@dataclass(frozen=True)
class MeasuredSpeed:
    """A finished job's speed: steps/s of a single run, or model-steps/s of a sweep.

    `settled`: it trained long enough to be this machine's figure. A run of a few seconds is
    mostly its first steps, slowed by the timeline's dense early snapshots, so it should replace
    a figure already known only once settled."""

    family: str
    sweep: bool
    rate: float
    settled: bool


@dataclass
class LiveState:
    """What the session keeps of one run besides the run: where its job is, its smoothed
    speed and ETA (training/engine/eta.py; kept after it ended, for the form's estimate) and its
    latest reconstruction strip (grid, caption)."""

    progress: Progress | None = None
    speed: EtaEstimator | None = None
    strip: tuple[np.ndarray, str] | None = None


class RunSession(QObject):
    """Runs, their jobs and their data; see the module docstring for the signals."""

    run_added = Signal(object)  # Run
    run_changed = Signal(object, str)  # Run, what changed (see the module docstring)
    run_removed = Signal(object)  # Run
    run_event = Signal(object, object)  # Run, job event
    message = Signal(str, int)  # text, milliseconds to show it (0: until replaced)
    notice = Signal(str)  # something the user should read once, plainly (not just a status line)
    judge_status = Signal(str)  # the judge of sample quality: training, ready (its accuracy)

    def __init__(self, datasets: DatasetCache | None = None, parent: QObject | None = None,
                 score: bool = True, workspace: Workspace | None = None) -> None:
        """`score`: measure ended runs' IW bound and sample quality in the background.
        `workspace`: the folder of runs every run is written into from its first step, and
        whose runs (from earlier sessions and other processes) this session lists and follows."""
        super().__init__(parent)
        self.workspace = workspace
        self.watcher: WorkspaceWatcher | None = None
        self._by_folder: dict[Path, Run] = {}  # the workspace's runs this session lists
        self._own: set[Path] = set()  # folders this session's jobs write (never read back)
        self._metrics_reads: dict[Path, MetricsFeed] = {}  # followed runs of other processes
        self.trash: list[tuple[Run, Path]] = []  # removed runs and where they went (undo)
        self.datasets = datasets or DatasetCache()
        self.queue = JobQueue(self, owner=self._apply)
        self.runs: list[Run] = []
        # What the session knows of each run beyond the run itself: one record per run id.
        self._live: dict[int, LiveState] = {}
        self._loaders: list[DatasetLoader] = []
        self._closed = False
        self._fallback_told = False
        self._sweeps = 0
        self.scorer: RunScorer | None = RunScorer(parent=self) if score else None
        if self.scorer is not None:
            self.scorer.scored.connect(self._on_scorer_scored)
            self.scorer.status.connect(self._on_scorer_status)
        self.queue.event.connect(self._on_queue_event)
        self.queue.job_finished.connect(self._on_job_finished)
        if workspace is not None:
            self.watcher = WorkspaceWatcher(workspace, self)
            self.watcher.scanned.connect(self._on_workspace_scanned)
            self.watcher.start()

    # -- queries ---------------------------------------------------------------------------------
    def usable_runs(self) -> list[Run]:
        """Runs the panels can explore: a trained model and its dataset in memory. A run still
        training counts once it has a copy of its weights from an epoch end (WeightsSnapshot)."""
        return [r for r in self.runs if r.is_usable and r.dataset is not None]

    def speed_of(self, run: Run) -> float:
        """`run`'s smoothed training speed in steps/s (sweep steps for a member), 0.0 if unknown."""
        speed = self._speed(run)
        return speed.steps_per_second if speed is not None else 0.0

    def measured_speed(self, run: Run) -> MeasuredSpeed | None:
        """What `run`'s training measured of this machine, for the form's estimate (None: no
        speed): a single run's steps/s, or its sweep's model-steps/s (steps/s × members), for its
        family of models (training.config.speed_family)."""
        rate = self.speed_of(run)
        if rate <= 0:
            return None
        speed = self._speed(run)
        sweep = bool(run.group)
        if sweep:
            rate *= len(self.sweep_members(run)) or 1
        return MeasuredSpeed(speed_family(run.config.arch, run.config.prior), sweep, rate,
                             speed is not None and speed.training_seconds >= SPEED_MIN_TRAINING_S)

    def job_for(self, run: Run | None) -> Job | None:
        return self.queue.job_for(run)

    @property
    def has_active(self) -> bool:
        return self.queue.has_active

    def continue_problem(self, run: Run | None) -> str | None:
        """Why `run` cannot be trained further now (a sentence), or None when it can."""
        if run is None or run not in self.runs:
            return "select a run to continue"
        if self._closed:
            return "the window is closing"
        if run.is_active:
            return f"{run.name} is still training"
        if run.model is None and run.folder is not None:
            self.ensure_loaded(run)  # a listed workspace run: its latest checkpoint
        if run.model is None:
            return f"{run.name} has no model to continue"
        if run.state == RunState.FAILED:
            return f"{run.name} failed; start a new run instead"
        if run.dataset is None:
            return f"the data of {run.name} is still loading"
        return None

    def unique_name(self, name: str) -> str:
        """`name`, or 'name (2)', 'name (3)'… when a run of the session already has it."""
        taken = {r.name for r in self.runs}
        if name not in taken:
            return name
        n = 2
        while f"{name} ({n})" in taken:
            n += 1
        return f"{name} ({n})"

    def unsaved_runs(self) -> list[Run]:
        """Runs whose weights exist only in memory (a run in the workspace is on disk, unless
        writing it failed)."""
        return [r for r in self.runs if r.model is not None and not r.saved and not r.is_active
                and (r.folder is None or any("cannot write the run" in n for n in r.notices))]

    # -- runs ------------------------------------------------------------------------------------
    def add(self, run: Run) -> Run:
        self.runs.append(run)
        self.run_added.emit(run)
        return run

    def start(self, config: TrainConfig, name: str = "", threads: int | None = None) -> Run:
        """A new run of `config`, queued (it trains at once when nothing else does), on
        `threads` CPU threads (None: the workers' default, worker_threads.py)."""
        run = Run(name=name, config=config)
        run.name = name or run.default_name()
        job = TrainingJob(run, self.datasets)
        job.worker.torch_threads = threads
        job.worker.observers.extend(self._writers([run]))
        self.add(run)
        self.queue.submit(job)
        return run

    def start_sweep(self, config: SweepConfig, ray=None, threads: int | None = None) -> list[Run]:
        """One run per member of `config` (their `group` names the sweep), queued as one job
        that trains them all at once (here, or on Ray with `ray`, a RaySettings); runs[m] is
        member m of `config.members()`."""
        self._sweeps += 1
        group = sweep_group_name(config, self._sweeps)
        runs = [Run(name=member_run_name(value, seed, config.by_rate),
                    config=config.member_config(m), group=group)
                for m, (value, seed) in enumerate(config.members())]
        job = SweepJob(runs, config, self.datasets, ray=ray)
        job.worker.torch_threads = threads  # its loop's thread here (Ray trials set their own)
        job.worker.observers.extend(self._writers(runs))
        for run in runs:
            self.add(run)
        self.queue.submit(job)
        return runs

    def sweep_members(self, run: Run | None) -> list[Run]:
        """The runs of `run`'s sweep, in list order ([] for a run outside any sweep)."""
        if run is None or not run.group:
            return []
        return [r for r in self.runs if r.group == run.group]

    def submit(self, job: Job) -> Job:
        """Queue a job whose runs are already in the session (e.g. a sweep's members)."""
        return self.queue.submit(job)

    def continue_run(self, run: Run, epochs: int) -> Job:
        """Train `run` further to `epochs` in total, as the same run; ResumeError if it cannot.

        Exactly where it stopped when the run holds its resume state; else (an older
        checkpoint) from its weights with a fresh optimizer, which `run.notices` and a message
        say. The trainer gets copies of the run's parts: the run stays whole while it trains.
        """
        problem = self.continue_problem(run)
        if problem:
            raise ResumeError(problem)
        ckpt = checkpoint_from_run(run)
        h = run.history
        ckpt.model = copy.deepcopy(run.model)
        ckpt.history = History.from_arrays(h.recon, h.kl, h.total, epochs=h.epochs,
                                           beta=h.beta)  # a steered or scheduled β's steps
        if run.timeline is not None:
            ckpt.timeline = replace(run.timeline, snapshots=list(run.timeline.snapshots))
        try:
            trainer = Trainer.from_checkpoint(ckpt, int(epochs), run.dataset,
                                              notify_interval=STEPS_INTERVAL_S)
        except ValueError as e:
            raise ResumeError(str(e)) from None
        start = trainer.resumed_from
        for note in start.notices:
            line = f"continued: {note}"
            if line not in run.notices:
                run.notices.append(line)
        where = (f"epoch {start.epochs_done + 1}, batch {start.batch_in_epoch}"
                 if start.batch_in_epoch else f"the end of epoch {start.epochs_done}")
        how = "; ".join(start.notices) if start.notices else "exactly where it stopped"
        job = ContinueJob(run, self.datasets, trainer)
        job.worker.observers.extend(self._writers([run], continuing=True))
        job = self.queue.submit(job)
        self.message.emit(f"{run.name}: continuing from {where} to {epochs} epochs ({how})",
                          20000 if start.notices else 8000)
        self.run_changed.emit(run, "config")
        return job

    def open(self, path: str | os.PathLike) -> Run:
        """Load a checkpoint as a run; its dataset loads in the background. CheckpointError."""
        ckpt = load_checkpoint(path)
        run = run_from_checkpoint(ckpt, path)
        run.name = self.unique_name(run.name)  # the same file twice, or a copy of it
        self.add(run)
        loader = DatasetLoader(self.datasets, dataset_candidates(run.config, ckpt.dataset),
                               token=run)
        loader.loaded.connect(self._on_loader_loaded)
        self._loaders.append(loader)
        loader.start()
        return run

    def save(self, run: Run, path: str | os.PathLike) -> Path:
        """Write `run` as a checkpoint (the suffix added if missing); OSError, CheckpointError."""
        p = Path(path)
        if p.suffix != CHECKPOINT_SUFFIX:
            p = p.with_name(p.name + CHECKPOINT_SUFFIX)
        save_checkpoint(p, checkpoint_from_run(run))
        run.path, run.saved = p, True
        self.run_changed.emit(run, "file")
        return p

    def rename(self, run: Run, name: str) -> None:
        name = name.strip()
        if name and name != run.name:
            run.name = name
            self.run_changed.emit(run, "name")

    def remove(self, run: Run) -> None:
        """Take a run out (stopping its job first): its late events are dropped. A run in the
        workspace moves to the workspace's trash (`undo_remove` brings it back)."""
        if run not in self.runs:
            return
        if run.is_active:
            self.stop(run)
        if run.folder is not None and self.workspace is not None and not run.is_active:
            self._trash(run)
        self._take_out(run)

    def _take_out(self, run: Run) -> None:
        """Out of the session's list (its files, if any, stay where they are)."""
        self.runs.remove(run)
        self._live.pop(run.id, None)
        self.run_removed.emit(run)

    def pause(self, run: Run) -> None:
        if self._is_external(run):
            self._request(run, "pause")
        else:
            self.queue.pause(run)

    def resume(self, run: Run) -> None:
        if self._is_external(run):
            self._request(run, "resume")
        else:
            self.queue.resume(run)

    def toggle_pause(self, run: Run) -> None:
        if run.state == RunState.RUNNING:
            self.pause(run)
        elif run.state == RunState.PAUSED:
            self.resume(run)

    def stop(self, run: Run) -> None:
        if self._is_external(run):
            self._request(run, "stop")
        else:
            self.queue.stop(run)

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop every thread of this session within `timeout_ms` in all. True if all ended.

        Every thread is asked to stop first, so they wind down together; the waits then share
        one deadline (each at least SHUTDOWN_MIN_MS). Waiting for each in turn, a full timeout
        each, let quitting take 3.5 s (issue 21).
        """
        if self._closed:
            return True
        self._closed = True
        deadline = time.monotonic() + timeout_ms / 1000

        def left() -> int:
            return max(SHUTDOWN_MIN_MS, int((deadline - time.monotonic()) * 1000))

        if self.watcher is not None:
            self.watcher.close(left() / 1000)
        if self.scorer is not None:
            self.scorer.request_stop()  # it stops while the jobs do
        clean = self.queue.shutdown(left())
        if self.scorer is not None:
            clean = self.scorer.shutdown(left()) and clean
        for loader in self._loaders:
            try:
                loader.loaded.disconnect(self._on_loader_loaded)
            except (RuntimeError, TypeError):
                pass
            clean = loader.wait(left()) and clean
        self._loaders.clear()
        return clean

    # -- the workspace -------------------------------------------------------------------------
    def _writers(self, runs: list[Run], continuing: bool = False) -> list[RunWriter]:
        """A RunWriter per run (member m of the job), each into its own run folder, made here
        in the GUI thread so the run knows its folder before it trains; [] without a workspace
        or when it cannot be written (the run trains anyway, and the status bar says why)."""
        ws = self.workspace
        if ws is None:
            return []
        writers = []
        for m, run in enumerate(runs):
            try:
                if not (continuing and run.folder is not None):
                    run.folder = ws.new_run_folder(run.name)
            except (OSError, WorkspaceError) as e:
                self.message.emit(f"{run.name}: not written into the workspace: {e}", 15000)
                continue
            self._own.add(run.folder)
            self._by_folder[run.folder] = run
            dataset = run.dataset.name if run.dataset is not None else ""
            writers.append(RunWriter(ws, run.name, member=m, group=run.group,
                                     folder=run.folder, dataset=dataset))
        return writers

    def _tell_write_error(self, run: Run) -> None:
        """A run that could not be written into the workspace (a full disk, a read-only
        folder) says so in one line; it trained on, and its weights are still in memory."""
        job = self.queue.job_for(run)
        writers = [o for o in (job.worker.observers if job is not None else [])
                   if isinstance(o, RunWriter) and o.folder == run.folder]
        for w in writers:
            if w.write_error:
                line = f"{w.write_error}: save it with Save run as…"
                if line not in run.notices:
                    run.notices.append(line)
                run.saved = False
                self.message.emit(f"{run.name}: {line}", 20000)

    def _is_external(self, run: Run) -> bool:
        """A run written by another process (a terminal's `train`, a sweep, a Ray trial)."""
        return run.folder is not None and run.folder not in self._own

    def _request(self, run: Run, what: str) -> None:
        try:
            request_run(run.folder, what)
        except OSError as e:
            self.message.emit(f"{run.name}: cannot ask its process to {what}: {e}", 10000)
            return
        self.message.emit(f"{run.name}: asked its process to {what} (it acts between batches)",
                          6000)

    def _trash(self, run: Run) -> None:
        try:
            where = self.workspace.trash(run.folder)
        except OSError as e:
            self.message.emit(f"{run.name}: could not move it to the trash: {e}", 10000)
            return
        self._by_folder.pop(run.folder, None)
        self.trash.append((run, where))
        if self.watcher is not None:
            self.watcher.unfollow(run.folder)

    def set_workspace(self, workspace: Workspace) -> None:
        """List and follow `workspace` instead: the old one's runs leave the list (they stay
        on disk), but for runs this window still trains, which write on where they began."""
        if self.watcher is not None:
            self.watcher.close()
            self.watcher.scanned.disconnect(self._on_workspace_scanned)
        for run in list(self.runs):
            if run.folder is not None and not (run.is_active and run.folder in self._own):
                self._by_folder.pop(run.folder, None)
                self._metrics_reads.pop(run.folder, None)
                self._take_out(run)
        self.trash.clear()
        self.workspace = workspace
        self.watcher = WorkspaceWatcher(workspace, self)
        self.watcher.scanned.connect(self._on_workspace_scanned)
        self.watcher.start()

    def undo_remove(self) -> Run | None:
        """Bring the last removed workspace run back from the trash (None when there is none)."""
        while self.trash:
            run, where = self.trash.pop()
            try:
                run.folder = self.workspace.restore(where)
            except (OSError, WorkspaceError) as e:
                self.message.emit(f"{run.name}: cannot restore it: {e}", 10000)
                continue
            self._by_folder[run.folder] = run
            self.add(run)
            return run
        return None

    def empty_trash(self) -> int:
        """Delete the workspace's trash for good; how many runs it held."""
        if self.workspace is None:
            return 0
        self.trash.clear()
        return self.workspace.empty_trash()

    def ensure_loaded(self, run: Run) -> bool:
        """Load a listed workspace run's latest checkpoint (weights, history, timeline) when it
        is first shown; its data loads in the background. False when there is nothing to load
        yet or it cannot be read (the run says why)."""
        if run.model is not None or run.folder is None or run.is_active or run.folder in self._own:
            return run.model is not None  # this session's own run: its job's events are the truth
        rec = read_run(run.folder)
        path = rec.checkpoint_path
        if path is None:
            return False
        try:
            ckpt = load_checkpoint(path)
        except (CheckpointError, OSError) as e:
            run.error = f"its checkpoint cannot be read: {e}"
            self.run_changed.emit(run, "state")
            return False
        apply_event(run, CheckpointRead(ckpt, path))
        self._load_dataset(run, ckpt.dataset)
        self.run_changed.emit(run, "model")
        return True

    def ensure_group_loaded(self, run: Run, limit: int = GROUP_LOAD_LIMIT) -> int:
        """Load the other listed members of `run`'s sweep too (the Sweep tab compares them all:
        its plane, table and MIG need every member's figures); how many were loaded. A sweep of
        more than `limit` members loads only what is shown, so a selection never stalls."""
        if not run.group:
            return 0
        members = [r for r in self.runs if r.group == run.group and r is not run
                   and r.model is None and r.folder is not None]
        if len(members) + 1 > limit:
            return 0
        return sum(self.ensure_loaded(r) for r in members)

    def _load_dataset(self, run: Run, dataset_name: str) -> None:
        loader = DatasetLoader(self.datasets, dataset_candidates(run.config, dataset_name),
                               token=run)
        loader.loaded.connect(self._on_loader_loaded)
        self._loaders.append(loader)
        loader.start()

    @Slot(object)
    def _on_workspace_scanned(self, scan: Scan) -> None:
        if self._closed:
            return
        for rec in scan.records:
            if rec.folder in self._own:
                continue  # this session writes it: its job's events are the truth
            run = self._by_folder.get(rec.folder)
            if run is None:
                run = self._run_of_record(rec)
                if run is None:
                    continue
                self._by_folder[rec.folder] = run
                self.add(run)
            else:
                self._update_from_record(run, rec)
            if rec.state in ("training", "paused") and self.watcher is not None:
                self.watcher.follow(rec.folder)
        for folder, lines in scan.metrics.items():
            run = self._by_folder.get(folder)
            if run is not None and folder not in self._own:
                self._apply_metrics(run, lines)

    def _run_of_record(self, rec: RunRecord) -> Run | None:
        """A listed run of the workspace: its name, config and state; weights load on demand."""
        try:
            config = TrainConfig.from_dict(rec.config) if rec.config else None
        except (TypeError, ValueError, KeyError):
            config = None
        if config is None:  # unreadable: listed, failed, with the reason
            config = TrainConfig()
            rec.problem = rec.problem or "run.json has no readable config"
        run = Run(name=self.unique_name(rec.name or rec.folder.name), config=config,
                  group=rec.group, folder=rec.folder, saved=True)
        self._update_from_record(run, rec, announce=False)
        return run

    def _update_from_record(self, run: Run, rec: RunRecord, announce: bool = True) -> None:
        state = _RUN_STATES.get(rec.state, RunState.FAILED)
        error = rec.problem or rec.error
        if rec.problem is not None:
            state = RunState.FAILED
        elif state == RunState.INTERRUPTED:
            error = (f"interrupted at epoch {rec.epoch}: its process ended mid-run; Continue "
                     "resumes it exactly from its last epoch checkpoint")
        changed = (run.state, run.error, run.epochs_on_disk) != (state, error, rec.epoch)
        # It trained on elsewhere: the weights in memory are older than its newest checkpoint.
        stale = (not state.is_active and run.model is not None
                 and rec.checkpoint_path is not None and rec.checkpoint_path != run.path)
        apply_event(run, RecordRead(state, error, rec.epoch, stale))
        if stale:
            self.ensure_loaded(run)
        if changed and announce:
            self.run_changed.emit(run, "state")

    def _apply_metrics(self, run: Run, lines: list[dict]) -> None:
        """New metrics of a run another process trains: into its history, and out as the
        loop's own events, so its curves grow like a local run's."""
        feed = self._metrics_reads.setdefault(run.folder, MetricsFeed())
        for ev in feed.events(run.history, lines, run.config):
            self.run_event.emit(run, ev)
        if feed.epoch_changed:
            self.run_changed.emit(run, "metrics")

    # -- events ----------------------------------------------------------------------------------
    @Slot(object)
    def _on_job_finished(self, _job) -> None:
        if self.scorer is not None:  # the next queued job, if any, has started by now
            self.scorer.set_training(self.queue.current is not None)

    def _apply(self, run: Run, ev) -> None:
        """The one place a job's event changes a run (the queue calls it for every (run,
        event) pair, in the GUI thread, before the pair is told): the run itself through the
        reducer, and the session's maps of it. A run removed while it trained still ends (its
        job reads its state), but the maps forget it."""
        apply_event(run, ev)
        if run not in self.runs:
            return
        match ev:
            case StepsEvent():
                live = self._live_of(run)
                if live.speed is None:
                    live.speed = EtaEstimator()
                live.speed.add_steps(ev.n_steps, ev.steps_per_second, ev.steps_per_epoch)
                live.progress = Progress.of(ev, run.config.epochs, live.speed)
            case EpochEvent(eval_seconds=eval_seconds) if self._speed(run) is not None:
                self._live_of(run).speed.add_epoch(eval_seconds)
            case TrainingStarted():
                self._live_of(run).speed = EtaEstimator()  # a new job (continuing too): anew
            case ReconstructionsReady(grid=grid, caption=caption):
                self._live_of(run).strip = (grid, f"{run.name}: {caption}")
            case TrainingEnded() if (p := self.progress_of(run)) is not None:
                self._live_of(run).progress = p.stopped()

    def _live_of(self, run: Run) -> LiveState:
        return self._live.setdefault(run.id, LiveState())

    def _speed(self, run: Run) -> EtaEstimator | None:
        live = self._live.get(run.id)
        return live.speed if live is not None else None

    def progress_of(self, run: Run) -> Progress | None:
        """Where `run`'s job is (or ended), for the run list and the status bar; None if it
        never trained here."""
        live = self._live.get(run.id)
        return live.progress if live is not None else None

    @property
    def progress(self) -> dict[int, Progress]:
        """Run id -> where its job is (or ended): a snapshot of `progress_of` for every run."""
        return {i: x.progress for i, x in self._live.items() if x.progress is not None}

    @property
    def reconstructions(self) -> dict[int, tuple[np.ndarray, str]]:
        """Run id -> its latest reconstruction strip (grid, caption): a snapshot."""
        return {i: x.strip for i, x in self._live.items() if x.strip is not None}

    @Slot(object, object)
    def _on_queue_event(self, run: Run, ev) -> None:
        if run not in self.runs:  # removed while it trained: drop its late events
            return
        if self.scorer is not None and isinstance(ev, StateChanged) and ev.state == RunState.RUNNING:
            self.scorer.set_training(True)  # scoring waits until the queue is idle again
        match ev:
            case MessagePosted(text=text):
                # The fallback's notice is long (why, and how to get full MNIST): the status bar
                # gets its first clause, the Training tab's notice all of it.
                fallback = text.startswith(FALLBACK_PREFIX)
                self.message.emit(text.split(":")[0] + " (the Training tab says why)"
                                  if fallback else text, 15000)
                if fallback and not self._fallback_told:
                    self._fallback_told = True  # once per session: every 'auto' run says it
                    self.notice.emit(text)
            case TrainingEnded():
                self.message.emit(_ended_message(run), 20000 if run.error else 10000)
                self._tell_write_error(run)
                self._score(run)
        self.run_event.emit(run, ev)
        if what := changed_by(ev):
            self.run_changed.emit(run, what)

    @Slot(object, object, str)
    def _on_loader_loaded(self, run: Run, ds, message: str) -> None:
        self._loaders = [x for x in self._loaders if not x.is_finished]
        if self._closed or run not in self.runs:
            return
        if ds is not None:
            apply_event(run, DatasetLoaded(ds))
        if ds is not None and run.model is not None and self._live_of(run).strip is None:
            # A loaded run never trained here: give it the same strip a training run shows.
            grid = reconstruction_grid(run.model, ds.test, fixed_test_indices(ds.test.labels.numpy()))
            where = run.path.name if run.path else "file"
            self._live_of(run).strip = (grid, f"{run.name}: as loaded from {where}")
            self.run_event.emit(run, ReconstructionsReady(grid, f"as loaded from {where}"))
        if ds is not None:
            self.run_event.emit(run, DatasetLoaded(ds))
            self._score(run)
        text = message or (f"ready on {ds.name}" if ds is not None else "no dataset")
        self.message.emit(f"{run.name}: {text}", 15000 if message else 5000)
        self.run_changed.emit(run, "dataset")


    # -- background scores -----------------------------------------------------------------------
    def _score(self, run: Run) -> None:
        if self.scorer is not None and not self._closed and "quality" not in run.measures:
            self.scorer.request(run)

    @Slot(int, object, dict)
    def _on_scorer_scored(self, run_id: int, token: int, measures: dict) -> None:
        run = next((r for r in self.runs if r.id == run_id), None)
        if run is None or self._closed or RunScorer.token(run) != token or run.is_active:
            return  # removed, or its weights changed since: a newer request is on its way
        run.measures.update(measures)
        self.run_changed.emit(run, "measures")

    @Slot(str)
    def _on_scorer_status(self, text: str) -> None:
        self.message.emit(text, 8000)
        self.judge_status.emit(text)


_RUN_STATES = {"training": RunState.RUNNING, "paused": RunState.PAUSED,
               "finished": RunState.FINISHED, "stopped": RunState.STOPPED,
               "failed": RunState.FAILED, "interrupted": RunState.INTERRUPTED}


class MetricsFeed:
    """Turns a followed run's metrics records into its history and the loop's events."""

    def __init__(self) -> None:
        self.epoch_changed = False

    def events(self, history: History, lines: list[dict], config: TrainConfig) -> list:
        """Apply `lines` to `history`; the events that draw what changed: one StepsEvent for
        all new steps (from the earliest a continued run redid) and one EpochEvent a new epoch."""
        from latent_explorer.training.engine.events import EpochEvent as LoopEpochEvent
        from latent_explorer.training.engine.events import StepsEvent as LoopStepsEvent
        from latent_explorer.training.metrics.evaluate import EvalMetrics

        low = len(history)
        epochs_before = len(history.epochs)
        epoch = 0
        for rec in lines:
            apply_record(history, rec, EvalMetrics)
            low = min(low, len(history))
            epoch = int(rec.get("epoch", epoch) or epoch)
        out: list = []
        if len(history) > low:
            sl = slice(low, len(history))
            beta = history.beta[sl][None].copy() if history.has_beta else None
            out.append(LoopStepsEvent(low, history.recon[sl][None].copy(),
                                      history.kl[sl][None].copy(), history.total[sl][None].copy(),
                                      epoch, 0, 0, 0, 0.0, beta=beta))
        new_epochs = history.epochs[min(epochs_before, len(history.epochs)):]
        for e in new_epochs:
            out.append(LoopEpochEvent(e.epoch, e.step, (e.metrics,), 0.0, 0.0))
        self.epoch_changed = bool(new_epochs)
        return out


def _ended_message(run: Run) -> str:
    if run.state == RunState.FAILED:
        return f"{run.name} failed: {run.error}"
    if run.state == RunState.FINISHED:
        summary = f" ({run.metrics.summary()})" if run.metrics else ""
        return f"{run.name} finished{summary}"
    return f"{run.name} {run.state}"
