"""How a loop's members are trained: the strategy the one training loop drives.

`training.engine.loop.Loop` owns everything a run shares with a sweep (pause, stop, throttled
events, divergence, rollback, evaluation, the timeline). A `Members` strategy owns the models
and says how one step of all of them is taken:

- `SingleMember`: one model (M = 1), stepped by the hand-written `fast_step.FastStep` or by
  autograd; it alone continues a stopped run (`ResumeState`), bit for bit.
- `training.engine.stacked.StackedMembers`: M models of one architecture stacked and stepped
  at once (a β sweep), in groups of members on threads.
- `training.engine.sequential.SequentialMembers`: M `SingleMember`s stepped one after another
  (a sweep of an architecture the stacked step cannot batch, such as conv).

A new engine (another executor of groups of members) is one more subclass, never a second loop.
"""

from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np
import torch

from latent_explorer.models import build_model
from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.config import TrainConfig, data_shape
from latent_explorer.training.data.datasets import DataError, Dataset, Split, batches_per_epoch, iterate_batches
from latent_explorer.training.engine import fast_step
from latent_explorer.training.engine.resume import (
    ResumeState,
    dataset_fingerprint,
    load_optimizer_state,
    optimizer_state,
)
from latent_explorer.training.metrics.evaluate import EvalMetrics, evaluate
from latent_explorer.training.record.history import History

Batches = Iterator[tuple[torch.Tensor, torch.Tensor]]
EVAL_BATCH = 1000


class Members:
    """The strategy interface; see the module. Methods run in the loop's thread."""

    n_members: int
    device: torch.device
    histories: list[History]
    engine: str = "?"  # what steps them, for messages and benchmarks

    # -- before and after training -----------------------------------------------------------
    def fit_dataset(self, dataset: Dataset) -> None:
        """Make the models' classes match the dataset's (DataError when they cannot)."""

    def start(self, lr: float) -> None:
        """Build the optimizer and the step; paired with `close()`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what `start` built (the models stay usable)."""

    def start_position(self) -> tuple[int, int]:
        """(steps done, whole epochs done) before the first step: (0, 0) for a new run."""
        return 0, 0

    # -- training ------------------------------------------------------------------------------
    def epoch_batches(self, train: Split, batch_size: int, epoch: int,
                      n_batches: int) -> tuple[int, Batches]:
        """(index of the first batch, this epoch's batches)."""
        raise NotImplementedError

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[np.ndarray, list[int]]:
        """One optimisation step of every active member: losses (3, M) as [total, recon, kl],
        and the members whose loss turned non-finite in it (now frozen, not updated)."""
        raise NotImplementedError

    def set_betas(self, betas: np.ndarray) -> None:
        """The KL weight of every member from the next step on (training to a target rate, or
        a KL schedule)."""
        raise NotImplementedError

    def set_lr(self, lr: float) -> None:
        """Adam's learning rate of every member from the next step on (a learning-rate
        schedule)."""
        raise NotImplementedError

    def weights(self, m: int) -> dict[str, torch.Tensor]:
        """A copy of member m's current weights, keyed like its model's state_dict."""
        raise NotImplementedError

    def resumed_best_weights(self, m: int) -> dict[str, torch.Tensor] | None:
        """The weights of the best epoch member m continues with (a run that keeps its best
        epoch, continued: its checkpoint's weights); None otherwise."""
        return None

    def resumed_state(self, m: int) -> ResumeState | None:
        """The state member m continues from (None: it starts afresh)."""
        return None

    def save_good(self, active: np.ndarray) -> None:
        """Copy aside the weights of every active member whose weights are finite."""
        raise NotImplementedError

    def restore_if_broken(self, m: int) -> None:
        """Member m's last good weights back if its current ones are not finite."""
        raise NotImplementedError

    def evaluate(self, test: Split, active: np.ndarray) -> list[EvalMetrics | None]:
        """Test metrics of every active member (None for the others)."""
        return [evaluate(self.live_model(m), test, batch_size=EVAL_BATCH) if active[m] else None
                for m in range(self.n_members)]

    # -- what observers and results see --------------------------------------------------------
    def live_model(self, m: int) -> LatentModel:
        """Member m's model as it trains (its weights change under you; the loop's thread)."""
        raise NotImplementedError

    def member_model(self, m: int) -> LatentModel:
        """A copy of member m's model and current weights."""
        raise NotImplementedError

    def result_model(self, m: int) -> LatentModel:
        """Member m's model to hand over when the loop has ended."""
        return self.member_model(m)

    def member_config(self, m: int) -> TrainConfig:
        """The TrainConfig of member m's equivalent single run."""
        raise NotImplementedError

    def resume_state(self, m: int, position: tuple[int, int, int],
                     dataset: Dataset) -> ResumeState | None:
        """What continuing member m needs at `position` (step, epochs done, batch in epoch)."""
        return None

    def boundary_reached(self) -> None:
        """The loop ended at an epoch boundary: the next epoch's shuffle is not drawn yet."""

    @property
    def is_conditional(self) -> bool:
        return self.live_model(0).config.is_conditional

    def set_train_mode(self) -> None:
        """Models into training mode at an epoch's start (evaluation switches them out)."""


def check_fits(mc, dataset: Dataset) -> None:
    """DataError when a given model (a loaded file's) cannot take `dataset`'s images or labels."""
    if mc.image_shape != dataset.image_shape:
        shown = ["×".join(map(str, s)) for s in (dataset.image_shape, mc.image_shape)]
        raise DataError(f"{dataset.name}: its images are {shown[0]}, but the model was built "
                        f"for {shown[1]}")
    if mc.is_conditional and mc.n_classes != dataset.n_classes:
        raise DataError(f"{dataset.name}: {dataset.n_classes} classes, but the model "
                        f"was built for {mc.n_classes}")


def seeded_model(config: TrainConfig, n_classes: int = 10,
                 image_shape: tuple[int, ...] = (1, 28, 28),
                 likelihood: str | None = None) -> LatentModel:
    """A fresh model of `config` for a dataset's classes, image shape and likelihood
    (`training.config.data_shape`), initialised from its seed: a single run and its sweep
    member start from the same weights."""
    return build_model(config.model_config(n_classes, image_shape, likelihood),
                       torch.Generator().manual_seed(config.seed))


class SingleMember(Members):
    """One model, as a single run trains it (fast step or autograd); continues a stopped run."""

    n_members = 1

    def __init__(self, config: TrainConfig, device: torch.device, model: LatentModel | None = None,
                 history: History | None = None, resume: ResumeState | None = None,
                 n_classes: int = 10, image_shape: tuple[int, ...] = (1, 28, 28),
                 likelihood: str | None = None) -> None:
        self.config = config
        self.device = device
        self.generator = torch.Generator(device=device).manual_seed(config.seed)
        self._built_here = model is None
        self.model = (model if model is not None
                      else seeded_model(config, n_classes, image_shape, likelihood)).to(device)
        self.history = history if history is not None else History()
        self.histories = [self.history]
        self.resumed_from = resume
        if resume is not None and len(self.history) != resume.step:
            raise ValueError(f"the history has {len(self.history)} steps but the resume state "
                             f"{resume.step}")
        self._best_weights: dict | None = None
        if resume is not None and resume.weights is not None:
            # A run that keeps its best epoch holds that epoch's weights; it trains on from its
            # last ones, kept in the resume state.
            self._best_weights = _copy_weights(self.model)
            self.model.load_state_dict(resume.weights)
        # Kept after the run: resume_state() reads Adam's moments.
        self.optimizer: fast_step.FlatAdam | torch.optim.Optimizer | None = None
        self.bf16 = config.precision == "bf16"
        self.engine = "fast" if self._wants_fast() else "autograd"
        self._step_fn: fast_step.FastStep | AutogradStep | None = None
        self._epoch_state: torch.Tensor | None = None  # the generator before this epoch's shuffle
        self._fingerprint: str | None = None
        self._good: dict | None = None

    def _wants_fast(self) -> bool:
        cfg, model = self.config, self.model
        return (cfg.engine == "fast" and not (self.bf16 or cfg.compile)
                and "fast" in model.config.model_kind.engines and fast_step.supports(model))

    def fit_dataset(self, dataset: Dataset) -> None:
        mc = self.model.config
        if mc.is_conditional and dataset.n_classes < 2:
            where = self.config.data_dir or dataset.name
            raise DataError(f"{where}: a {mc.model_kind.label} needs at least 2 classes, "
                            f"this dataset has {dataset.n_classes}")
        wanted = self.config.model_config(**data_shape(dataset))
        if self._built_here and (mc.n_classes, mc.image_shape, mc.likelihood) != (
                wanted.n_classes, wanted.image_shape, wanted.likelihood):
            self.model = seeded_model(self.config, **data_shape(dataset)).to(self.device)
            self.engine = "fast" if self._wants_fast() else "autograd"
        elif not self._built_here:
            check_fits(mc, dataset)
        if self._built_here and self.resumed_from is None:
            # A prior that starts from the data (a VampPrior's pseudo-inputs: training images),
            # drawn from a generator of its own so the run's shuffle and ε are unchanged.
            self.model.prior.init_from_data(
                dataset.train.images, torch.Generator().manual_seed(self.config.seed))

    def start(self, lr: float) -> None:
        model, beta = self.model, self.model.config.beta
        if self.engine == "fast":
            self.optimizer = fast_step.FlatAdam(model.parameters(), lr=lr)
            self._step_fn = fast_step.FastStep(model, beta, self.generator)
        else:
            self.optimizer = optimizer = make_optimizer(model, lr)
            self._step_fn = make_step_fn(model, optimizer, beta, self.generator,
                                         self.config.compile, self.bf16)
        if self.resumed_from is not None and self.resumed_from.optimizer is not None:
            load_optimizer_state(self.optimizer, list(model.parameters()),
                                 self.resumed_from.optimizer)
        self._good = _copy_weights(model)

    def close(self) -> None:
        if isinstance(self.optimizer, fast_step.FlatAdam):
            self.optimizer.release()
        self.model.eval()

    def start_position(self) -> tuple[int, int]:
        r = self.resumed_from
        return (r.step, r.epochs_done) if r is not None else (0, 0)

    def set_train_mode(self) -> None:
        self.model.train()

    def epoch_batches(self, train: Split, batch_size: int, epoch: int,
                      n_batches: int) -> tuple[int, Batches]:
        """This epoch's batches, continuing a resumed epoch exactly where it stopped."""
        start, gen = self.resumed_from, self.generator
        if start is None or epoch != start.epochs_done + 1:
            self._epoch_state = gen.get_state()  # regenerates this epoch's order on resume
            return 0, iterate_batches(train, batch_size, gen)
        skip = start.batch_in_epoch
        if start.epoch_generator_state is None:  # the order cannot be drawn again: a new one
            if start.generator_state is not None:
                gen.set_state(start.generator_state)
            self._epoch_state = gen.get_state()
            return skip, itertools.islice(iterate_batches(train, batch_size, gen),
                                          n_batches - skip)
        # From the epoch's pre-shuffle state the shuffle is drawn again, the batches already
        # trained are passed over, and the noise continues from the state at the stop.
        gen.set_state(start.epoch_generator_state)
        self._epoch_state = start.epoch_generator_state
        return skip, _continue_epoch(iterate_batches(train, batch_size, gen), skip, gen,
                                     start.generator_state)

    def follow_epoch(self, n_train: int) -> None:
        """Another strategy orders this epoch's minibatches (a sequential sweep): keep the
        generator's pre-shuffle state and draw the permutation this member's single run would,
        so its ε stream and its resume state stay in step with that run's."""
        gen = self.generator
        self._epoch_state = gen.get_state()
        torch.randperm(n_train, generator=gen, device=gen.device)

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[np.ndarray, list[int]]:
        assert self._step_fn is not None and self.optimizer is not None  # start() made them
        losses = self._step_fn(x, y).cpu().numpy().reshape(3, 1)
        if not np.isfinite(losses).all():
            return losses, [0]  # no update: the broken gradient never reaches the weights
        self.optimizer.step()
        return losses, []

    def set_betas(self, betas: np.ndarray) -> None:
        assert self._step_fn is not None  # start() made it
        self._step_fn.beta = float(betas[0])

    def set_lr(self, lr: float) -> None:
        opt = self.optimizer
        if isinstance(opt, fast_step.FlatAdam):
            opt.lr = float(lr)
        elif opt is not None:
            for group in opt.param_groups:
                group["lr"] = float(lr)

    def weights(self, m: int) -> dict[str, torch.Tensor]:
        return _copy_weights(self.model)

    def resumed_best_weights(self, m: int) -> dict[str, torch.Tensor] | None:
        return self._best_weights

    def resumed_state(self, m: int) -> ResumeState | None:
        return self.resumed_from

    def save_good(self, active: np.ndarray) -> None:
        if active[0] and self._good is not None:
            _refresh_weights(self.model, self._good)

    def restore_if_broken(self, m: int) -> None:
        if self._good is not None and not all(_finite(p.detach()) for p in self.model.parameters()):
            self.model.load_state_dict(self._good)

    def live_model(self, m: int) -> LatentModel:
        return self.model

    def member_model(self, m: int) -> LatentModel:
        from latent_explorer.training.explore.panel_math import snapshot_model

        return snapshot_model(self.model)

    def result_model(self, m: int) -> LatentModel:
        return self.model  # the trained model itself: the loop is done with it

    def member_config(self, m: int) -> TrainConfig:
        return self.config

    def resume_state(self, m: int, position: tuple[int, int, int],
                     dataset: Dataset) -> ResumeState | None:
        if self.optimizer is None:
            return None
        step, done, in_epoch = position
        gen = self.generator.get_state()
        epoch_state: torch.Tensor | None
        gen_state: torch.Tensor | None
        if in_epoch == 0 and self._epoch_state is None:  # at a boundary, next shuffle not drawn
            epoch_state, gen_state = gen, None
        else:
            epoch_state, gen_state = self._epoch_state, gen
        if self._fingerprint is None:  # a resumed run's plan already hashed this same data
            start = self.resumed_from
            self._fingerprint = (start.data_fingerprint if start is not None
                                 and start.data_fingerprint else dataset_fingerprint(dataset))
        return ResumeState(
            step=step, epochs_done=done, batch_in_epoch=in_epoch,
            steps_per_epoch=batches_per_epoch(len(dataset.train), self.config.batch_size),
            generator_state=gen_state, epoch_generator_state=epoch_state,
            generator_device=self.generator.device.type,
            optimizer=optimizer_state(self.optimizer, list(self.model.parameters())),
            data_fingerprint=self._fingerprint)

    def boundary_reached(self) -> None:
        self._epoch_state = None


# -- the autograd step -----------------------------------------------------------------------
def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam; the fused kernel where this torch and device have it (one kernel, not one per tensor)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr)


class AutogradStep:
    """One step's loss and gradients through autograd: calling it returns a detached tensor
    [total, recon, kl]; the caller steps the optimizer once the losses are known finite.
    `beta` may change between steps (training to a target rate)."""

    def __init__(self, model: LatentModel, optimizer: torch.optim.Optimizer, beta: float,
                 generator: torch.Generator, use_compile: bool, bf16: bool = False) -> None:
        self.model, self.optimizer, self.generator = model, optimizer, generator
        self.beta = float(beta)
        self.bf16 = bf16
        self._loss_parts = self._eager_loss_parts
        if use_compile:
            try:
                self._loss_parts = torch.compile(self._eager_loss_parts, dynamic=False)
            except Exception:  # noqa: BLE001 - no compiler here: eager is correct, just slower
                pass

    def _eager_loss_parts(self, x: torch.Tensor, y: torch.Tensor | None,
                          beta: float) -> torch.Tensor:
        model = self.model
        with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            parts = model.loss(x, y if model.config.is_conditional else None, beta,
                               self.generator)
        return torch.stack([p.float() for p in parts])

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        parts = self._loss_parts(x, y, self.beta)
        self.optimizer.zero_grad(set_to_none=True)
        parts[0].backward()
        return parts.detach()


def make_step_fn(model: LatentModel, optimizer: torch.optim.Optimizer, beta: float,
                 generator: torch.Generator, use_compile: bool, bf16: bool = False) -> AutogradStep:
    """The autograd step (kept for older callers: `AutogradStep`)."""
    return AutogradStep(model, optimizer, beta, generator, use_compile, bf16)


# -- a sweep's histories in a trial checkpoint (stacked, sequential and the Ray driver) ----------
def histories_state(histories: list[History]) -> dict:
    """The loss histories as plain tensors and dicts, the 'histories' and 'epochs' entries of a
    sweep strategy's `state_dict`."""
    return {"histories": [torch.from_numpy(np.stack([h.recon, h.kl, h.total, h.beta]).copy())
                          for h in histories],
            "epochs": [[e.to_dict() for e in h.epochs] for h in histories]}


def history_from_state(state: dict, j: int) -> History:
    """Member j's history out of `histories_state`'s entries."""
    from latent_explorer.training.record.history import EpochRecord

    a = state["histories"][j].numpy()
    return History.from_arrays(a[0], a[1], a[2],
                               [EpochRecord.from_dict(e) for e in state["epochs"][j]], beta=a[3])


# -- helpers -----------------------------------------------------------------------------------
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


def _finite(t: torch.Tensor) -> bool:
    """Whether every entry of `t` is finite, by its sum: NaN and ±inf propagate through a sum,
    and one reduction is ~25× cheaper than `isfinite(t).all()`, which has no vectorised CPU
    kernel. (Finite weights summing past 3e38 would read as broken: none train like that.)"""
    return bool(torch.isfinite(t.sum()))


def _copy_weights(model: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _refresh_weights(model: torch.nn.Module, into: dict) -> None:
    """Refresh the rollback copy in place, only when every weight is finite."""
    state = model.state_dict()
    if all(_finite(v) for v in state.values()):
        for k, v in state.items():
            into[k].copy_(v)


__all__ = ["AutogradStep", "Members", "SingleMember", "history_from_state", "histories_state",
           "make_optimizer", "make_step_fn", "seeded_model"]
