"""The one training loop: epochs of steps of M members, evaluated after each epoch.

The course's four pieces are here, with everything (models, optimizer, device, config) passed
in and no module globals: the model and its loss come from models/ (`LatentModel.loss`), one
step is the members strategy's (`training.engine.members`: the hand-written `FastStep` or
autograd for one model, the stacked batched step for a sweep), an epoch is `Loop._train`'s
inner loop over the strategy's batches, and evaluation is `training.metrics.evaluate.evaluate`.

`Loop` owns what every engine shares: pause, resume and stop at batch boundaries (thread-safe
flags), throttled step events (`notify_interval`), a member whose loss turns NaN/inf stopping
alone with its last good weights (a single run is one member: it fails), evaluation, the
timeline, and the typed hooks of `events.Observer`. `Trainer` is a loop of one member (with
exact resume from a checkpoint); `training.engine.sweep.SweepTrainer` a loop of a β × seed grid.
Qt is never imported.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
import torch

from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.models.registry import get_kind
from latent_explorer.training.config import TrainConfig, data_shape  # defined there, re-exported here for older imports
from latent_explorer.training.data.datasets import Dataset, batches_per_epoch
from latent_explorer.training.data.sources import load_dataset, source_names
from latent_explorer.training.engine.control import LoopControl
from latent_explorer.training.engine.device import flush_denormals, pick_device
from latent_explorer.training.engine.events import (
    EpochEvent,
    LoopResult,
    MemberFailedEvent,
    Observer,
    SnapshotEvent,
    StepsEvent,
    TrainingDiverged,
    TrainResult,
    all_failed_message,
    check_hooks,
    describe_error,
    divergence_message,
)
from latent_explorer.training.engine.members import Members, SingleMember, make_optimizer, make_step_fn
from latent_explorer.training.engine.rate_control import RateControl, RateControlState
from latent_explorer.training.engine.schedules import BestEpoch, Schedule, monitored_value, schedule_span
from latent_explorer.training.engine.resume import ResumeError, ResumeState, plan_resume
from latent_explorer.training.metrics.evaluate import EvalMetrics
from latent_explorer.training.record.history import History
from latent_explorer.training.record.timeline import NEVER, Snapshot, TimelineRecorder

# How often the weights are copied aside for a divergence rollback (a copy costs ~1 ms).
SNAPSHOT_INTERVAL_S = 1.0
RATE_WINDOW_S = 5.0  # steps/s is measured over a sliding window this long

TrainingObserver = Observer  # the single run's name for the one observer protocol


class Loop(LoopControl):
    """Trains the members of a strategy, telling observers; pause/resume/stop from any thread.

    `config` is a TrainConfig or a SweepConfig: the loop reads epochs, batch_size, lr, dataset
    and data_dir from it. `timeline` (one member only) records snapshots as the model learns.
    """

    def __init__(self, config, members: Members, dataset: Dataset | None = None,
                 observers: Sequence[Observer] = (), notify_interval: float = 1 / 30, *,
                 timeline: TimelineRecorder | None = None) -> None:
        if timeline is not None and members.n_members != 1:
            raise ValueError("a timeline records one member")
        self.config = config
        self.members = members
        self.dataset = dataset
        for obs in observers:
            check_hooks(obs)
        self.observers = list(observers)
        self.notify_interval = notify_interval
        self.device = members.device
        self.timeline_recorder = timeline
        self.errors: list[str | None] = [None] * members.n_members
        self.rate_control = _rate_control(members)
        # The best epoch of each member that keeps it or stops early (None: not tracked), and
        # the best weights of each member that keeps them.
        self.best: list[BestEpoch | None] = _best_epochs(members)
        self._best_weights: list[dict | None] = [
            members.resumed_best_weights(m) if _keeps_best(members.member_config(m)) else None
            for m in range(members.n_members)]
        self._stopped_early: str | None = None  # why, once the run stopped early
        # Whether each step's β goes into the histories and StepsEvent.beta: a β steered to a
        # target rate, or scheduled.
        self.logs_beta = (self.rate_control is not None
                          or Schedule.of(members.member_config(0), 1).has_kl)
        self._position: tuple[int, int, int] | None = None  # (step, epochs done, batch in epoch)
        self._boundary: tuple[int, int, int] | None = None  # set during on_epoch_end hooks
        self._eval_seconds = self._timeline_seconds = 0.0
        LoopControl.__init__(self)

    # -- queries ---------------------------------------------------------------------------------
    @property
    def n_members(self) -> int:
        return self.members.n_members

    @property
    def histories(self) -> list[History]:
        return self.members.histories

    @property
    def engine(self) -> str:
        return self.members.engine

    @property
    def active(self) -> tuple[bool, ...]:
        """Whether each member is still training (has not failed)."""
        return tuple(e is None for e in self.errors)

    def member_model(self, m: int) -> LatentModel:
        """A copy of member m's model and current weights.

        Call it from an observer hook or after `run()`: from another thread while training, a
        copy may catch weights halfway through an update.
        """
        return self.members.member_model(m)

    def preview_model(self, m: int) -> LatentModel | None:
        """Member m's model as it trains, to draw from in a hook (the loop waits meanwhile)."""
        return self.members.live_model(m)

    def resume_state(self, m: int = 0) -> ResumeState | None:
        """What continuing member m needs, once run() has ended with it not failed."""
        return self._state_at(m, self._position)

    def epoch_end_state(self, m: int = 0) -> ResumeState | None:
        """In an `on_epoch_end` hook: what continuing member m from the end of that epoch
        needs (a workspace's epoch checkpoints); None outside the hook or for a failed member."""
        return self._state_at(m, self._boundary)

    def _state_at(self, m: int, position: tuple[int, int, int] | None) -> ResumeState | None:
        if position is None or self.errors[m] is not None or self.dataset is None:
            return None
        state = self.members.resume_state(m, position, self.dataset)
        ctrl = self.rate_control.member_state(m) if self.rate_control is not None else None
        if state is not None and ctrl is not None:
            state = replace(state, rate_control=ctrl.to_dict())
        best = self.best[m]
        if state is not None and best is not None:
            state = replace(state, best=best.to_dict() if best.epoch else None,
                            weights=self.members.weights(m)
                            if _keeps_best(self.members.member_config(m)) else None)
        return state

    # -- running ---------------------------------------------------------------------------------
    def _emit(self, hook: str, arg) -> None:
        for obs in self.observers:
            getattr(obs, hook)(arg)

    def run(self) -> LoopResult:
        """Train to the end, a stop request or a failure; never raises for those."""
        t_start = time.perf_counter()
        self._emit("on_train_start", self)
        try:
            with flush_denormals():
                state, error = self._run()
        except Exception as e:  # noqa: BLE001 - any failure ends the loop as 'failed', reported
            state, error = "failed", describe_error(e)
            self.errors = [err if err is not None else error for err in self.errors]
        seconds = time.perf_counter() - t_start
        results = []
        for m, h in enumerate(self.histories):
            member_state = "failed" if self.errors[m] is not None else state
            model, metrics, note = self.kept(m)
            results.append(TrainResult(member_state, model, h, metrics, self.errors[m], seconds,
                                       self._eval_seconds, self._timeline_seconds,
                                       note=self._stopped_early or note))
        result = LoopResult(state, self.config, tuple(results), error, seconds)
        self._emit("on_train_end", result)
        return result

    def kept(self, m: int) -> tuple[LatentModel, EvalMetrics | None, str | None]:
        """(model, test metrics, note) member m's run keeps: the best epoch's weights and
        metrics for a run that keeps its best epoch (once one was evaluated), else its model as
        it is now (after the loop: the result model itself) and its last epoch's metrics. A
        checkpoint written while training should hold this model."""
        h = self.histories[m]
        best, weights = self.best[m], self._best_weights[m]
        if best is None or weights is None or not best.epoch:
            return self.members.result_model(m), h.last_metrics, None
        model = self.members.member_model(m)
        model.load_state_dict(weights)
        metrics = next((e.metrics for e in reversed(h.epochs) if e.epoch == best.epoch),
                       h.last_metrics)
        last = h.epochs[-1].epoch if h.epochs else 0
        note = (f"kept epoch {best.epoch}, the best {best.what} ({best.value:.4g})"
                if best.epoch != last or len(h) != best.step else None)
        return model, metrics, note

    def _run(self) -> tuple[str, str | None]:
        cfg = self.config
        if self.dataset is None:
            self.dataset = load_dataset(cfg.dataset, cfg.data_dir, **cfg.load_options)
        self.members.fit_dataset(self.dataset)
        data = self.dataset.to(self.device)  # once; batches are index slices of these tensors
        self.members.start(cfg.lr)
        try:
            return self._train(data)
        finally:
            self.members.close()

    def _train(self, data: Dataset) -> tuple[str, str | None]:
        cfg, mem = self.config, self.members
        M = mem.n_members
        histories = mem.histories
        n_batches = batches_per_epoch(len(data.train), cfg.batch_size)
        total_steps = n_batches * cfg.epochs
        step, epochs_done = mem.start_position()
        for h in histories:
            h.reserve(total_steps - len(h))
        active = np.array(self.active, dtype=bool)
        last_snapshot = time.perf_counter()
        rate = _Rate(step)
        last_notify = 0.0
        pending_from = step
        conditional = mem.is_conditional
        one = histories[0] if M == 1 else None  # a single run appends without a member loop
        ctrl = self.rate_control
        if ctrl is not None:
            mem.set_betas(ctrl.betas)
        # Schedules (schedules.py): β's factor and the learning rate as functions of the step,
        # set before each step; a run without them never touches β or the optimizer here.
        sched = Schedule.of(mem.member_config(0), n_batches)
        kl_sched, lr_sched = sched.has_kl, sched.has_lr
        base_betas = np.array([mem.member_config(m).beta for m in range(M)], dtype=np.float64)
        betas = base_betas
        flush = self._make_flush(n_batches, total_steps, rate)
        rec = self.timeline_recorder
        if rec is not None:
            self._record(rec.begin, mem.live_model(0), data.test, n_batches, cfg.epochs, step)
        next_snapshot = rec.next_step if rec is not None else NEVER  # a local: one compare a step
        for epoch in range(epochs_done + 1, cfg.epochs + 1):
            mem.set_train_mode()
            t_epoch = time.perf_counter()
            first, batches = mem.epoch_batches(data.train, cfg.batch_size, epoch, n_batches)
            for i, (xb, yb) in enumerate(batches, start=first):
                paused = self.wait_while_paused()
                if paused:
                    rate.t0 += paused  # pauses count neither as slow steps/s nor epoch time
                    t_epoch += paused
                if self.stop_requested:
                    self._position = (step, epoch - 1, i)
                    flush(pending_from, step, epoch, i)
                    return "stopped", None
                if lr_sched:
                    mem.set_lr(sched.lr_at(step))
                if kl_sched:
                    betas = base_betas * sched.kl_factor(step)
                    mem.set_betas(betas)
                losses, broken = mem.step(xb, yb if conditional else None)  # (3, M)
                if broken:
                    # The steps so far reach observers before the failure.
                    flush(pending_from, step, epoch, i)
                    pending_from = step
                    for m in broken:
                        active[m] = False
                        self._fail_member(m, step, epoch, losses[:, m])
                    if not active.any():
                        return "failed", all_failed_message(self.errors)
                if ctrl is not None:  # β steered to a target rate: log the step's, set the next
                    used = ctrl.betas.copy()
                    mem.set_betas(ctrl.update(losses[2], active))
                    for m in np.flatnonzero(active).tolist():
                        histories[m].append(losses[1, m], losses[2, m], losses[0, m], used[m])
                elif kl_sched:  # the scheduled β of the step, logged for the plots
                    for m in np.flatnonzero(active).tolist():
                        histories[m].append(losses[1, m], losses[2, m], losses[0, m], betas[m])
                elif one is not None:
                    one.append(losses[1, 0], losses[2, 0], losses[0, 0])
                else:
                    for m in np.flatnonzero(active).tolist():
                        histories[m].append(losses[1, m], losses[2, m], losses[0, m])
                step += 1
                if step >= next_snapshot:  # never without a recorder
                    assert rec is not None
                    done = epoch - 1 + (i + 1) / n_batches
                    self._record(rec.record_step, mem.live_model(0), step, done)
                    next_snapshot = rec.next_step
                now = time.perf_counter()
                if now - last_notify >= self.notify_interval:
                    flush(pending_from, step, epoch, i + 1)
                    pending_from, last_notify = step, now
                    if now - last_snapshot >= SNAPSHOT_INTERVAL_S:
                        mem.save_good(active)
                        last_snapshot = now
                    rate.slide(now, step)
            t_eval = time.perf_counter()
            flush(pending_from, step, epoch, n_batches)
            pending_from = step
            metrics = mem.evaluate(data.test, active)
            self._eval_seconds += time.perf_counter() - t_eval
            mem.save_good(active)
            for m, met in enumerate(metrics):
                if met is not None:
                    histories[m].add_epoch(epoch, step, met)
                    best = self.best[m]
                    if best is not None and best.update(epoch, step, monitored_value(met)) \
                            and _keeps_best(mem.member_config(m)):
                        self._best_weights[m] = mem.weights(m)
            # An epoch boundary, as a stop before the next epoch's first batch would see it: the
            # next shuffle is not drawn yet (epoch_batches draws it), so a resume state taken
            # in the hook continues exactly from here.
            mem.boundary_reached()
            self._boundary = (step, epoch, 0)
            self._emit("on_epoch_end", EpochEvent(epoch, step, tuple(metrics), t_eval - t_epoch,
                                                  time.perf_counter() - t_eval))
            self._boundary = None
            if rec is not None:
                self._record(rec.record_epoch_end, mem.live_model(0), epoch, step, metrics[0])
            due = [b.should_stop(epoch) for m, b in enumerate(self.best)
                   if b is not None and active[m]]
            if due and all(due) and epoch < cfg.epochs:
                self._stopped_early = next(b for b in self.best if b is not None).stop_message(
                    epoch) if M == 1 else f"stopped early after epoch {epoch}"
                self._position = (step, epoch, 0)
                mem.boundary_reached()
                return "finished", None
        self._position = (step, cfg.epochs, 0)
        mem.boundary_reached()
        return "finished", None

    def _fail_member(self, m: int, step: int, epoch: int, losses: np.ndarray) -> None:
        """Member m stopped (the strategy froze it before its update): its last good weights
        back if these are broken."""
        self.members.restore_if_broken(m)
        cfg = self.members.member_config(m)
        message = divergence_message(step, epoch, losses, cfg.lr, cfg.beta)
        self.errors[m] = str(TrainingDiverged(message))
        self._emit("on_member_failed", MemberFailedEvent(m, step, message))

    def _record(self, take, *args) -> None:
        """Record timeline snapshots with `take(*args)` (a TimelineRecorder method), timed."""
        t0 = time.perf_counter()
        snaps: list[Snapshot] = take(*args)
        self._timeline_seconds += time.perf_counter() - t0
        assert self.timeline_recorder is not None  # what `take` belongs to
        tl = self.timeline_recorder.timeline
        assert tl is not None  # begun
        for snap in snaps:
            self._emit("on_snapshot", SnapshotEvent(snap, tl.position(snap), len(tl)))

    def _make_flush(self, n_batches: int, total_steps: int, rate: "_Rate"):
        histories, M = self.members.histories, self.members.n_members

        def flush(first: int, step: int, epoch: int, step_in_epoch: int) -> None:
            """Tell observers the losses of steps first..step-1 (nothing when there are none)."""
            if step <= first:
                return
            n = step - first
            arrays = np.full((4, M, n), np.nan, dtype=np.float32)
            for m, h in enumerate(histories):
                k = min(max(len(h) - first, 0), n)
                if k:
                    arrays[0, m, :k] = h.recon[first:first + k]
                    arrays[1, m, :k] = h.kl[first:first + k]
                    arrays[2, m, :k] = h.total[first:first + k]
                    arrays[3, m, :k] = h.beta[first:first + k]
            self._emit("on_steps", StepsEvent(
                first, arrays[0], arrays[1], arrays[2], epoch, step_in_epoch, n_batches,
                total_steps, rate.per_second(step), self.active,
                tuple(len(h) for h in histories),
                beta=arrays[3] if self.logs_beta else None))
        return flush


def _keeps_best(config) -> bool:
    return getattr(config, "keep", "last") == "best"


def _best_epochs(members: Members) -> list[BestEpoch | None]:
    """Each member's best epoch, tracked when it keeps its best epoch or stops early (None
    otherwise), continuing a resumed member's where it stopped."""
    out: list[BestEpoch | None] = []
    for m in range(members.n_members):
        cfg = members.member_config(m)
        patience = int(getattr(cfg, "early_stop", 0))
        if not (_keeps_best(cfg) or patience):
            out.append(None)
            continue
        what = "test -ELBO" if get_kind(cfg.kind).variational else "test BCE"
        start = members.resumed_state(m)
        out.append(BestEpoch.from_dict(start.best, patience, what)
                   if start is not None and start.best is not None
                   else BestEpoch(patience, what=what))
    return out


def _rate_control(members: Members) -> RateControl | None:
    """The β controller of the members trained to a target rate (None when none is), continuing
    a resumed member's controller where it stopped."""
    configs = [members.member_config(m) for m in range(members.n_members)]
    if all(c.target_rate is None for c in configs):
        return None
    ctrl = RateControl([c.target_rate for c in configs], [c.beta for c in configs])
    for m in range(members.n_members):
        start = members.resumed_state(m)
        if start is not None and start.rate_control is not None:
            ctrl.load_member(m, RateControlState.from_dict(start.rate_control))
    return ctrl


class _Rate:
    """Steps per second over a sliding window; pauses are taken out by moving `t0`."""

    def __init__(self, step: int) -> None:
        self.t0, self.step0 = time.perf_counter(), step

    def per_second(self, step: int) -> float:
        elapsed = time.perf_counter() - self.t0
        return (step - self.step0) / elapsed if elapsed > 0 else 0.0

    def slide(self, now: float, step: int) -> None:
        if now - self.t0 > RATE_WINDOW_S:
            self.t0, self.step0 = now, step


# -- a single run: a loop of one member --------------------------------------------------------
class Trainer(Loop):
    """Trains one model from a TrainConfig, telling observers; pause/resume/stop from any thread.

    `resume` (from `plan_resume`, or `Trainer.from_checkpoint`) continues a run where it
    stopped, appending to `history`; `timeline` records snapshots as the model learns.
    """

    members: SingleMember  # always the one

    def __init__(
        self,
        config: TrainConfig,
        dataset: Dataset | None = None,
        observers: Sequence[Observer] = (),
        notify_interval: float = 1 / 30,
        model: LatentModel | None = None,
        *,
        history: History | None = None,
        resume: ResumeState | None = None,
        timeline: TimelineRecorder | None = None,
    ) -> None:
        member = SingleMember(config, pick_device(config.device), model, history, resume,
                              **data_shape(dataset))
        super().__init__(config, member, dataset, observers, notify_interval, timeline=timeline)

    @property
    def model(self) -> LatentModel:
        return self.members.model

    @property
    def history(self) -> History:
        return self.members.history

    @property
    def generator(self) -> torch.Generator:
        return self.members.generator

    @property
    def resumed_from(self) -> ResumeState | None:
        """Where training starts; None: from scratch."""
        return self.members.resumed_from

    def run_loop(self) -> LoopResult:
        """Run and return the loop's result (the one member's is `.results[0]`)."""
        return Loop.run(self)

    def run(self) -> TrainResult:  # type: ignore[override]
        """Train to the end, a stop request or a failure; the run's result (never raises)."""
        return Loop.run(self).results[0]

    @classmethod
    def from_checkpoint(
        cls,
        ckpt,
        epochs: int,
        dataset: Dataset | None = None,
        observers: Sequence[Observer] = (),
        *,
        device: str | None = None,
        allow_other_dataset: bool = False,
        record_timeline: bool = True,
        notify_interval: float = 1 / 30,
        notify: Callable[[str], None] | None = None,
    ) -> "Trainer":
        """Continue the run in a loaded Checkpoint to `epochs` in total; ResumeError if it cannot.

        The dataset is the run's own unless given. The checkpoint's model, history and timeline
        are continued in place. `trainer.resumed_from.notices` says what will not be exact (an
        older file without optimizer state, another dataset, another device).
        """
        stored = ckpt.train_config
        # Continued past the epochs it was planned for, a run's cosine decay or KL cycles keep
        # the span they had: the learning rate stays at its minimum, β at full weight.
        span = schedule_span(stored)
        try:
            config = replace(stored, epochs=int(epochs),
                             device=device if device is not None else stored.device,
                             schedule_epochs=stored.schedule_epochs
                             if span is None or span == int(epochs) else span)
        except ValueError as e:
            raise ResumeError(str(e)) from None
        if dataset is None:
            source, data_dir = resume_source(ckpt)
            dataset = load_dataset(source, data_dir, notify=notify, **stored.load_options)
        dev = pick_device(config.device)
        plan = plan_resume(stored, config, ckpt.model, ckpt.history, ckpt.resume, dataset, dev,
                           stored_dataset=ckpt.dataset, allow_other_dataset=allow_other_dataset)
        recorder = TimelineRecorder(ckpt.timeline) if record_timeline else None
        return cls(config, dataset, observers, notify_interval, ckpt.model,
                   history=ckpt.history, resume=plan, timeline=recorder)


def resume_source(ckpt) -> tuple[str, str | None]:
    """(dataset source, data folder) to load a checkpoint's run's data again.

    The dataset the run resolved to ('auto' may have become the bundled sample) when it is a
    named source, else the config's.
    """
    cfg = ckpt.train_config
    if cfg.data_dir is not None:
        return cfg.dataset, cfg.data_dir
    if ckpt.dataset in source_names() and ckpt.dataset != "auto":
        return ckpt.dataset, None
    return cfg.dataset, None


def train(config: TrainConfig, dataset: Dataset | None = None,
          observers: Sequence[Observer] = ()) -> TrainResult:
    """Convenience: build a Trainer and run it."""
    return Trainer(config, dataset, observers).run()


__all__ = ["EpochEvent", "Loop", "LoopResult", "MemberFailedEvent", "Observer", "SnapshotEvent",
           "StepsEvent", "TrainConfig", "TrainResult", "Trainer", "TrainingDiverged",
           "TrainingObserver", "make_optimizer", "make_step_fn", "resume_source", "train"]
