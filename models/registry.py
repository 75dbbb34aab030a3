"""The model kinds, listed once: the CLI, the training form, the loop and the README read them.

Plain data, no torch: the GUI builds its combo boxes from here before torch has loaded.
A new kind is one `register_kind(...)` entry below plus its code in `autoencoders.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

ENGINES = ("fast", "autograd")


@dataclass(frozen=True)
class ModelKind:
    """One trainable kind of model: what it is called and what it needs."""

    name: str  # 'ae', 'vae', 'cvae': the value in configs, checkpoints and --model
    label: str  # 'AE', 'VAE', 'CVAE': shown in the GUI and the CLI
    description: str  # one line for help texts and the README
    variational: bool  # the encoder outputs μ and log σ, and the loss has a β·KL term
    conditional: bool  # encoder and decoder also take a one-hot class label
    engines: tuple[str, ...] = ENGINES  # which training engines can train it

    def __post_init__(self) -> None:
        unknown = [e for e in self.engines if e not in ENGINES]
        if not self.engines or unknown:
            raise ValueError(f"model kind {self.name!r}: engines must be some of "
                             f"{', '.join(ENGINES)}, got {self.engines!r}")


_KINDS: dict[str, ModelKind] = {}


def register_kind(kind: ModelKind) -> ModelKind:
    """Add a kind (its name must be new); returns it, so it can be kept in a constant."""
    if kind.name in _KINDS:
        raise ValueError(f"model kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> ModelKind:
    """The kind called `name`; ValueError naming the choices for an unknown one."""
    try:
        return _KINDS[name]
    except (KeyError, TypeError):  # TypeError: an unhashable value from a bad config file
        raise ValueError(f"unknown model kind {name!r}; choose one of {', '.join(_KINDS)}") from None


def list_kinds() -> list[ModelKind]:
    """Every kind, in registration order."""
    return list(_KINDS.values())


def kind_names() -> tuple[str, ...]:
    """The names of every kind, in registration order."""
    return tuple(_KINDS)


AE = register_kind(ModelKind(
    "ae", "AE", "plain auto-encoder: a deterministic code z, BCE reconstruction only",
    variational=False, conditional=False))
VAE = register_kind(ModelKind(
    "vae", "VAE", "β-VAE: a Gaussian posterior q(z|x), BCE + β·KL to the N(0, I) prior",
    variational=True, conditional=False))
CVAE = register_kind(ModelKind(
    "cvae", "CVAE", "conditional β-VAE: encoder and decoder also see the one-hot class label",
    variational=True, conditional=True))


__all__ = ["ENGINES", "ModelKind", "get_kind", "kind_names", "list_kinds", "register_kind"]
