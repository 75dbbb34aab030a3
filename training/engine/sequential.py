"""M members of any architecture, stepped one after another: the sweep strategy for models the
stacked engine cannot batch (the conv architecture, trained through autograd).

Each member is a `SingleMember`, the very strategy of its single run: same init, same step
(autograd, bf16 where the architecture and device say so), same Adam, its own generator for the
reparametrisation noise. As in a stacked sweep, every member sees the same minibatches, in the
order of the first seed's single run (of the whole sweep's first seed in a Ray trial); each
member's generator still draws its own epoch permutation, so its ε stream stays in step with its
single run's. So a member of the first seed *is* its single run, bit for bit, and every member's
result carries its own Adam state and generator, to continue as a single run.

Members are stepped in turn on the loop's thread: torch's own threads parallelise each step.
`state_dict`/`load_state` use the stacked strategy's layout (weights stacked along a member
axis, Adam's moments flat per parameter), so a Ray trial checkpoints either strategy alike.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.data.datasets import Dataset, Split, iterate_batches
from latent_explorer.training.engine.members import (Batches, Members, SingleMember, histories_state,
                                     history_from_state)
from latent_explorer.training.engine.resume import OptimizerState, ResumeState, load_optimizer_state, optimizer_state


class SequentialMembers(Members):
    """The members of `configs` (one architecture, any β and seed), each its own single run's
    strategy, stepped one after another on shared minibatches."""

    engine = "sequential"

    def __init__(self, configs: Sequence[TrainConfig], device: torch.device,
                 n_classes: int = 10, order_seed: int | None = None,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | None = None) -> None:
        self.configs = tuple(configs)
        self.n_members = len(self.configs)
        self.device = device
        self.singles = [SingleMember(c, device, n_classes=n_classes, image_shape=image_shape,
                                     likelihood=likelihood) for c in self.configs]
        self.histories = [s.history for s in self.singles]
        # The minibatch order: the first seed's single run's, or (a Ray trial without that
        # seed) a shadow generator's that makes the draws a member of `order_seed` would make.
        self.order_seed = self.configs[0].seed if order_seed is None else int(order_seed)
        self.order_generator = torch.Generator(device=device).manual_seed(self.order_seed)
        self._shadow = (torch.Generator(device=device).manual_seed(self.order_seed)
                        if self.order_seed != self.configs[0].seed else None)
        self._frozen = np.zeros(self.n_members, dtype=bool)
        self._pending: dict | None = None  # a state to continue from (load_state)
        self._start = (0, 0)
        self._nz = self.configs[0].nz

    @property
    def is_conditional(self) -> bool:
        return self.singles[0].model.config.is_conditional

    def fit_dataset(self, dataset: Dataset) -> None:
        for s in self.singles:
            s.fit_dataset(dataset)

    def start(self, lr: float) -> None:
        for s in self.singles:
            s.start(lr)
        if self._pending is not None:
            self._apply_state(self._pending)
            self._pending = None
            for s in self.singles:  # the rollback copies from the restored weights
                s.save_good(np.ones(1, dtype=bool))

    def close(self) -> None:
        for s in self.singles:
            s.close()

    def start_position(self) -> tuple[int, int]:
        return self._start

    def set_train_mode(self) -> None:
        for s in self.singles:
            s.set_train_mode()

    # -- training ------------------------------------------------------------------------------
    def epoch_batches(self, train: Split, batch_size: int, epoch: int,
                      n_batches: int) -> tuple[int, Batches]:
        first = self._shadow if self._shadow is not None else self.singles[0].generator
        self.order_generator.set_state(first.get_state())
        for s in self.singles:
            s.follow_epoch(len(train))
        if self._shadow is not None:
            torch.randperm(len(train), generator=self._shadow, device=self._shadow.device)
        return 0, iterate_batches(train, batch_size, self.order_generator)

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[np.ndarray, list[int]]:
        if self._shadow is not None:  # the ε a member of the order seed would draw
            torch.randn((x.shape[0], self._nz), generator=self._shadow,
                        device=self._shadow.device)
        losses = np.full((3, self.n_members), np.nan, dtype=np.float32)
        broken = []
        for m, s in enumerate(self.singles):
            if self._frozen[m]:
                continue
            out, bad = s.step(x, y)
            losses[:, m] = out[:, 0]
            if bad:
                self._frozen[m] = True
                broken.append(m)
        return losses, broken

    def set_betas(self, betas: np.ndarray) -> None:
        for m, s in enumerate(self.singles):
            s.set_betas(betas[m:m + 1])

    def set_lr(self, lr: float) -> None:
        for s in self.singles:
            s.set_lr(lr)

    def weights(self, m: int) -> dict[str, torch.Tensor]:
        return self.singles[m].weights(0)

    def boundary_reached(self) -> None:
        for s in self.singles:
            s.boundary_reached()

    def save_good(self, active: np.ndarray) -> None:
        for m, s in enumerate(self.singles):
            if active[m]:
                s.save_good(active[m:m + 1])

    def restore_if_broken(self, m: int) -> None:
        self.singles[m].restore_if_broken(0)

    # -- what observers and results see --------------------------------------------------------
    def live_model(self, m: int) -> LatentModel:
        return self.singles[m].live_model(0)

    def member_model(self, m: int) -> LatentModel:
        return self.singles[m].member_model(0)

    def result_model(self, m: int) -> LatentModel:
        return self.singles[m].result_model(0)

    def member_config(self, m: int) -> TrainConfig:
        return self.configs[m]

    def resume_state(self, m: int, position: tuple[int, int, int],
                     dataset: Dataset) -> ResumeState | None:
        return self.singles[m].resume_state(0, position, dataset)

    # -- the whole state at an epoch boundary (a Ray trial's checkpoint) -----------------------
    def state_dict(self, step: int, epochs_done: int) -> dict:
        """As `StackedMembers.state_dict`: weights stacked along the member axis, Adam's moments
        flat in (parameter, member) order, every generator, the loss histories."""
        per_member = [list(s.model.parameters()) for s in self.singles]
        opts = [optimizer_state(s.optimizer, params) for s, params in zip(self.singles, per_member)]
        sizes = [p.numel() for p in per_member[0]]
        return {
            "step": int(step), "epochs_done": int(epochs_done),
            "params": [torch.stack([params[i].detach().cpu() for params in per_member])
                       for i in range(len(sizes))],
            "adam": [_stack_flat([o.exp_avg for o in opts], sizes),
                     _stack_flat([o.exp_avg_sq for o in opts], sizes), opts[0].step.clone()],
            "generators": [s.generator.get_state() for s in self.singles],
            "shadow": self._shadow.get_state() if self._shadow is not None else None,
            **histories_state(self.histories),
        }

    def load_state(self, state: dict) -> None:
        """Continue from `state_dict()`'s state: applied when training starts."""
        self._pending = state
        self._start = (int(state["step"]), int(state["epochs_done"]))
        self.histories = []
        for j, s in enumerate(self.singles):
            s.history = history_from_state(state, j)
            s.histories = [s.history]
            self.histories.append(s.history)

    @torch.no_grad()
    def _apply_state(self, state: dict) -> None:
        avg, sq, steps = state["adam"]
        sizes = [p.numel() for p in self.singles[0].model.parameters()]
        for m, s in enumerate(self.singles):
            params = list(s.model.parameters())
            for p, saved in zip(params, state["params"]):
                p.copy_(saved[m])
            ref = optimizer_state(s.optimizer, params)
            load_optimizer_state(s.optimizer, params, OptimizerState(
                _member_flat(avg, sizes, m, self.n_members),
                _member_flat(sq, sizes, m, self.n_members),
                steps.float().reshape(()), ref.lr, ref.betas, ref.eps))
            s.generator.set_state(state["generators"][m])
        if self._shadow is not None and state.get("shadow") is not None:
            self._shadow.set_state(state["shadow"])


def _stack_flat(flats: list[torch.Tensor], sizes: list[int]) -> torch.Tensor:
    """Members' flat vectors (each the parameters in order) as one, parameter by parameter with
    the members stacked inside each: the stacked engine's flat Adam layout."""
    parts, offset = [], 0
    for k in sizes:
        parts.append(torch.stack([f[offset:offset + k] for f in flats]).reshape(-1))
        offset += k
    return torch.cat(parts)


def _member_flat(flat: torch.Tensor, sizes: list[int], m: int, n_members: int) -> torch.Tensor:
    """Member m's own flat vector out of `_stack_flat`'s layout."""
    parts, offset = [], 0
    for k in sizes:
        parts.append(flat[offset:offset + k * n_members].view(n_members, k)[m])
        offset += k * n_members
    return torch.cat(parts).float()


__all__ = ["SequentialMembers"]
