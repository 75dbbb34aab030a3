"""The architectures, listed once: which networks encode and decode, independent of the kind.

A kind (models/registry.py) says what a model is (AE, VAE, CVAE: a posterior or not, a label or
not); an architecture says what its encoder and decoder are made of: `mlp`, the course's
Linear/ReLU chains, or `conv`, strided convolutions and transposed convolutions. Every kind
trains with every architecture. The CLI's `--arch`, the training form and the README read them.

Plain data, no torch (the GUI builds its combo box from here before torch has loaded). A new
architecture is one `register_arch(...)` entry naming its factory as a "module:function" path,
which `models.build_model` imports on the first build.

An entry also says how it trains fastest, measured (benchmarks/conv_settings.py), for the loop to
read: `engines` (which training engines can train it), `precision` (the precision `auto`
means for it where the CPU or GPU has native bf16) and `compile` (whether `torch.compile` pays
for a run of the course's length).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from latent_explorer.models.registries import Registry, resolve
from latent_explorer.models.registry import ENGINES

if TYPE_CHECKING:  # not models.autoencoders: it imports this module (no circles, even typed)
    import torch

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class Architecture:
    """One family of encoder/decoder networks: what it is called and how it trains fastest."""

    name: str  # 'mlp', 'conv': the value in configs, checkpoints and --arch
    label: str  # 'MLP', 'Conv': shown in the GUI
    description: str  # one line for help texts and the README
    # factory(config: ModelConfig, generator) -> LatentModel, a "module:function" path imported
    # on the first build (this module stays torch-free), or the callable itself.
    factory: str | Callable[..., Any]
    engines: tuple[str, ...] = ENGINES  # which training engines can train it
    # What precision 'auto' should mean for it on a device with native bf16 (AVX512-BF16 or AMX
    # on a CPU, any recent GPU); float32 elsewhere. Measured, not assumed.
    precision: str = "fp32"
    compile: bool = False  # whether torch.compile pays for a course-length run (measured)
    # Whether a sweep's members of it can be stacked and stepped as one model (the stacked
    # engine's hand-written batched MLP steps, training/engine/stacked.py); a sweep of any
    # other architecture steps its members one after another (training/engine/sequential.py).
    stacked: bool = True

    def __post_init__(self) -> None:
        unknown = [e for e in self.engines if e not in ENGINES]
        if not self.engines or unknown:
            raise ValueError(f"architecture {self.name!r}: engines must be some of "
                             f"{', '.join(ENGINES)}, got {self.engines!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"architecture {self.name!r}: precision must be one of "
                             f"{', '.join(PRECISIONS)}, got {self.precision!r}")

    def build(self, config: Any, generator: torch.Generator | None = None) -> torch.nn.Module:
        """A fresh model of this architecture for `config` (a models.ModelConfig)."""
        factory = resolve(self.factory) if isinstance(self.factory, str) else self.factory
        return factory(config, generator)


ARCHITECTURES: Registry[Architecture] = Registry("architecture")


def register_arch(arch: Architecture) -> Architecture:
    """Add an architecture (its name must be new); returns it."""
    return ARCHITECTURES.register(arch.name, arch)


def get_arch(name: str) -> Architecture:
    """The architecture called `name`; ValueError naming the choices for an unknown one."""
    return ARCHITECTURES.get(name)


def list_archs() -> list[Architecture]:
    """Every architecture, in registration order (the default first)."""
    return ARCHITECTURES.list()


def arch_names() -> tuple[str, ...]:
    return ARCHITECTURES.names()


DEFAULT_ARCH = "mlp"  # the course's, and what files written before architectures existed hold

MLP_ARCH = register_arch(Architecture(
    "mlp", "MLP",
    "the course's fully connected layers: C·H·W (784) → 256 → 64 → z and back (sizes: --hidden)",
    # The kind's own factory builds it: the course MLP, unless a kind names another.
    factory="latent_explorer.models.autoencoders:build_kind_model"))
CONV_ARCH = register_arch(Architecture(
    "conv", "Conv",
    "convolutions: 4×4 stride-2 stages, 32, 64, ... channels, as many as the size needs "
    "(28 → 7, 32 → 4, 64 → 4), a dense layer to z, and the mirror image in transposed "
    "convolutions",
    factory="latent_explorer.models.conv:ConvLatentModel", engines=("autograd",), precision="bf16",
    stacked=False))


__all__ = ["ARCHITECTURES", "Architecture", "CONV_ARCH", "DEFAULT_ARCH", "MLP_ARCH", "PRECISIONS",
           "arch_names", "get_arch", "list_archs", "register_arch"]
