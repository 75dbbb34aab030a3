"""M members of one architecture trained at once: the β sweep's strategy for the one loop.

The same minibatches for every member, each member initialised exactly like the single run of
its seed (`seeded_model`) and drawing its reparametrisation noise from a generator of its seed,
one hand-written batched step (`training.engine.sweep_step`) and one flat fused Adam step for
all, in groups of members on threads (`MemberGroups`). Adam is elementwise, so one flat step is
each member's own step; β enters only its member's loss. A member whose loss turns NaN or
infinite stops alone: its gradient and Adam moments are zeroed so it stays put, and the loop
puts its last good weights back, while the others train on.

Reproduction: a member of the first seed is the single run of its β and seed (same init, same
minibatch order, same ε, up to float32 rounding of batched against single matmuls). A member of
another seed has its seed's init and ε but the first seed's minibatch order: every member sees
the same minibatches, which is what makes one batched step possible. Each member's result
carries its own Adam slice and generator state, so it continues as a single run exactly where
it stopped (a member of another seed then shuffles with its own seed, as its single run does).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from latent_explorer.models import build_model
from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.config import TrainConfig, data_shape
from latent_explorer.training.data.datasets import DataError, Dataset, Split, batches_per_epoch, iterate_batches
from latent_explorer.training.engine.fast_step import FlatAdam
from latent_explorer.training.engine.members import (EVAL_BATCH, Batches, Members, histories_state,
                                     history_from_state, seeded_model)
from latent_explorer.training.engine.resume import OptimizerState, ResumeState, dataset_fingerprint
from latent_explorer.training.engine.sweep_step import MemberGroups, StackedModel
from latent_explorer.training.metrics.evaluate import EvalMetrics, evaluate


class StackedMembers(Members):
    """The members of `configs` (one architecture, any β and seed) stacked and stepped at once."""

    engine = "stacked"

    def __init__(self, configs: Sequence[TrainConfig], device: torch.device,
                 workers: int | None = None, n_classes: int = 10,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | None = None,
                 order_seed: int | None = None) -> None:
        from latent_explorer.training.record.history import History

        self.configs = tuple(configs)
        self.n_members = len(self.configs)
        self.device = device
        self.betas = [c.beta for c in self.configs]
        self.seeds = [c.seed for c in self.configs]
        # Member 0's seed orders the minibatches, as in that seed's single run; the members'
        # ε come from their own copies of their seed's generator (see MemberGroups). A part of
        # a larger sweep trained elsewhere (a Ray trial) keeps the whole sweep's order: its
        # `order_seed` is the sweep's first seed, drawn by a shadow generator that makes the
        # same draws as a member of that seed would (the epoch's permutation, every step's ε).
        self.order_seed = self.seeds[0] if order_seed is None else int(order_seed)
        self.order_generator = torch.Generator(device=device).manual_seed(self.order_seed)
        self._shadow: torch.Generator | None = None
        self._nz = self.configs[0].nz
        self._pending: dict | None = None  # a state to continue from (load_state)
        self._start = (0, 0)
        # Threads, each training a group of whole members (CPU); one group elsewhere.
        self.workers = workers if workers is not None else (
            min(torch.get_num_threads(), self.n_members) if device.type == "cpu" else 1)
        self.model = self._build({"n_classes": n_classes, "image_shape": image_shape,
                                  "likelihood": likelihood})
        self.histories = [History() for _ in range(self.n_members)]
        self.groups: MemberGroups | None = None
        self.adam: FlatAdam | None = None
        self._eval_models: list[LatentModel] = []
        self._good: list[torch.Tensor] = []
        self._epoch_states: list[torch.Tensor] = []
        self._generators: list[torch.Generator] = []
        self._fingerprint: str | None = None

    def _build(self, data: dict) -> StackedModel:
        """Every member initialised as its single run's model (for the dataset's classes,
        image shape and likelihood, `training.config.data_shape`), stacked."""
        return StackedModel.from_models([seeded_model(c, **data) for c in self.configs],
                                        self.device)

    @property
    def is_conditional(self) -> bool:
        return self.model.config.is_conditional

    def fit_dataset(self, dataset: Dataset) -> None:
        if self.model.config.is_conditional and dataset.n_classes < 2:
            where = self.configs[0].data_dir or dataset.name
            raise DataError(f"{where}: a {self.model.config.model_kind.label} needs at least 2 "
                            f"classes, this dataset has {dataset.n_classes}")
        mc = self.model.config
        data = data_shape(dataset)
        wanted = self.configs[0].model_config(**data)
        if (mc.n_classes, mc.image_shape) != (wanted.n_classes, wanted.image_shape):
            self.model = self._build(data)  # the data was loaded only now

    def start(self, lr: float) -> None:
        self.adam = FlatAdam(self.model.params, lr=lr)
        # Built after FlatAdam, which moves the weights into its flat buffer.
        self.groups = MemberGroups(self.model, self.betas, self.seeds, self.adam, self.workers)
        self._generators = [self._generator_of(m) for m in range(self.n_members)]
        if self.order_seed != self.seeds[0]:
            self._shadow = torch.Generator(device=self.device).manual_seed(self.order_seed)
        mc = self.model.config
        # Evaluation models whose weights are views of the members' slices: no copies.
        self._eval_models = [
            self.model.member_view(m, build_model(c.model_config(
                mc.n_classes, mc.image_shape, mc.likelihood)).to(self.device))
            for m, c in enumerate(self.configs)]
        if self._pending is not None:
            self._apply_state(self._pending)
            self._pending = None
        self._good = [p.detach().clone() for p in self.model.params]

    def _generator_of(self, m: int) -> torch.Generator:
        """The generator member m draws its ε from (its group's copy of its seed's)."""
        assert self.groups is not None  # start() made them
        for g in self.groups.groups:
            if g.start <= m < g.stop:
                own = list(dict.fromkeys(self.seeds[g.start:g.stop]))
                return g.generators[own.index(self.seeds[m])]
        raise IndexError(m)

    def close(self) -> None:
        if self.groups is not None:
            self.groups.close()
        if self.adam is not None:
            self.adam.release()
        for model in self._eval_models:
            model.eval()

    # -- training ------------------------------------------------------------------------------
    def epoch_batches(self, train: Split, batch_size: int, epoch: int,
                      n_batches: int) -> tuple[int, Batches]:
        groups = self.groups
        assert groups is not None  # start() made them
        self._epoch_states = [g.get_state() for g in self._generators]
        # The minibatch order of the order seed's single run: its generator's permutation now.
        source = self._shadow if self._shadow is not None else groups.first_generator
        self.order_generator.set_state(source.get_state())
        groups.advance_epoch(len(train))
        if self._shadow is not None:
            torch.randperm(len(train), generator=self._shadow, device=self._shadow.device)
        return 0, iterate_batches(train, batch_size, self.order_generator)

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[np.ndarray, list[int]]:
        if self._shadow is not None:  # the ε a member of the order seed would draw
            torch.randn((x.shape[0], self._nz), generator=self._shadow,
                        device=self._shadow.device)
        assert self.groups is not None  # start() made them
        return self.groups.step(x, y)

    def start_position(self) -> tuple[int, int]:
        return self._start

    # -- the whole state at an epoch boundary (a Ray trial's checkpoint) -----------------------
    def state_dict(self, step: int, epochs_done: int) -> dict:
        """Everything continuing these members exactly from an epoch boundary needs: weights,
        Adam, every generator, the loss histories. Plain tensors and numbers (torch.save)."""
        adam = self.adam
        assert adam is not None  # start() made it
        return {
            "step": int(step), "epochs_done": int(epochs_done),
            "params": [p.detach().cpu().clone() for p in self.model.params],
            "adam": [adam.exp_avg.detach().cpu().clone(), adam.exp_avg_sq.detach().cpu().clone(),
                     adam.steps.detach().cpu().clone()],
            "generators": [g.get_state() for g in self._generators],
            "shadow": self._shadow.get_state() if self._shadow is not None else None,
            **histories_state(self.histories),
        }

    def load_state(self, state: dict) -> None:
        """Continue from `state_dict()`'s state: applied when training starts."""
        self._pending = state
        self._start = (int(state["step"]), int(state["epochs_done"]))
        self.histories = [history_from_state(state, j) for j in range(len(state["histories"]))]

    @torch.no_grad()
    def _apply_state(self, state: dict) -> None:
        for p, saved in zip(self.model.params, state["params"]):
            p.data.copy_(saved)
        avg, sq, steps = state["adam"]
        assert self.adam is not None  # start() made it, then applies the state
        self.adam.exp_avg.copy_(avg)
        self.adam.exp_avg_sq.copy_(sq)
        self.adam.steps.copy_(steps)
        for g, saved in zip(self._generators, state["generators"]):
            g.set_state(saved)
        if self._shadow is not None and state.get("shadow") is not None:
            self._shadow.set_state(state["shadow"])

    @torch.no_grad()
    def set_betas(self, betas: np.ndarray) -> None:
        assert self.groups is not None  # start() made them
        for g in self.groups.groups:
            g.step_fn.betas.copy_(torch.as_tensor(betas[g.start:g.stop], dtype=torch.float32))

    def set_lr(self, lr: float) -> None:
        assert self.adam is not None  # start() made it
        self.adam.lr = float(lr)

    def weights(self, m: int) -> dict[str, torch.Tensor]:
        return self.model.member_state_dict(m)

    def boundary_reached(self) -> None:
        self._epoch_states = []

    @torch.no_grad()
    def save_good(self, active: np.ndarray) -> None:
        ok = self.model.finite_members().cpu().numpy() & active
        if ok.all():
            for p, s in zip(self.model.params, self._good):
                s.copy_(p)
            return
        idx = torch.from_numpy(np.flatnonzero(ok)).to(self.device)
        if len(idx):
            for p, s in zip(self.model.params, self._good):
                s.index_copy_(0, idx, p.detach().index_select(0, idx))

    @torch.no_grad()
    def restore_if_broken(self, m: int) -> None:
        if not bool(self.model.finite_members()[m]):
            for p, s in zip(self.model.params, self._good):
                p.data[m].copy_(s[m])

    def evaluate(self, test: Split, active: np.ndarray) -> list[EvalMetrics | None]:
        # Each group's thread evaluates its own members.
        assert self.groups is not None  # start() made them
        return [met for part in self.groups.map(lambda g: [
            evaluate(self._eval_models[m], test, batch_size=EVAL_BATCH) if active[m] else None
            for m in range(g.start, g.stop)]) for met in part]

    # -- what observers and results see --------------------------------------------------------
    def live_model(self, m: int) -> LatentModel:
        if self._eval_models:
            return self._eval_models[m]
        return self.member_model(m)

    def member_model(self, m: int) -> LatentModel:
        return self.model.member_model(m, beta=self.betas[m])

    def member_config(self, m: int) -> TrainConfig:
        return self.configs[m]

    def resume_state(self, m: int, position: tuple[int, int, int],
                     dataset: Dataset) -> ResumeState | None:
        adam = self.adam
        if adam is None or not self._generators:
            return None
        step, done, in_epoch = position
        gen = self._generators[m].get_state()
        if not self._epoch_states:  # at a boundary: the next epoch's shuffle is drawn from here
            epoch_state, gen_state = gen, None
        else:
            epoch_state, gen_state = self._epoch_states[m], gen
        if self._fingerprint is None:
            self._fingerprint = dataset_fingerprint(dataset)
        avg, sq = ([v[m].reshape(-1).detach().cpu() for v in adam.views(flat)]
                   for flat in (adam.exp_avg, adam.exp_avg_sq))
        b1, b2 = adam.betas
        opt = OptimizerState(torch.cat(list(avg)), torch.cat(list(sq)),
                             adam.steps.detach().float().cpu().clone().reshape(()),
                             adam.lr, (b1, b2), adam.eps)
        return ResumeState(
            step=step, epochs_done=done, batch_in_epoch=in_epoch,
            steps_per_epoch=batches_per_epoch(len(dataset.train), self.configs[m].batch_size),
            generator_state=gen_state, epoch_generator_state=epoch_state,
            generator_device=self._generators[m].device.type, optimizer=opt,
            data_fingerprint=self._fingerprint)


__all__ = ["StackedMembers"]
