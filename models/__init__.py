"""Torch modules of Latent Explorer: no Qt, no data, no globals.

The torch names load on first use (PEP 562), so `import models.registry` stays torch-free:
the GUI reads the model kinds while torch is still loading behind the window.
"""

from __future__ import annotations

import importlib

from latent_explorer.models.registry import ModelKind, get_kind, kind_names, list_kinds, register_kind

_FROM_AUTOENCODERS = ("KINDS", "LatentModel", "LossParts", "ModelConfig", "Posterior",
                      "build_model", "gaussian_kl")


def __getattr__(name: str):
    if name in _FROM_AUTOENCODERS:
        return getattr(importlib.import_module("latent_explorer.models.autoencoders"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [*_FROM_AUTOENCODERS, "ModelKind", "get_kind", "kind_names", "list_kinds",
           "register_kind"]
