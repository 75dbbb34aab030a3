"""`TrainConfig`: everything a run needs besides the data, as plain values.

Its own module, importing only the model-kind registry, so the modules the loop imports
(data sources, resume, timeline) can name it without importing the loop back. No torch at
import: the training form builds one while torch is still loading. `training.engine.loop` re-exports
it, so `from training.engine.loop import TrainConfig` keeps working.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from latent_explorer.models.architectures import DEFAULT_ARCH, arch_names, get_arch
from latent_explorer.models.likelihoods import DEFAULT_LIKELIHOOD, likelihood_names
from latent_explorer.models.priors import DEFAULT_PRIOR, DEFAULT_PSEUDO_INPUTS, prior_problems
from latent_explorer.models.registry import get_kind, kind_names
from latent_explorer.training.engine.schedules import DEFAULT_KL_RATIO, KEEP_CHOICES, schedule_problems

if TYPE_CHECKING:
    from latent_explorer.models.autoencoders import ModelConfig
    from latent_explorer.training.data.datasets import Dataset


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs besides the data itself."""

    kind: str = "vae"
    beta: float = 0.005
    nz: int = 32
    hidden: tuple[int, ...] = (256, 64)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    dataset: str = "auto"
    data_dir: str | None = None
    compile: bool = False
    precision: str = "auto"  # 'auto', 'fp32' or 'bf16' (mixed precision for the matmuls)
    engine: str = "fast"  # 'fast' (hand-written backward, see fast_step) or 'autograd'
    # The networks (models/architectures.py), independent of the kind; files written before
    # architectures existed have no such field and load as the default, the course MLP.
    arch: str = DEFAULT_ARCH
    # Train to a target rate: β starts at `beta` and a PI controller steers it each step so the
    # KL settles at this many nats (training/engine/rate_control.py). None: β stays fixed.
    target_rate: float | None = None
    # The prior p(z) (models/priors.py) and the VampPrior's number of pseudo-inputs; files
    # written before priors existed have neither and load as the course's N(0, I).
    prior: str = DEFAULT_PRIOR
    pseudo_inputs: int = DEFAULT_PSEUDO_INPUTS
    # Schedules (training/engine/schedules.py); the defaults are the course's constant β and
    # learning rate, and files written before schedules existed load with them.
    kl_warmup: float = 0.0  # epochs over which β's factor rises linearly from 0 to 1
    kl_cycles: int = 0  # cyclical KL annealing (Fu et al. 2019): cycles over the run
    kl_ratio: float = DEFAULT_KL_RATIO  # of each cycle, the proportion spent rising
    lr_schedule: str = "constant"  # 'constant' or 'cosine' (decay to lr_min over the run)
    lr_min: float = 0.0  # the cosine's final learning rate
    lr_warmup: float = 0.0  # epochs of linear learning-rate warm-up
    # The epochs the run-long schedules (cosine, KL cycles) span; None: `epochs`. Set when a
    # run is continued past the epochs it was planned for, so its schedule does not jump.
    schedule_epochs: int | None = None
    keep: str = "last"  # the run's weights: the last epoch's, or 'best' (lowest test -ELBO)
    early_stop: int = 0  # end the run after this many epochs without a better test -ELBO
    # p(x|z) (models/likelihoods.py); None: the dataset's own (Bernoulli for the MNIST family
    # and sprites, the discretised logistic for 8-bit colour photographs).
    likelihood: str | None = None
    # The conv architecture's channels per stride-2 stage; empty: 32, 64, ... as the image
    # size needs (models/conv.py).
    conv_widths: tuple[int, ...] = ()
    # An image folder's images: resized and centre-cropped to image_size × image_size, and
    # converted to 1 (grey) or 3 (RGB) channels; None: as the files are.
    image_size: int | None = None
    image_channels: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "conv_widths", tuple(int(w) for w in self.conv_widths))
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """Human-readable reasons this config cannot train (empty when fine)."""
        p = []
        names = kind_names()
        if self.kind not in names:
            p.append(f"unknown model {self.kind!r} (choose {', '.join(names[:-1])} or {names[-1]})")
        archs = arch_names()
        if self.arch not in archs:
            p.append(f"unknown architecture {self.arch!r} (choose {', '.join(archs[:-1])} or "
                     f"{archs[-1]})" if len(archs) > 1 else f"unknown architecture {self.arch!r}")
        if not (isinstance(self.beta, (int, float)) and math.isfinite(self.beta) and self.beta >= 0):
            p.append(f"beta must be >= 0, got {self.beta}")
        if self.target_rate is not None:
            if not (isinstance(self.target_rate, (int, float)) and math.isfinite(self.target_rate)
                    and self.target_rate > 0):
                p.append(f"target rate must be a number of nats > 0, got {self.target_rate}")
            elif self.kind in names and not get_kind(self.kind).variational:
                p.append(f"an {get_kind(self.kind).label} has no rate to target (choose a "
                         "variational model)")
        p += shape_problems(self.nz, self.hidden, self.epochs, self.batch_size, self.lr)
        p += prior_problems(self.prior, self.kind, self.pseudo_inputs)
        variational = self.kind in names and get_kind(self.kind).variational
        p += schedule_problems(variational, get_kind(self.kind).label if self.kind in names
                               else self.kind, self.target_rate, self.kl_warmup, self.kl_cycles,
                               self.kl_ratio, self.lr_schedule, self.lr, self.lr_min,
                               self.lr_warmup)
        if self.likelihood is not None and self.likelihood not in likelihood_names():
            p.append(f"unknown likelihood {self.likelihood!r} (choose "
                     f"{', '.join(likelihood_names())})")
        if any(w < 1 for w in self.conv_widths):
            p.append(f"conv widths must be positive, got {self.conv_widths}")
        if self.image_size is not None and not (isinstance(self.image_size, int)
                                                and 4 <= self.image_size <= 1024):
            p.append(f"image size must be a whole number of pixels from 4 to 1024, got "
                     f"{self.image_size}")
        if self.image_channels not in (None, 1, 3):
            p.append(f"image channels must be 1 (grey) or 3 (colour), got {self.image_channels}")
        if self.keep not in KEEP_CHOICES:
            p.append(f"keep must be {' or '.join(KEEP_CHOICES)}, got {self.keep!r}")
        if not (isinstance(self.early_stop, int) and self.early_stop >= 0):
            p.append(f"early stop must be a whole number of epochs >= 0, got {self.early_stop}")
        if self.schedule_epochs is not None and not (isinstance(self.schedule_epochs, int)
                                                     and self.schedule_epochs >= 1):
            p.append(f"schedule epochs must be at least 1, got {self.schedule_epochs}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            p.append(f"seed must be a whole number between 0 and 2^63-1, got {self.seed}")
        if self.precision not in ("auto", "fp32", "bf16"):
            p.append(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.engine not in ("fast", "autograd"):
            p.append(f"engine must be fast or autograd, got {self.engine!r}")
        elif (self.engine == "autograd" and self.kind in names
              and "autograd" not in get_kind(self.kind).engines):
            # 'fast' means "the fast step where it applies": it falls back to autograd itself.
            p.append(f"the autograd engine cannot train a {get_kind(self.kind).label}")
        elif (self.engine == "autograd" and self.arch in archs
              and "autograd" not in get_arch(self.arch).engines):
            p.append(f"the autograd engine cannot train the {get_arch(self.arch).label} "
                     "architecture")
        return p

    def model_config(self, n_classes: int = 10, image_shape: tuple[int, ...] = (1, 28, 28),
                     likelihood: str | None = None) -> ModelConfig:
        """The model this config trains, for a dataset of `n_classes` classes and images of
        `image_shape` (C, H, W) whose own likelihood is `likelihood` (this config's, when it
        names one, wins)."""
        from latent_explorer.models.autoencoders import ModelConfig  # torch: only when a model is wanted

        return ModelConfig(kind=self.kind, nz=self.nz, hidden=self.hidden, n_classes=n_classes,
                           image_shape=tuple(image_shape),
                           beta=self.beta if get_kind(self.kind).variational else 0.0,
                           arch=self.arch, prior=self.prior, pseudo_inputs=self.pseudo_inputs,
                           likelihood=self.likelihood or likelihood or DEFAULT_LIKELIHOOD,
                           conv_widths=self.conv_widths)

    @property
    def load_options(self) -> dict[str, Any]:
        """What `load_dataset` takes besides the source: the image folder's size and channels."""
        return {"image_size": self.image_size, "channels": self.image_channels}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        if self.prior == DEFAULT_PRIOR:  # the course's prior: files as before priors existed
            del d["prior"], d["pseudo_inputs"]
        d["conv_widths"] = list(self.conv_widths)
        for name in SCHEDULE_FIELDS + IMAGE_FIELDS:  # files as before these existed
            if d[name] == _DEFAULTS[name]:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = set(cls.__dataclass_fields__)
        fields: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v)
                                  for k, v in d.items() if k in known}
        return cls(**fields)





# The schedule settings (training/engine/schedules.py): stored only when they differ from
# these defaults.
SCHEDULE_FIELDS = ("kl_warmup", "kl_cycles", "kl_ratio", "lr_schedule", "lr_min", "lr_warmup",
                   "schedule_epochs", "keep", "early_stop")
# The image and likelihood settings: stored only when set.
IMAGE_FIELDS = ("likelihood", "conv_widths", "image_size", "image_channels")
_DEFAULTS = {name: TrainConfig.__dataclass_fields__[name].default
             for name in SCHEDULE_FIELDS + IMAGE_FIELDS}
_DEFAULTS["conv_widths"] = []


def data_shape(dataset: "Dataset | None") -> dict[str, Any]:
    """What a model takes from its dataset, as keyword arguments of `TrainConfig.model_config`
    and `seeded_model`: its classes, image shape and default likelihood (the bundled digits'
    when there is no dataset yet)."""
    if dataset is None:
        return {"n_classes": 10, "image_shape": (1, 28, 28), "likelihood": None}
    return {"n_classes": dataset.n_classes, "image_shape": dataset.image_shape,
            "likelihood": dataset.likelihood}


def speed_family(arch: str, prior: str) -> str:
    """Runs that train at about the same steps/s on one machine: one architecture and prior
    ('mlp', the course's MLP with N(0, I); 'conv'; 'conv-vamp', ...). The app keeps one measured
    speed per family for its time estimates: a conv step costs ~13x an MLP step."""
    return arch if prior == DEFAULT_PRIOR else f"{arch}-{prior}"


def speed_families() -> tuple[str, ...]:
    """Every family `speed_family` can name, from the registries."""
    from latent_explorer.models.priors import prior_names

    return tuple(speed_family(a, p) for a in arch_names() for p in prior_names())


def shape_problems(nz: int, hidden: tuple[int, ...], epochs: int, batch_size: int,
                   lr: float) -> list[str]:
    """The checks a run and a sweep share: the model's sizes and the optimisation's numbers."""
    p = []
    if not 1 <= nz <= 4096:
        p.append(f"nz must be between 1 and 4096, got {nz}")
    if not hidden or any(h < 1 for h in hidden):
        p.append(f"hidden sizes must be positive, got {hidden}")
    if epochs < 1:
        p.append(f"epochs must be at least 1, got {epochs}")
    if batch_size < 1:
        p.append(f"batch size must be at least 1, got {batch_size}")
    if not (math.isfinite(lr) and lr > 0):
        p.append(f"learning rate must be > 0, got {lr}")
    return p


def parse_address(address: str) -> tuple[str, int]:
    """A Ray head's 'host:port' -> (host, port); ValueError (one line) when it is not that."""
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"the Ray address must be host:port (e.g. 127.0.0.1:6379), got "
                         f"{address!r}")
    return host.strip("[]"), int(port)


# The typed lists of a β sweep ('0, 1e-4, 1e-3'), read without torch as the user types.

class SweepListError(ValueError):
    """A typed list of betas or seeds could not be read; the message says which item."""


def parse_betas(text: str) -> tuple[float, ...]:
    """'0, 1e-4, 1e-3' -> (0.0, 0.0001, 0.001); SweepListError for an empty list, an item
    that is not a number, a negative or non-finite β, or a repeated one."""
    return _parse_numbers(text, "beta", "a finite number >= 0", lambda v: v >= 0)


def parse_rates(text: str) -> tuple[float, ...]:
    """'5, 10, 20' -> (5.0, 10.0, 20.0): target rates in nats; SweepListError for an empty
    list, an item that is not a number, a rate that is not > 0, or a repeated one."""
    return _parse_numbers(text, "target rate", "a number of nats > 0", lambda v: v > 0)


def _parse_numbers(text: str, what: str, rule: str, ok) -> tuple[float, ...]:
    items = [s.strip() for s in text.split(",")]
    if not any(items):
        raise SweepListError(f"the list of {what}s is empty")
    out: list[float] = []
    for s in items:
        if not s:
            raise SweepListError(f"empty item in the list of {what}s {text!r}")
        try:
            v = float(s)
        except ValueError:
            raise SweepListError(f"{what} {s!r} is not a number") from None
        if not (math.isfinite(v) and ok(v)):
            raise SweepListError(f"{what} must be {rule}, got {s}")
        if v in out:
            raise SweepListError(f"{what} {s} is listed twice")
        out.append(v)
    return tuple(out)


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0,1,2' -> (0, 1, 2); SweepListError for an empty list, a non-integer or repeated seed."""
    items = [s.strip() for s in text.split(",")]
    if not any(items):
        raise SweepListError("the list of seeds is empty")
    out: list[int] = []
    for s in items:
        try:
            v = int(s)
        except ValueError:
            raise SweepListError(f"seed {s!r} is not a whole number") from None
        if not 0 <= v < 2**63:
            raise SweepListError(f"seed must be between 0 and 2^63-1, got {s}")
        if v in out:
            raise SweepListError(f"seed {s} is listed twice")
        out.append(v)
    return tuple(out)


__all__ = ["IMAGE_FIELDS", "SCHEDULE_FIELDS", "data_shape", "SweepListError", "TrainConfig", "parse_address", "parse_betas",
           "parse_rates", "parse_seeds", "shape_problems"]
