"""The training loop: a `Trainer` that runs epochs of steps and evaluates after each one.

The course's four pieces are here, as functions and one class, with everything (model,
optimizer, device, config) passed in and no module globals: the model and its loss come from
models/ (`LatentModel.loss`), one step is `fast_step.FastStep` (the hand-written backward, the
default) or `make_step_fn` (autograd), an epoch is `Trainer._train`'s inner loop over
`iterate_batches`, and evaluation is `training.metrics.evaluate.evaluate`. Observers
(`TrainingObserver`) hear about steps (batched: `notify_interval`), epoch ends and the end;
pause, resume and stop are thread-safe flags checked at every batch. Qt is never imported.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
import torch

from models import build_model
from models.autoencoders import LatentModel
from training.engine import fast_step
from training.config import TrainConfig  # defined there, re-exported here for older imports
from training.data.datasets import DataError, Dataset, batches_per_epoch, iterate_batches
from training.engine.device import flush_denormals, pick_device
from training.metrics.evaluate import EvalMetrics, evaluate
from training.record.history import History
from training.engine.resume import (
    ResumeError,
    ResumeState,
    dataset_fingerprint,
    load_optimizer_state,
    optimizer_state,
    plan_resume,
)
from training.data.sources import load_dataset, source_names
from training.record.timeline import NEVER, Snapshot, TimelineRecorder


# How often the weights are copied aside for a divergence rollback (a copy costs ~1 ms).
SNAPSHOT_INTERVAL_S = 1.0


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


# -- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepsEvent:
    """Losses of the steps since the last event (arrays, one entry per step)."""

    first_step: int
    recon: np.ndarray
    kl: np.ndarray
    total: np.ndarray
    epoch: int
    step_in_epoch: int
    steps_per_epoch: int
    total_steps: int
    steps_per_second: float

    @property
    def last_step(self) -> int:
        return self.first_step + len(self.total) - 1

    @property
    def eta_seconds(self) -> float:
        left = self.total_steps - self.last_step - 1
        return left / self.steps_per_second if self.steps_per_second > 0 else float("nan")


@dataclass(frozen=True)
class EpochEvent:
    """An epoch finished: its number (1-based), the step count so far and the test metrics."""

    epoch: int
    step: int
    metrics: EvalMetrics
    seconds: float  # training steps only (pauses excluded)
    eval_seconds: float


@dataclass(frozen=True)
class SnapshotEvent:
    """A timeline snapshot was recorded (in the training thread) at `index` of `count`."""

    snapshot: Snapshot
    index: int
    count: int


@dataclass
class TrainResult:
    """How a run ended: 'finished', 'stopped' or 'failed' (with the error)."""

    state: str
    model: LatentModel
    history: History
    metrics: EvalMetrics | None
    error: str | None = None
    seconds: float = 0.0
    eval_seconds: float = 0.0  # of `seconds`: the test evaluations after each epoch
    timeline_seconds: float = 0.0  # of `seconds`: recording the timeline's snapshots


class TrainingObserver:
    """Hooks the loop calls; override what you need. Misspelt hooks fail: the loop calls these."""

    def on_train_start(self, trainer: "Trainer") -> None: ...
    def on_steps(self, event: StepsEvent) -> None: ...
    def on_epoch_end(self, event: EpochEvent) -> None: ...
    def on_snapshot(self, event: SnapshotEvent) -> None: ...
    def on_train_end(self, result: TrainResult) -> None: ...


# -- the loop ----------------------------------------------------------------------------------
def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam; the fused kernel where this torch and device have it (one kernel, not one per tensor)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr)


def use_bf16(precision: str) -> bool:
    """Whether to train the matmuls in bfloat16 (weights, optimizer and losses stay float32).

    Only when asked for ('bf16'). 'auto' is float32: the hand-written fp32 step (fast_step)
    removes the per-op overhead that bf16 autocast adds to, and on CPUs without native bf16
    (AVX512-BF16 or AMX) bf16 is emulated and slower anyway.
    """
    return precision == "bf16"


def make_step_fn(model: LatentModel, optimizer: torch.optim.Optimizer, beta: float,
                 generator: torch.Generator, use_compile: bool, bf16: bool = False):
    """One optimisation step on a batch: returns a detached tensor [total, recon, kl]."""
    device_type = model.device.type

    def loss_parts(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            parts = model.loss(x, y if model.config.is_conditional else None, beta, generator)
        return torch.stack([p.float() for p in parts])

    if use_compile:
        try:
            loss_parts = torch.compile(loss_parts, dynamic=False)  # type: ignore[assignment]
        except Exception:  # noqa: BLE001 - no compiler here: eager is correct, just slower
            pass

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        parts = loss_parts(x, y)
        optimizer.zero_grad(set_to_none=True)
        parts[0].backward()
        return parts.detach()

    return step


class LoopControl:
    """Pause, resume and stop for a training loop, safe from any thread; checked at every batch.

    The loop calls `wait_while_paused()` at the top of each batch: it blocks while paused
    (`is_waiting` is then True) and returns the seconds it waited, which count neither as slow
    steps nor as epoch time. `stop_requested` is read right after.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._waiting = False
        self._running = threading.Event()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused loop so it can see the stop

    @property
    def is_paused(self) -> bool:
        return not self._running.is_set()

    @property
    def is_waiting(self) -> bool:
        """Paused and blocked at a batch boundary: no step runs, nothing more is reported."""
        return self._waiting

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self) -> float:
        """Block while paused; the seconds spent blocked (0.0 when running)."""
        if self._running.is_set():
            return 0.0
        paused_at = time.perf_counter()
        self._waiting = True  # the loop itself is blocked now (is_waiting)
        self._running.wait()
        self._waiting = False
        return time.perf_counter() - paused_at


class Trainer(LoopControl):
    """Trains one model from a TrainConfig, telling observers; pause/resume/stop from any thread.

    `resume` (from `plan_resume`, or `Trainer.from_checkpoint`) continues a run where it
    stopped, appending to `history`; `timeline` records snapshots as the model learns.
    """

    def __init__(
        self,
        config: TrainConfig,
        dataset: Dataset | None = None,
        observers: Sequence[TrainingObserver] = (),
        notify_interval: float = 1 / 30,
        model: LatentModel | None = None,
        *,
        history: History | None = None,
        resume: ResumeState | None = None,
        timeline: TimelineRecorder | None = None,
    ) -> None:
        self.config = config
        self.dataset = dataset
        self.observers = list(observers)
        self.notify_interval = notify_interval
        self.device = pick_device(config.device)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self._built_here = model is None
        self.model = model if model is not None else self._build_model(dataset)
        self.model.to(self.device)
        self.history = history if history is not None else History()
        self.resumed_from = resume  # where training starts; None: from scratch
        if resume is not None and len(self.history) != resume.step:
            raise ValueError(f"the history has {len(self.history)} steps but the resume state "
                             f"{resume.step}")
        self.timeline_recorder = timeline
        self._optimizer = None  # kept after the run: resume_state() reads Adam's moments
        self._position: tuple[int, int, int] | None = None  # (step, epochs done, batch in epoch)
        self._epoch_state: torch.Tensor | None = None  # the generator before this epoch's shuffle
        self._fingerprint: str | None = None  # of the dataset, hashed once
        self._eval_seconds = self._timeline_seconds = 0.0
        LoopControl.__init__(self)

    def _build_model(self, dataset: Dataset | None) -> LatentModel:
        """A fresh seeded model with one class per class of `dataset` (10 until it is known)."""
        n_classes = dataset.n_classes if dataset is not None else 10
        init_gen = torch.Generator().manual_seed(self.config.seed)
        return build_model(self.config.model_config(n_classes), init_gen)

    def _fit_dataset(self) -> None:
        """Make the model's classes match the dataset's: rebuild ours, refuse a given one."""
        ds, mc = self.dataset, self.model.config
        assert ds is not None
        if mc.is_conditional and ds.n_classes < 2:
            where = self.config.data_dir or ds.name
            raise DataError(f"{where}: a {mc.model_kind.label} needs at least 2 classes, "
                            f"this dataset has {ds.n_classes}")
        if mc.n_classes != ds.n_classes:
            if self._built_here:
                self.model = self._build_model(ds).to(self.device)
            elif mc.is_conditional:
                raise DataError(f"{ds.name}: {ds.n_classes} classes, but the model was built "
                                f"for {mc.n_classes}")

    @classmethod
    def from_checkpoint(
        cls,
        ckpt,
        epochs: int,
        dataset: Dataset | None = None,
        observers: Sequence[TrainingObserver] = (),
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
        try:
            config = replace(stored, epochs=int(epochs),
                             device=device if device is not None else stored.device)
        except ValueError as e:
            raise ResumeError(str(e)) from None
        if dataset is None:
            source, data_dir = resume_source(ckpt)
            dataset = load_dataset(source, data_dir, notify=notify)
        dev = pick_device(config.device)
        plan = plan_resume(stored, config, ckpt.model, ckpt.history, ckpt.resume, dataset, dev,
                           stored_dataset=ckpt.dataset, allow_other_dataset=allow_other_dataset)
        recorder = TimelineRecorder(ckpt.timeline) if record_timeline else None
        return cls(config, dataset, observers, notify_interval, ckpt.model,
                   history=ckpt.history, resume=plan, timeline=recorder)

    def resume_state(self) -> ResumeState | None:
        """What continuing this run needs, once run() has returned 'finished' or 'stopped'."""
        if self._position is None or self._optimizer is None:
            return None
        step, done, in_epoch = self._position
        gen = self.generator.get_state()
        if in_epoch == 0 and self._epoch_state is None:  # at a boundary, next shuffle not drawn
            epoch_state, gen_state = gen, None
        else:
            epoch_state, gen_state = self._epoch_state, gen
        params = list(self.model.parameters())
        data = self.dataset
        if self._fingerprint is None:  # a resumed run's plan already hashed this same data
            start = self.resumed_from
            self._fingerprint = (start.data_fingerprint if start is not None
                                 and start.data_fingerprint else dataset_fingerprint(data))
        return ResumeState(
            step=step, epochs_done=done, batch_in_epoch=in_epoch,
            steps_per_epoch=batches_per_epoch(len(data.train), self.config.batch_size),
            generator_state=gen_state, epoch_generator_state=epoch_state,
            generator_device=self.generator.device.type,
            optimizer=optimizer_state(self._optimizer, params),
            data_fingerprint=self._fingerprint)


    def _emit(self, hook: str, arg) -> None:
        for obs in self.observers:
            getattr(obs, hook)(arg)

    def _record(self, take, *args) -> None:
        """Record timeline snapshots with `take(*args)` (a TimelineRecorder method), timed."""
        t0 = time.perf_counter()
        snaps = take(*args)
        self._timeline_seconds += time.perf_counter() - t0
        self._emit_snapshots(snaps)

    def _emit_snapshots(self, snaps: list[Snapshot]) -> None:
        tl = self.timeline_recorder.timeline
        for snap in snaps:
            ev = SnapshotEvent(snap, tl.position(snap), len(tl))
            for obs in self.observers:
                # Tolerated when missing: observers written before this hook need not have it.
                hook = getattr(obs, "on_snapshot", None)
                if hook is not None:
                    hook(ev)

    def run(self) -> TrainResult:
        """Train to the end, a stop request or a failure; never raises for those."""
        t_start = time.perf_counter()
        for obs in self.observers:
            obs.on_train_start(self)
        try:
            with flush_denormals():
                result = self._run()
        except Exception as e:  # noqa: BLE001 - any failure ends the run as 'failed', reported
            result = TrainResult("failed", self.model, self.history, self.history.last_metrics,
                                 error=_describe(e))
        result.seconds = time.perf_counter() - t_start
        result.eval_seconds, result.timeline_seconds = self._eval_seconds, self._timeline_seconds
        self.model.eval()
        self._emit("on_train_end", result)
        return result

    def _run(self) -> TrainResult:
        cfg = self.config
        if self.dataset is None:
            self.dataset = load_dataset(cfg.dataset, cfg.data_dir)
        self._fit_dataset()
        data = self.dataset.to(self.device)  # once; batches are index slices of these tensors
        model = self.model
        self.bf16 = use_bf16(cfg.precision)
        self.engine = ("fast" if cfg.engine == "fast" and not (self.bf16 or cfg.compile)
                       and "fast" in model.config.model_kind.engines
                       and fast_step.supports(model) else "autograd")
        if self.engine == "fast":
            optimizer = fast_step.FlatAdam(model.parameters(), lr=cfg.lr)
            step_fn = fast_step.FastStep(model, model.config.beta, self.generator)
        else:
            optimizer = make_optimizer(model, cfg.lr)
            step_fn = make_step_fn(model, optimizer, model.config.beta, self.generator,
                                   cfg.compile, self.bf16)
        if self.resumed_from is not None and self.resumed_from.optimizer is not None:
            load_optimizer_state(optimizer, list(model.parameters()), self.resumed_from.optimizer)
        self._optimizer = optimizer
        try:
            return self._train(data, model, optimizer, step_fn)
        finally:
            if isinstance(optimizer, fast_step.FlatAdam):
                optimizer.release()

    def _epoch_batches(self, data: Dataset, epoch: int, n_batches: int):
        """This epoch's batches, continuing a resumed epoch exactly where it stopped."""
        cfg, start, gen = self.config, self.resumed_from, self.generator
        if start is None or epoch != start.epochs_done + 1:
            self._epoch_state = gen.get_state()  # regenerates this epoch's order on resume
            return 0, iterate_batches(data.train, cfg.batch_size, gen)
        skip = start.batch_in_epoch
        if start.epoch_generator_state is None:  # the order cannot be drawn again: a new one
            if start.generator_state is not None:
                gen.set_state(start.generator_state)
            self._epoch_state = gen.get_state()
            return skip, itertools.islice(iterate_batches(data.train, cfg.batch_size, gen),
                                          n_batches - skip)
        # From the epoch's pre-shuffle state the shuffle is drawn again, the batches already
        # trained are passed over, and the noise continues from the state at the stop.
        gen.set_state(start.epoch_generator_state)
        self._epoch_state = start.epoch_generator_state
        return skip, _continue_epoch(iterate_batches(data.train, cfg.batch_size, gen), skip, gen,
                                     start.generator_state)

    def _train(self, data: Dataset, model: LatentModel, optimizer, step_fn) -> TrainResult:
        cfg = self.config
        n_batches = batches_per_epoch(len(data.train), cfg.batch_size)
        total_steps = n_batches * cfg.epochs
        start = self.resumed_from
        step = start.step if start is not None else 0
        first_epoch = start.epochs_done + 1 if start is not None else 1
        self.history.reserve(total_steps - len(self.history))
        snapshot, last_snapshot = _snapshot(model), time.perf_counter()
        rate_t0, rate_step0 = time.perf_counter(), step
        last_notify = 0.0
        pending_from = step
        conditional = model.config.is_conditional
        rec = self.timeline_recorder
        if rec is not None:
            self._record(rec.begin, model, data.test, n_batches, cfg.epochs, step)
        next_snapshot = rec.next_step if rec is not None else NEVER  # a local: one compare a step
        for epoch in range(first_epoch, cfg.epochs + 1):
            model.train()
            t_epoch = time.perf_counter()
            first, batches = self._epoch_batches(data, epoch, n_batches)
            for i, (xb, yb) in enumerate(batches, start=first):
                paused = self.wait_while_paused()
                if paused:
                    rate_t0 += paused  # pauses count neither as slow steps/s nor epoch time
                    t_epoch += paused
                if self.stop_requested:
                    self._position = (step, epoch - 1, i)
                    return self._stopped(pending_from, step, epoch, i, n_batches, total_steps,
                                         rate_t0, rate_step0)
                losses = step_fn(xb, yb if conditional else None)
                total, recon, kl = losses.tolist()
                if not (math.isfinite(total) and math.isfinite(recon) and math.isfinite(kl)):
                    _restore_if_broken(model, snapshot)
                    self._flush(pending_from, step, epoch, i, n_batches, total_steps, rate_t0,
                                rate_step0)
                    what = "NaN" if any(v != v for v in (total, recon, kl)) else "infinite"
                    raise TrainingDiverged(
                        f"training diverged at step {step + 1} (epoch {epoch}): the loss became "
                        f"{what}. The learning rate ({cfg.lr:g}) or beta ({model.config.beta:g}) "
                        "is probably too large; the last good weights were kept."
                    )
                optimizer.step()
                self.history.append(recon, kl, total)
                step += 1
                if step >= next_snapshot:
                    done = epoch - 1 + (i + 1) / n_batches
                    self._record(rec.record_step, model, step, done)
                    next_snapshot = rec.next_step
                now = time.perf_counter()
                if now - last_notify >= self.notify_interval:
                    self._flush(pending_from, step, epoch, i + 1, n_batches, total_steps,
                                rate_t0, rate_step0)
                    pending_from, last_notify = step, now
                    if now - last_snapshot >= SNAPSHOT_INTERVAL_S:
                        snapshot, last_snapshot = _snapshot(model, snapshot), now
                    if now - rate_t0 > 5.0:  # a sliding window for steps/s
                        rate_t0, rate_step0 = now, step
            t_eval = time.perf_counter()
            self._flush(pending_from, step, epoch, n_batches, n_batches, total_steps, rate_t0,
                        rate_step0)
            pending_from = step
            metrics = evaluate(model, data.test, batch_size=1000)
            self._eval_seconds += time.perf_counter() - t_eval
            snapshot = _snapshot(model, snapshot)
            self.history.add_epoch(epoch, step, metrics)
            self._emit("on_epoch_end", EpochEvent(epoch, step, metrics, t_eval - t_epoch,
                                                  time.perf_counter() - t_eval))
            if rec is not None:
                self._record(rec.record_epoch_end, model, epoch, step, metrics)
        self._position, self._epoch_state = (step, cfg.epochs, 0), None
        return TrainResult("finished", model, self.history, self.history.last_metrics)

    def _stopped(self, pending_from, step, epoch, i, n_batches, total_steps, rate_t0, rate_step0):
        self._flush(pending_from, step, epoch, i, n_batches, total_steps, rate_t0, rate_step0)
        return TrainResult("stopped", self.model, self.history, self.history.last_metrics)

    def _flush(self, first: int, step: int, epoch: int, step_in_epoch: int, n_batches: int,
               total_steps: int, rate_t0: float, rate_step0: int) -> None:
        if step <= first:
            return
        elapsed = time.perf_counter() - rate_t0
        rate = (step - rate_step0) / elapsed if elapsed > 0 else 0.0
        h = self.history
        self._emit("on_steps", StepsEvent(
            first, h.recon[first:step].copy(), h.kl[first:step].copy(), h.total[first:step].copy(),
            epoch, step_in_epoch, n_batches, total_steps, rate))


def _continue_epoch(batches, skip: int, generator: torch.Generator,
                    state: torch.Tensor | None):
    """`batches` from index `skip` on, with the generator set to `state` before the first.

    Taking the first batch draws the epoch's shuffle (from the generator's pre-shuffle state);
    the skipped batches are only index slices, no random draws.
    """
    for k, b in enumerate(batches):
        if k < skip:
            continue
        if k == skip and state is not None:
            generator.set_state(state)
        yield b


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


def _finite(t: torch.Tensor) -> bool:
    """Whether every entry of `t` is finite, by its sum: NaN and ±inf propagate through a sum,
    and one reduction is ~25× cheaper than `isfinite(t).all()`, which has no vectorised CPU
    kernel. (Finite weights summing past 3e38 would read as broken: none train like that.)"""
    return bool(torch.isfinite(t.sum()))


def _snapshot(model: torch.nn.Module, into: dict | None = None) -> dict:
    """A copy of the weights, refreshed in place, so divergence can roll back to it."""
    state = model.state_dict()
    if into is None:
        return {k: v.detach().clone() for k, v in state.items()}
    if all(_finite(v) for v in state.values()):
        for k, v in state.items():
            into[k].copy_(v)
    return into


def _restore_if_broken(model: torch.nn.Module, snapshot: dict) -> None:
    if not all(_finite(p.detach()) for p in model.parameters()):
        model.load_state_dict(snapshot)


def _describe(e: BaseException) -> str:
    if isinstance(e, torch.OutOfMemoryError):
        return "out of memory: try a smaller batch size or the CPU device"
    msg = str(e) or type(e).__name__
    if isinstance(e, (TrainingDiverged,)) or type(e).__module__.startswith("training"):
        return msg
    return f"{type(e).__name__}: {msg}"


def train(config: TrainConfig, dataset: Dataset | None = None,
          observers: Sequence[TrainingObserver] = ()) -> TrainResult:
    """Convenience: build a Trainer and run it."""
    return Trainer(config, dataset, observers).run()


__all__ = ["EpochEvent", "SnapshotEvent", "StepsEvent", "TrainConfig", "TrainResult", "Trainer",
           "TrainingDiverged", "TrainingObserver", "make_optimizer", "resume_source", "train"]
