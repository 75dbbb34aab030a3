"""A β sweep as one job: every member trained at once by a `SweepTrainer`, one Run per member.

The worker is the sweep's observer (training/engine/sweep.py) and emits through one `event` signal:
the shared events as they are (DatasetLoaded, TrainingStarted, MessagePosted, the sweep's
SweepStepsEvent and SweepEpochEvent with their (M, n) arrays), and per-member ones wrapped as
`MemberEvent(member, event)` or `MemberFailed(member, message)`. `SweepJob.apply` maps each
onto the member's Run with the events a single run would have sent (`for_member(m)`), so the
loss plot, the run list and the panels treat members like any run.

Control: the members share one loop, so pausing, resuming or stopping any member's run acts on
the whole sweep (the window says so). Stopping keeps every member's weights as they are.

This module imports torch: the window imports it only after it is visible.
"""

from __future__ import annotations

from typing import Iterable

from explorer.session.datasets import DatasetCache
from explorer.session.job_events import (
    DatasetLoaded,
    MemberEvent,
    MemberFailed,
    MessagePosted,
    ReconstructionsReady,
    TrainingEnded,
    TrainingStarted,
    WeightsSnapshot,
)
from explorer.session.jobs import STEPS_INTERVAL_S, EngineWorker, Job
from training.data.datasets import Dataset
from training.engine.device import describe_device
from training.explore.panel_math import reconstruction_grid
from training.record.run import Run, RunState
from training.engine.sweep import (SweepConfig, SweepEpochEvent, SweepObserver, SweepResult,
                            SweepStepsEvent, SweepTrainer)


class SweepWorker(EngineWorker, SweepObserver):
    """Runs one SweepTrainer in its thread and emits what happens as events (see the module)."""

    def __init__(self, config: SweepConfig, datasets: DatasetCache,
                 dataset: Dataset | None = None) -> None:
        super().__init__(config, datasets, dataset)

    def _make_trainer(self, dataset: Dataset) -> SweepTrainer:
        return SweepTrainer(self.config, dataset, observers=[self],
                            notify_interval=STEPS_INTERVAL_S)

    # -- SweepObserver hooks (in the worker thread) ----------------------------------------------
    def on_train_start(self, trainer: SweepTrainer) -> None:
        self.event.emit(TrainingStarted(describe_device(trainer.device)))

    def on_steps(self, event: SweepStepsEvent) -> None:
        self.event.emit(event)  # the trainer already batches steps (STEPS_INTERVAL_S)

    def on_epoch_end(self, event: SweepEpochEvent) -> None:
        self.event.emit(event)
        trainer = self._trainer
        if trainer is None or self._dataset is None or self._recon_idx is None:
            return
        weights = self._weights_due(final=event.epoch >= trainer.config.epochs)
        for m, met in enumerate(event.metrics):
            if met is None:
                continue
            try:  # member_model copies the weights: safe inside the hook
                model = trainer.member_model(m)
                grid = reconstruction_grid(model, self._dataset.test, self._recon_idx)
            except Exception:  # noqa: BLE001 - a preview must never break training
                return
            self.event.emit(MemberEvent(m, ReconstructionsReady(grid,
                                                                f"after epoch {event.epoch}")))
            if weights:  # the copy is the panels' now: this thread drops it
                model.requires_grad_(False)
                self.event.emit(MemberEvent(m, WeightsSnapshot(model, event.epoch, event.step)))

    def on_member_failed(self, member_index: int, message: str) -> None:
        self.event.emit(MemberFailed(member_index, message))

    def on_train_end(self, result: SweepResult) -> None:
        for m, r in enumerate(result.results):
            self.event.emit(MemberEvent(m, TrainingEnded(r, r.error)))


class SweepJob(Job):
    """The members of one sweep (runs[m] is member m of `config.members()`), trained at once."""

    def __init__(self, runs: list[Run], config: SweepConfig, datasets: DatasetCache,
                 dataset: Dataset | None = None) -> None:
        if len(runs) != config.n_members:
            raise ValueError(f"{len(runs)} runs for a sweep of {config.n_members} members")
        super().__init__(runs, SweepWorker(config, datasets, dataset))
        self.config = config

    def apply(self, ev) -> Iterable[tuple[Run, object]]:
        match ev:
            case DatasetLoaded(dataset=ds):
                for run in self.runs:
                    run.dataset = ds
                    yield run, ev
            case TrainingStarted() | MessagePosted():
                for run in self.runs:
                    yield run, ev
            case SweepStepsEvent():
                for m, run in enumerate(self.runs):
                    if run.state != RunState.FAILED and (e := ev.for_member(m)) is not None:
                        yield run, e
            case SweepEpochEvent():
                for m, run in enumerate(self.runs):
                    if run.state != RunState.FAILED and (e := ev.for_member(m)) is not None:
                        run.history.add_epoch(e.epoch, e.step, e.metrics)
                        run.metrics = e.metrics
                        yield run, e
            case MemberFailed(member=m, message=message):
                run = self.runs[m]
                run.error = message
                yield from self.set_state(run, RunState.FAILED)
                yield run, MessagePosted(f"{run.name} ({run.group}) stopped alone: {message} "
                                         "The other members train on.")
            case MemberEvent(member=m, event=ReconstructionsReady() as e):
                yield self.runs[m], e
            case MemberEvent(member=m, event=WeightsSnapshot() as e):
                run = self.runs[m]
                if run.state != RunState.FAILED:
                    run.model, run.snapshot_epoch = e.model, e.epoch
                    yield run, e
            case MemberEvent(member=m, event=TrainingEnded(result=result) as e) if result:
                run = self.runs[m]
                run.model, run.history, run.metrics = result.model, result.history, result.metrics
                run.error = result.error
                run.snapshot_epoch = None
                run.resume = None  # a member continues from its weights, with a fresh optimizer
                yield from self.set_state(run, RunState(result.state))
                yield run, e
            case TrainingEnded(result=None, error=error):  # the sweep never trained
                for run in self.runs:
                    run.error = error or run.error
                    run.snapshot_epoch = None
                    yield from self.set_state(run, RunState.FAILED if run.error
                                              else RunState.STOPPED)
                    yield run, ev
            case _:
                raise TypeError(f"unknown sweep job event {ev!r}")


def sweep_group_name(config: SweepConfig, number: int) -> str:
    """'sweep 1: VAE β×7' (and '×2 seeds' when there are several)."""
    seeds = f" ×{len(config.seeds)} seeds" if len(config.seeds) > 1 else ""
    return f"sweep {number}: {config.kind.upper()} β×{len(config.betas)}{seeds}"


def member_run_name(beta: float, seed: int) -> str:
    """'β=0.01 s0'."""
    return f"β={beta:g} s{seed}"


__all__ = ["SweepJob", "SweepWorker", "member_run_name", "sweep_group_name"]
