"""A run: one model with its config, history and state, as the GUI and panels see it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.models.registry import ModelKind, get_kind
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.data.datasets import Dataset
from latent_explorer.training.metrics.evaluate import EvalMetrics
from latent_explorer.training.record.history import History
from latent_explorer.training.engine.resume import ResumeState
from latent_explorer.training.record.run_state import ACTIVE_STATES, STATES, RunState  # noqa: F401 - re-exported
from latent_explorer.training.record.timeline import Timeline


_ids = itertools.count(1)


@dataclass(eq=False)
class Run:
    """A training run or a loaded checkpoint. `model` is None until the job has built it."""

    name: str
    config: TrainConfig
    model: LatentModel | None = None
    history: History = field(default_factory=History)
    state: RunState = RunState.QUEUED
    metrics: EvalMetrics | None = None
    error: str | None = None
    dataset: Dataset | None = None  # in memory, shared between runs on the same data
    path: Path | None = None  # where it was last saved or loaded from
    folder: Path | None = None  # its run folder in the workspace (written from its first step)
    # Epochs its run file says it completed: a run listed from the workspace, its history
    # not read yet, still shows how far it got.
    epochs_on_disk: int = 0
    saved: bool = False  # False while the weights exist only in memory
    group: str = ""  # the sweep this run is a member of ('' for a single run)
    notices: list[str] = field(default_factory=list)  # one-line remarks (e.g. from loading)
    timeline: Timeline | None = None  # snapshots over training; None: an older checkpoint
    resume: ResumeState | None = None  # what continuing it exactly needs (None: from weights)
    # Figures measured after training, in the background (explorer/session/scorer.py): 'iw_bound',
    # 'iw_k', 'rate', 'distortion', 'active_dims', 'quality', 'classes_seen', 'judge_accuracy'.
    # Emptied when the weights change (training continued).
    measures: dict = field(default_factory=dict)
    # While a job trains the run, `model` is a copy of its weights taken at an epoch end, so
    # the panels can explore it meanwhile: this is that epoch (None when not training, or when
    # the model is still the one it had before it went on training).
    snapshot_epoch: int | None = None
    id: int = field(default_factory=lambda: next(_ids))

    def __post_init__(self) -> None:
        self.state = RunState(self.state)

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def model_kind(self) -> ModelKind:
        """The registry's entry for this run's kind (what it is, not what it is called)."""
        return get_kind(self.config.kind)

    @property
    def model_label(self) -> str:
        """'VAE' for the course's networks and prior; 'VAE · Conv', 'VAE · Conv · VampPrior'
        otherwise: what the run list and captions call the model."""
        from latent_explorer.models.architectures import DEFAULT_ARCH, get_arch
        from latent_explorer.models.priors import DEFAULT_PRIOR, get_prior

        c = self.config
        parts = [self.model_kind.label]
        arch, prior = getattr(c, "arch", DEFAULT_ARCH), getattr(c, "prior", DEFAULT_PRIOR)
        if arch != DEFAULT_ARCH:
            parts.append(get_arch(arch).label)
        if prior != DEFAULT_PRIOR:
            parts.append(get_prior(prior).label)
        return " · ".join(parts)

    @property
    def is_variational(self) -> bool:
        """The model has a posterior q(z|x) and its loss a β·KL term (VAE, CVAE)."""
        return self.model_kind.variational

    @property
    def is_conditional(self) -> bool:
        """The encoder and decoder also take a class label (CVAE)."""
        return self.model_kind.conditional

    @property
    def beta(self) -> float:
        """The KL weight; 0 for a model without a KL term."""
        return self.config.beta if self.is_variational else 0.0

    @property
    def epochs_done(self) -> int:
        done = self.history.epochs[-1].epoch if self.history.epochs else 0
        return max(done, self.epochs_on_disk)

    @property
    def is_usable(self) -> bool:
        """True when the model can be explored: it exists and has trained, at least a step (an
        ended or loaded run) or an epoch (a run still training, explored from its snapshot)."""
        return self.model is not None and (len(self.history) > 0 or bool(self.history.epochs)
                                           or self.state == RunState.FINISHED)

    @property
    def is_active(self) -> bool:
        return RunState(self.state).is_active

    @property
    def class_names(self) -> tuple[str, ...]:
        """The dataset's class names (digits until the dataset is known)."""
        if self.dataset is not None:
            return tuple(self.dataset.class_names)
        n = self.model.config.n_classes if self.model is not None else 10
        return tuple(str(i) for i in range(n))

    def default_name(self) -> str:
        c, label = self.config, self.model_kind.label
        if not self.is_variational:
            return f"{label} nz={c.nz} #{self.id}"
        if getattr(c, "target_rate", None) is not None:  # β steered: the rate asked for
            return f"{label} R={c.target_rate:g} nz={c.nz} #{self.id}"
        return f"{label} β={c.beta:g} nz={c.nz} #{self.id}"
