"""β sweeps: every (β, seed) member trained at once in one stacked model, observed like a run.

A `SweepTrainer` is the sweep's counterpart of `training.engine.loop.Trainer`: the same minibatches
for every member, each member initialised exactly like the single run of its seed
(`build_model(..., torch.Generator().manual_seed(seed))`) and drawing its reparametrisation
noise from a generator of its seed, one hand-written batched step (`training.engine.sweep_step`) and
one flat fused Adam step for all. Adam is elementwise, so one flat step is each member's own
step; β enters only its member's loss. A member whose loss turns NaN or infinite stops alone:
its weights go back to its last good snapshot and its gradient and Adam moments are zeroed so
it stays put, while the others train on.

Reproduction: a member of the first seed is the single run of its β and seed (same init, same
minibatch order, same ε, up to float32 rounding of batched against single matmuls). A member of
another seed has its seed's init and ε but the first seed's minibatch order: every member sees
the same minibatches, which is what makes one batched step possible.

Observers get the loop's hooks (throttled to ~30 calls a second) with (M, n) arrays; each event
has `for_member(m)`, the event a single run of that member would have sent.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from models import build_model
from models.registry import get_kind, list_kinds
from models.autoencoders import LatentModel
from training.data.datasets import DataError, Dataset, batches_per_epoch, iterate_batches
from training.engine.device import flush_denormals, pick_device
from training.metrics.evaluate import EvalMetrics, evaluate
from training.engine.fast_step import FlatAdam
from training.record.history import History
from training.engine.loop import (SNAPSHOT_INTERVAL_S, EpochEvent, LoopControl, StepsEvent,
                           TrainConfig, TrainingDiverged, TrainResult, _describe)
from training.config import SweepListError, parse_betas, parse_seeds  # noqa: F401
from training.data.sources import load_dataset
from training.engine.sweep_step import MemberGroups, StackedModel

MAX_MEMBERS = 64
# The course's grid: 0 (an AE in disguise), then 1e-4 … 10 in steps of 10x.
COURSE_BETAS = (0.0, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)


# -- config ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepConfig:
    """A grid of β × seed for one model kind; the other fields are shared by every member."""

    kind: str = "vae"
    betas: tuple[float, ...] = COURSE_BETAS
    seeds: tuple[int, ...] = (0,)
    nz: int = 32
    hidden: tuple[int, ...] = (256, 64)
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    device: str = "auto"
    dataset: str = "auto"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        # JSON round trips turn tuples into lists; normalise so configs compare equal.
        object.__setattr__(self, "betas", tuple(_as_float(b) for b in self.betas))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """Human-readable reasons this sweep cannot train (empty when fine)."""
        p = []
        choices = " or ".join(sweep_kinds())
        try:
            if not get_kind(self.kind).variational:
                p.append(f"an {get_kind(self.kind).label} has no beta to sweep "
                         f"(choose {choices})")
        except ValueError:
            p.append(f"unknown model {self.kind!r} (choose {choices})")
        if not self.betas:
            p.append("the list of betas is empty")
        bad = [b for b in self.betas if not (math.isfinite(b) and b >= 0)]
        if bad:
            p.append(f"beta must be a finite number >= 0, got {_fmt(bad[0])}")
        if not self.seeds:
            p.append("the list of seeds is empty")
        bad_seeds = [s for s in self.seeds if not (isinstance(s, int) and 0 <= s < 2**63)]
        if bad_seeds:
            p.append(f"seed must be a whole number between 0 and 2^63-1, got {bad_seeds[0]}")
        for what, values in (("beta", self.betas), ("seed", self.seeds)):
            dupes = sorted({v for v in values if values.count(v) > 1}, key=values.index)
            if dupes:
                p.append(f"duplicate {what} {_fmt(dupes[0])}: each (beta, seed) member must "
                         "be listed once")
        n = len(self.betas) * len(self.seeds)
        if n > MAX_MEMBERS:
            p.append(f"{len(self.betas)} betas x {len(self.seeds)} seeds = {n} members; "
                     f"at most {MAX_MEMBERS}")
        if not 1 <= self.nz <= 4096:
            p.append(f"nz must be between 1 and 4096, got {self.nz}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            p.append(f"hidden sizes must be positive, got {self.hidden}")
        if self.epochs < 1:
            p.append(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            p.append(f"batch size must be at least 1, got {self.batch_size}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            p.append(f"learning rate must be > 0, got {self.lr}")
        return p

    def members(self) -> tuple[tuple[float, int], ...]:
        """The (β, seed) grid, β-major: member m is members()[m]."""
        return tuple((b, s) for b in self.betas for s in self.seeds)

    @property
    def n_members(self) -> int:
        return len(self.betas) * len(self.seeds)

    def member_config(self, m: int) -> TrainConfig:
        """The TrainConfig of member m's equivalent single run (fast engine, float32)."""
        beta, seed = self.members()[m]
        return TrainConfig(kind=self.kind, beta=beta, nz=self.nz, hidden=self.hidden,
                           epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                           seed=seed, device=self.device, dataset=self.dataset,
                           data_dir=self.data_dir)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "betas": list(self.betas), "seeds": list(self.seeds),
                "nz": self.nz, "hidden": list(self.hidden), "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "device": self.device,
                "dataset": self.dataset, "data_dir": self.data_dir}

    @classmethod
    def from_dict(cls, d: dict) -> "SweepConfig":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()
                      if k in known})


def sweep_kinds() -> tuple[str, ...]:
    """The registered model kinds with a β to sweep (the variational ones)."""
    return tuple(k.name for k in list_kinds() if k.variational)


def _as_float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan  # reported by problems() as not a finite number


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def log_grid(low: float, high: float, per_decade: int = 1, with_zero: bool = True) -> tuple[float, ...]:
    """β values from `low` to `high` (both > 0) at `per_decade` points per factor of 10,
    with 0 first when asked: log_grid(1e-4, 10) is the course's grid."""
    if not (0 < low <= high and math.isfinite(high)) or per_decade < 1:
        raise ValueError(f"need 0 < low <= high and per_decade >= 1, got {low}, {high}, "
                         f"{per_decade}")
    n = round(math.log10(high / low) * per_decade)
    values = [float(f"{low * 10 ** (i / per_decade):.3g}") for i in range(n + 1)]
    return ((0.0,) if with_zero else ()) + tuple(dict.fromkeys(values))


# -- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepStepsEvent:
    """Losses of the sweep steps since the last event: (M, n) arrays, NaN where a member had
    already failed; `member_steps[m]` is how many steps member m has trained in all."""

    first_step: int
    recon: np.ndarray
    kl: np.ndarray
    total: np.ndarray
    active: tuple[bool, ...]
    member_steps: tuple[int, ...]
    epoch: int
    step_in_epoch: int
    steps_per_epoch: int
    total_steps: int
    steps_per_second: float  # sweep steps (each trains every active member once)

    @property
    def n_members(self) -> int:
        return len(self.active)

    @property
    def last_step(self) -> int:
        return self.first_step + self.total.shape[1] - 1

    @property
    def eta_seconds(self) -> float:
        left = self.total_steps - self.last_step - 1
        return left / self.steps_per_second if self.steps_per_second > 0 else float("nan")

    def for_member(self, m: int) -> StepsEvent | None:
        """The StepsEvent a single run of member m would have sent (None: no step of it here)."""
        n = self.member_steps[m] - self.first_step
        if n <= 0:
            return None
        if n == self.total.shape[1]:
            epoch, in_epoch = self.epoch, self.step_in_epoch
        else:  # it failed inside this chunk: place the event at its own last step
            epoch, in_epoch = divmod(self.member_steps[m] - 1, self.steps_per_epoch)
            epoch, in_epoch = epoch + 1, in_epoch + 1
        return StepsEvent(self.first_step, self.recon[m, :n].copy(), self.kl[m, :n].copy(),
                          self.total[m, :n].copy(), epoch, in_epoch, self.steps_per_epoch,
                          self.total_steps, self.steps_per_second)


@dataclass(frozen=True)
class SweepEpochEvent:
    """An epoch finished: test metrics per member (None for a member that failed)."""

    epoch: int
    step: int
    metrics: tuple[EvalMetrics | None, ...]
    seconds: float  # training steps only (pauses excluded)
    eval_seconds: float

    def for_member(self, m: int) -> EpochEvent | None:
        """The EpochEvent of member m (None when it had failed)."""
        met = self.metrics[m]
        if met is None:
            return None
        return EpochEvent(self.epoch, self.step, met, self.seconds, self.eval_seconds)


@dataclass(frozen=True)
class SweepResult:
    """How a sweep ended ('finished', 'stopped' or 'failed') and each member's own result.

    A sweep finishes when every member that did not fail finished; it fails when all members
    failed or the sweep itself broke (bad data, out of memory: `error`).
    """

    state: str
    config: SweepConfig
    results: tuple[TrainResult, ...]  # one per member, in SweepConfig.members() order
    error: str | None = None
    seconds: float = 0.0


class SweepObserver:
    """Hooks the sweep calls; override what you need. Misspelt hooks fail: the sweep calls these."""

    def on_train_start(self, trainer: "SweepTrainer") -> None: ...
    def on_steps(self, event: SweepStepsEvent) -> None: ...
    def on_epoch_end(self, event: SweepEpochEvent) -> None: ...
    def on_member_failed(self, member_index: int, message: str) -> None: ...
    def on_train_end(self, result: SweepResult) -> None: ...


# -- the sweep loop ----------------------------------------------------------------------------
class SweepTrainer(LoopControl):
    """Trains every member of a SweepConfig at once, telling observers; pause/resume/stop from
    any thread, acting at batch boundaries."""

    def __init__(
        self,
        config: SweepConfig,
        dataset: Dataset | None = None,
        observers: Sequence[SweepObserver] = (),
        notify_interval: float = 1 / 30,
        workers: int | None = None,
    ) -> None:
        self.config = config
        self.dataset = dataset
        self.observers = list(observers)
        self.notify_interval = notify_interval
        self.device = pick_device(config.device)
        self.members = config.members()
        self.n_members = len(self.members)
        self.member_configs = tuple(config.member_config(m) for m in range(self.n_members))
        # Member 0's seed orders the minibatches, as in that seed's single run; the members'
        # ε come from their own copies of their seed's generator (see MemberGroups).
        self.order_generator = torch.Generator(device=self.device).manual_seed(self.members[0][1])
        # Threads, each training a group of whole members (CPU); one group elsewhere.
        self.workers = workers if workers is not None else (
            min(torch.get_num_threads(), self.n_members) if self.device.type == "cpu" else 1)
        self.model = self._build_model(dataset.n_classes if dataset is not None else 10)
        self.histories = [History() for _ in range(self.n_members)]
        self.errors: list[str | None] = [None] * self.n_members
        LoopControl.__init__(self)

    def _build_model(self, n_classes: int) -> StackedModel:
        """Every member initialised as its single run's model, stacked."""
        models = [build_model(c.model_config(n_classes), torch.Generator().manual_seed(c.seed))
                  for c in self.member_configs]
        return StackedModel.from_models(models, self.device)


    @property
    def active(self) -> tuple[bool, ...]:
        """Whether each member is still training (has not failed)."""
        return tuple(e is None for e in self.errors)

    def member_model(self, m: int) -> LatentModel:
        """A plain LatentModel with a copy of member m's current weights (its β in its config).

        Call it from an observer hook or after `run()`: from another thread while training, a
        copy may catch weights halfway through an update.
        """
        return self.model.member_model(m, beta=self.members[m][0])

    def _emit(self, hook: str, *args) -> None:
        for obs in self.observers:
            getattr(obs, hook)(*args)

    def run(self) -> SweepResult:
        """Train to the end, a stop request or a failure; never raises for those."""
        t_start = time.perf_counter()
        self._emit("on_train_start", self)
        try:
            with flush_denormals():
                state, error = self._run()
        except Exception as e:  # noqa: BLE001 - any failure ends the sweep as 'failed', reported
            state, error = "failed", _describe(e)
            for m in range(self.n_members):
                if self.errors[m] is None:
                    self.errors[m] = error
        seconds = time.perf_counter() - t_start
        results = []
        for m in range(self.n_members):
            h = self.histories[m]
            member_state = "failed" if self.errors[m] is not None else state
            results.append(TrainResult(member_state, self.member_model(m), h, h.last_metrics,
                                       self.errors[m], seconds))
        result = SweepResult(state, self.config, tuple(results), error, seconds)
        self._emit("on_train_end", result)
        return result

    def _run(self) -> tuple[str, str | None]:
        if self.dataset is None:
            cfg = self.config
            self.dataset = load_dataset(cfg.dataset, cfg.data_dir)
        n_classes = self.dataset.n_classes
        if self.model.config.is_conditional and n_classes < 2:
            raise DataError(f"{self.config.data_dir or self.dataset.name}: a CVAE needs at "
                            f"least 2 classes, this dataset has {n_classes}")
        if self.model.config.n_classes != n_classes:  # the data was loaded only now
            self.model = self._build_model(n_classes)
        data = self.dataset.to(self.device)  # once; batches are index slices of these tensors
        optimizer = FlatAdam(self.model.params, lr=self.config.lr)
        groups = None
        try:
            # Built after FlatAdam, which moves the weights into its flat buffer.
            groups = MemberGroups(self.model, [b for b, _ in self.members],
                                  [s for _, s in self.members], optimizer, self.workers)
            # Evaluation models whose weights are views of the members' slices: no copies.
            self._eval_models = [
                self.model.member_view(m, build_model(c.model_config(n_classes))
                                       .to(self.device))
                for m, c in enumerate(self.member_configs)]
            return self._train(data, groups)
        finally:
            self._eval_models = []
            if groups is not None:
                groups.close()
            optimizer.release()

    def _train(self, data: Dataset, groups: MemberGroups):
        cfg = self.config
        M = self.n_members
        n_batches = batches_per_epoch(len(data.train), cfg.batch_size)
        total_steps = n_batches * cfg.epochs
        for h in self.histories:
            h.reserve(total_steps)
        snapshot = [p.detach().clone() for p in self.model.params]
        last_snapshot = time.perf_counter()
        step = 0
        rate_t0, rate_step0 = time.perf_counter(), 0
        last_notify = 0.0
        pending_from = 0
        conditional = self.model.config.is_conditional
        active = np.ones(M, dtype=bool)
        flush = self._make_flush(n_batches, total_steps)
        for epoch in range(1, cfg.epochs + 1):
            t_epoch = time.perf_counter()
            # The minibatch order of member 0's single run: its generator's permutation now.
            self.order_generator.set_state(groups.first_generator.get_state())
            groups.advance_epoch(len(data.train))
            batches = iterate_batches(data.train, cfg.batch_size, self.order_generator)
            for i, (xb, yb) in enumerate(batches):
                paused = self.wait_while_paused()
                if paused:
                    rate_t0 += paused  # pauses count neither as slow steps/s nor epoch time
                    t_epoch += paused
                if self.stop_requested:
                    flush(pending_from, step, epoch, i, rate_t0, rate_step0)
                    return "stopped", None
                # Trains every active member (Adam included); broken: members whose loss
                # turned NaN/inf in this step, frozen before their update.
                losses, broken = groups.step(xb, yb if conditional else None)  # (3, M)
                if broken:
                    # The steps so far reach observers before the failure, as in a single run.
                    flush(pending_from, step, epoch, i, rate_t0, rate_step0)
                    pending_from = step
                for m in broken:
                    active[m] = False
                    self._fail_member(m, step, epoch, losses[:, m], snapshot)
                if not active.any():
                    return "failed", _all_failed(self.errors)
                for m in np.flatnonzero(active):
                    total, recon, kl = losses[:, m]
                    self.histories[m].append(recon, kl, total)
                step += 1
                now = time.perf_counter()
                if now - last_notify >= self.notify_interval:
                    flush(pending_from, step, epoch, i + 1, rate_t0, rate_step0)
                    pending_from, last_notify = step, now
                    if now - last_snapshot >= SNAPSHOT_INTERVAL_S:
                        self._refresh_snapshot(snapshot, active)
                        last_snapshot = now
                    if now - rate_t0 > 5.0:  # a sliding window for steps/s
                        rate_t0, rate_step0 = now, step
            t_eval = time.perf_counter()
            flush(pending_from, step, epoch, n_batches, rate_t0, rate_step0)
            pending_from = step
            # Each group's thread evaluates its own members.
            metrics: list[EvalMetrics | None] = [
                met for part in groups.map(lambda g: [
                    evaluate(self._eval_models[m], data.test, batch_size=1000) if active[m]
                    else None for m in range(g.start, g.stop)])
                for met in part]
            for m, met in enumerate(metrics):
                if met is not None:
                    self.histories[m].add_epoch(epoch, step, met)
            self._refresh_snapshot(snapshot, active)
            self._emit("on_epoch_end", SweepEpochEvent(epoch, step, tuple(metrics),
                                                       t_eval - t_epoch,
                                                       time.perf_counter() - t_eval))
        return "finished", None

    def _fail_member(self, m: int, step: int, epoch: int, losses: np.ndarray,
                     snapshot: list[torch.Tensor]) -> None:
        """Member m stopped (MemberGroups froze it: zero gradient and Adam moments, so Adam
        leaves it exactly where it is): its last good weights back if these are broken."""
        with torch.no_grad():
            if not bool(self.model.finite_members()[m]):
                for p, s in zip(self.model.params, snapshot):
                    p.data[m].copy_(s[m])
        what = "NaN" if np.isnan(losses).any() else "infinite"
        beta = self.members[m][0]
        message = (f"training diverged at step {step + 1} (epoch {epoch}): the loss became "
                   f"{what}. The learning rate ({self.config.lr:g}) or beta ({beta:g}) is "
                   "probably too large; the last good weights were kept.")
        self.errors[m] = str(TrainingDiverged(message))
        self._emit("on_member_failed", m, message)

    @torch.no_grad()
    def _refresh_snapshot(self, snapshot: list[torch.Tensor], active: np.ndarray) -> None:
        """Copy aside the weights of every active member whose weights are all finite."""
        ok = self.model.finite_members().cpu().numpy() & active
        if ok.all():
            for p, s in zip(self.model.params, snapshot):
                s.copy_(p)
            return
        idx = torch.from_numpy(np.flatnonzero(ok)).to(self.device)
        if len(idx):
            for p, s in zip(self.model.params, snapshot):
                s.index_copy_(0, idx, p.detach().index_select(0, idx))

    def _make_flush(self, n_batches: int, total_steps: int):
        def flush(first: int, step: int, epoch: int, step_in_epoch: int, rate_t0: float,
                  rate_step0: int) -> None:
            if step <= first:
                return
            elapsed = time.perf_counter() - rate_t0
            rate = (step - rate_step0) / elapsed if elapsed > 0 else 0.0
            n = step - first
            arrays = np.full((3, self.n_members, n), np.nan, dtype=np.float32)
            for m, h in enumerate(self.histories):
                k = min(max(len(h) - first, 0), n)
                if k:
                    arrays[0, m, :k] = h.recon[first:first + k]
                    arrays[1, m, :k] = h.kl[first:first + k]
                    arrays[2, m, :k] = h.total[first:first + k]
            self._emit("on_steps", SweepStepsEvent(
                first, arrays[0], arrays[1], arrays[2], self.active,
                tuple(len(h) for h in self.histories), epoch, step_in_epoch, n_batches,
                total_steps, rate))
        return flush


def _all_failed(errors: Sequence[str | None]) -> str:
    first = next(e for e in errors if e is not None)
    if len(errors) == 1:
        return first
    return f"every member failed; the first: {first}"


def train_sweep(config: SweepConfig, dataset: Dataset | None = None,
                observers: Sequence[SweepObserver] = ()) -> SweepResult:
    """Convenience: build a SweepTrainer and run it."""
    return SweepTrainer(config, dataset, observers).run()


__all__ = ["COURSE_BETAS", "MAX_MEMBERS", "SweepConfig", "SweepEpochEvent", "SweepListError",
           "SweepObserver", "SweepResult", "SweepStepsEvent", "SweepTrainer", "log_grid",
           "parse_betas", "parse_seeds", "sweep_kinds", "train_sweep"]
