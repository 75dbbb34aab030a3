"""β sweeps: the grid of (β, seed) members (`SweepConfig`) and `SweepTrainer`, the one training
loop (`training.engine.loop.Loop`) driving the sweep's members: stacked and stepped as one model
where the architecture allows (`training.engine.stacked`, the MLP), else one after another
(`training.engine.sequential`, the conv architecture). `sweep_members` picks.

Observers get the loop's hooks (throttled to ~30 calls a second) with (M, n) arrays; each event
has `for_member(m)`, the event a single run of that member would have sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from latent_explorer.models.architectures import DEFAULT_ARCH, arch_names, get_arch
from latent_explorer.models.priors import DEFAULT_PRIOR, DEFAULT_PSEUDO_INPUTS, get_prior, prior_problems
from latent_explorer.models.registry import get_kind, list_kinds
from latent_explorer.training.config import SweepListError, parse_betas, parse_seeds
from latent_explorer.training.config import data_shape, shape_problems
from latent_explorer.training.data.datasets import Dataset
from latent_explorer.training.engine.device import pick_device
from latent_explorer.training.engine.events import LoopResult, Observer
from latent_explorer.training.engine.loop import Loop, TrainConfig
from latent_explorer.training.engine.schedules import DEFAULT_KL_RATIO, schedule_problems
from latent_explorer.training.engine.sequential import SequentialMembers
from latent_explorer.training.engine.stacked import StackedMembers

MAX_MEMBERS = 64
# The schedules a sweep's members share (a sweep keeps every member's last weights, and trains
# each to the end: no best epoch or early stopping).
SWEEP_SCHEDULE_FIELDS = ("kl_warmup", "kl_cycles", "kl_ratio", "lr_schedule", "lr_min",
                         "lr_warmup")
# The likelihood, conv widths and image options every member shares (TrainConfig's fields).
SWEEP_IMAGE_FIELDS = ("likelihood", "conv_widths", "image_size", "image_channels")
SWEEP_SHARED_FIELDS = SWEEP_SCHEDULE_FIELDS + SWEEP_IMAGE_FIELDS
# The course's grid: 0 (an AE in disguise), then 1e-4 … 10 in steps of 10x.
COURSE_BETAS = (0.0, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)


# -- config ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepConfig:
    """A grid of β × seed (or, with `target_rates`, target rate × seed, every member starting
    from the one β in `betas`) for one model kind; the other fields are shared by every member."""

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
    # Train each member to a target rate (nats) instead of at a fixed β: the grid is then
    # target × seed, and `betas` holds the one β every member starts from.
    target_rates: tuple[float, ...] = ()
    # The members' networks (models/architectures.py); files written before sweeps had an
    # architecture hold none and load as the default, the course MLP.
    arch: str = DEFAULT_ARCH
    prior: str = DEFAULT_PRIOR  # models/priors.py, as the architecture
    pseudo_inputs: int = DEFAULT_PSEUDO_INPUTS
    # Every member's schedules (TrainConfig's fields of the same names; schedules.py).
    kl_warmup: float = 0.0
    kl_cycles: int = 0
    kl_ratio: float = DEFAULT_KL_RATIO
    lr_schedule: str = "constant"
    lr_min: float = 0.0
    lr_warmup: float = 0.0
    # Every member's likelihood, conv widths and image options (TrainConfig's fields).
    likelihood: str | None = None
    conv_widths: tuple[int, ...] = ()
    image_size: int | None = None
    image_channels: int | None = None

    def __post_init__(self) -> None:
        # JSON round trips turn tuples into lists; normalise so configs compare equal.
        object.__setattr__(self, "betas", tuple(_as_float(b) for b in self.betas))
        object.__setattr__(self, "target_rates",
                           tuple(_as_float(t) for t in self.target_rates))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "conv_widths", tuple(int(w) for w in self.conv_widths))
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
        if self.arch not in arch_names():
            p.append(f"unknown architecture {self.arch!r} (choose {', '.join(arch_names())})")
        if not self.betas:
            p.append("the list of betas is empty")
        if self.target_rates:
            if len(self.betas) != 1:
                p.append("a sweep over target rates starts every member from one beta; give "
                         f"one, not {len(self.betas)}")
            bad_t = [t for t in self.target_rates if not (math.isfinite(t) and t > 0)]
            if bad_t:
                p.append(f"target rate must be a number of nats > 0, got {_fmt(bad_t[0])}")
        bad = [b for b in self.betas if not (math.isfinite(b) and b >= 0)]
        if bad:
            p.append(f"beta must be a finite number >= 0, got {_fmt(bad[0])}")
        if not self.seeds:
            p.append("the list of seeds is empty")
        bad_seeds = [s for s in self.seeds if not (isinstance(s, int) and 0 <= s < 2**63)]
        if bad_seeds:
            p.append(f"seed must be a whole number between 0 and 2^63-1, got {bad_seeds[0]}")
        for what, values in (("beta", self.betas), ("seed", self.seeds),
                             ("target rate", self.target_rates)):
            dupes = sorted({v for v in values if values.count(v) > 1}, key=values.index)
            if dupes:
                p.append(f"duplicate {what} {_fmt(dupes[0])}: each (beta, seed) member must "
                         "be listed once")
        n = self.n_members
        if n > MAX_MEMBERS:
            p.append(f"{len(self.values)} {self.axis_name}s x {len(self.seeds)} seeds = {n} "
                     f"members; at most {MAX_MEMBERS}")
        p += prior_problems(self.prior, self.kind, self.pseudo_inputs)
        try:
            kind = get_kind(self.kind)
        except ValueError:
            kind = None
        p += schedule_problems(kind is None or kind.variational,
                               kind.label if kind is not None else self.kind,
                               self.target_rates[0] if self.target_rates else None,
                               self.kl_warmup, self.kl_cycles, self.kl_ratio, self.lr_schedule,
                               self.lr, self.lr_min, self.lr_warmup)
        return p + shape_problems(self.nz, self.hidden, self.epochs, self.batch_size, self.lr)

    @property
    def load_options(self) -> dict[str, Any]:
        """What `load_dataset` takes besides the source: the image folder's size and channels."""
        return {"image_size": self.image_size, "channels": self.image_channels}

    @property
    def by_rate(self) -> bool:
        """Whether the members differ by target rate (else by β)."""
        return bool(self.target_rates)

    @property
    def values(self) -> tuple[float, ...]:
        """What the members differ by: the target rates, or the βs."""
        return self.target_rates if self.by_rate else self.betas

    @property
    def axis_name(self) -> str:
        return "target rate" if self.by_rate else "beta"

    def members(self) -> tuple[tuple[float, int], ...]:
        """The (value, seed) grid, value-major: member m is members()[m]; the value is the
        member's β, or its target rate in a sweep over target rates."""
        return tuple((v, s) for v in self.values for s in self.seeds)

    @property
    def n_members(self) -> int:
        return len(self.values) * len(self.seeds)

    def member_config(self, m: int) -> TrainConfig:
        """The TrainConfig of member m's equivalent single run (fast engine, float32)."""
        value, seed = self.members()[m]
        beta, target = (self.betas[0], value) if self.by_rate else (value, None)
        return TrainConfig(kind=self.kind, beta=beta, nz=self.nz, hidden=self.hidden,
                           epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                           seed=seed, device=self.device, dataset=self.dataset,
                           data_dir=self.data_dir, target_rate=target, arch=self.arch,
                           prior=self.prior, pseudo_inputs=self.pseudo_inputs,
                           **{f: getattr(self, f) for f in SWEEP_SHARED_FIELDS})

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "betas": list(self.betas), "seeds": list(self.seeds),
             "nz": self.nz, "hidden": list(self.hidden), "epochs": self.epochs,
             "batch_size": self.batch_size, "lr": self.lr, "device": self.device,
             "dataset": self.dataset, "data_dir": self.data_dir}
        if self.target_rates:
            d["target_rates"] = list(self.target_rates)
        if self.arch != DEFAULT_ARCH:
            d["arch"] = self.arch
        if self.prior != DEFAULT_PRIOR:
            d["prior"], d["pseudo_inputs"] = self.prior, self.pseudo_inputs
        for f in SWEEP_SHARED_FIELDS:  # only what differs from the defaults
            if getattr(self, f) != SweepConfig.__dataclass_fields__[f].default:
                v = getattr(self, f)
                d[f] = list(v) if isinstance(v, tuple) else v
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SweepConfig":
        known = set(cls.__dataclass_fields__)
        fields: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v)
                                  for k, v in d.items() if k in known}
        return cls(**fields)


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


SweepResult = LoopResult  # a sweep's result: its state and one TrainResult per member
SweepObserver = Observer  # the one observer protocol


class SweepTrainer(Loop):
    """Trains every member of a SweepConfig at once (the one loop with stacked members),
    telling observers; pause/resume/stop from any thread, acting at batch boundaries."""

    def __init__(
        self,
        config: SweepConfig,
        dataset: Dataset | None = None,
        observers: Sequence[Observer] = (),
        notify_interval: float = 1 / 30,
        workers: int | None = None,
    ) -> None:
        configs = [config.member_config(m) for m in range(config.n_members)]
        members = sweep_members(configs, pick_device(config.device), workers,
                                **data_shape(dataset))
        super().__init__(config, members, dataset, observers, notify_interval)
        self.grid = config.members()  # (β, seed) of each member

    @property
    def model(self):
        """The stacked model of a stacked sweep (`StackedMembers.model`)."""
        return self.members.model

    @property
    def workers(self) -> int:
        """Threads stepping groups of members (1: members one after another)."""
        return getattr(self.members, "workers", 1)


def sweep_members(configs: Sequence[TrainConfig], device, workers: int | None = None,
                  n_classes: int = 10, order_seed: int | None = None,
                  image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | None = None,
                  ) -> StackedMembers | SequentialMembers:
    """The strategy for a sweep's members: stacked where their architecture can be stacked
    (models/architectures.py `stacked`) and their prior has an analytic KL, else one after
    another."""
    data: dict[str, Any] = {"n_classes": n_classes, "image_shape": image_shape,
                            "likelihood": likelihood}
    bernoulli = (configs[0].likelihood or likelihood or "bernoulli") == "bernoulli"
    if get_arch(configs[0].arch).stacked and get_prior(configs[0].prior).closed_form and bernoulli:
        return StackedMembers(configs, device, workers, order_seed=order_seed, **data)
    return SequentialMembers(configs, device, order_seed=order_seed, **data)


def train_sweep(config: SweepConfig, dataset: Dataset | None = None,
                observers: Sequence[SweepObserver] = ()) -> SweepResult:
    """Convenience: build a SweepTrainer and run it."""
    return SweepTrainer(config, dataset, observers).run()


__all__ = ["COURSE_BETAS", "MAX_MEMBERS", "SweepConfig", "SweepListError",
           "SweepObserver", "SweepResult", "SweepTrainer", "log_grid",
           "parse_betas", "parse_seeds", "sweep_kinds", "sweep_members", "train_sweep"]
