"""The model kinds, listed once: the CLI, the training form, the loop and the README read them.

Plain data, no torch: the GUI builds its combo boxes from here before torch has loaded.
A new kind is one `register_kind(...)` entry below; a new architecture names its factory in
that entry (`factory="models.mine:build"`), and `models.build_model` builds it from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from latent_explorer.models.registries import Registry, resolve

if TYPE_CHECKING:  # not models.autoencoders: it imports this module (no circles, even typed)
    import torch

ENGINES = ("fast", "autograd")
# The course's MLP encoder/decoder pair, which the three built-in kinds share.
MLP = "latent_explorer.models.autoencoders:LatentModel"


@dataclass(frozen=True)
class ModelKind:
    """One trainable kind of model: what it is called and what it needs."""

    name: str  # 'ae', 'vae', 'cvae': the value in configs, checkpoints and --model
    label: str  # 'AE', 'VAE', 'CVAE': shown in the GUI and the CLI
    description: str  # one line for help texts and the README
    variational: bool  # the encoder outputs μ and log σ, and the loss has a β·KL term
    conditional: bool  # encoder and decoder also take a one-hot class label
    engines: tuple[str, ...] = ENGINES  # which training engines can train it
    # What builds its model, factory(config: ModelConfig, generator) -> LatentModel: a
    # "module:function" path, imported on the first build (so this module stays torch-free),
    # or the callable itself.
    factory: str | Callable[..., Any] = MLP

    def __post_init__(self) -> None:
        unknown = [e for e in self.engines if e not in ENGINES]
        if not self.engines or unknown:
            raise ValueError(f"model kind {self.name!r}: engines must be some of "
                             f"{', '.join(ENGINES)}, got {self.engines!r}")

    def build(self, config: Any, generator: torch.Generator | None = None) -> torch.nn.Module:
        """A fresh model of this kind for `config` (a models.ModelConfig), initialised from
        `generator` when given: a models.LatentModel."""
        factory = resolve(self.factory) if isinstance(self.factory, str) else self.factory
        return factory(config, generator)


MODEL_KINDS: Registry[ModelKind] = Registry("model kind")
_KINDS = MODEL_KINDS  # its older name


def register_kind(kind: ModelKind) -> ModelKind:
    """Add a kind (its name must be new); returns it, so it can be kept in a constant."""
    return MODEL_KINDS.register(kind.name, kind)


def get_kind(name: str) -> ModelKind:
    """The kind called `name`; ValueError naming the choices for an unknown one."""
    return MODEL_KINDS.get(name)


def list_kinds() -> list[ModelKind]:
    """Every kind, in registration order."""
    return MODEL_KINDS.list()


def kind_names() -> tuple[str, ...]:
    """The names of every kind, in registration order."""
    return MODEL_KINDS.names()


AE = register_kind(ModelKind(
    "ae", "AE", "plain auto-encoder: a deterministic code z, BCE reconstruction only",
    variational=False, conditional=False))
VAE = register_kind(ModelKind(
    "vae", "VAE", "β-VAE: a Gaussian posterior q(z|x), BCE + β·KL to the N(0, I) prior",
    variational=True, conditional=False))
CVAE = register_kind(ModelKind(
    "cvae", "CVAE", "conditional β-VAE: encoder and decoder also see the one-hot class label",
    variational=True, conditional=True))


__all__ = ["ENGINES", "MLP", "MODEL_KINDS", "ModelKind", "get_kind", "kind_names", "list_kinds",
           "register_kind"]
