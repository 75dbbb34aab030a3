"""Datasets: the bundled sample, IDX files, image folders, sprites, colour photographs and the
source registry.

`from training.data import load_dataset, Dataset` keeps working as it did when this was one
module: the names load on first use, so the loaders (datasets.py, image_folder.py) never
import the registry (sources.py) that calls them, and nothing here forms an import circle.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataError": "latent_explorer.training.data.datasets",
    "Dataset": "latent_explorer.training.data.datasets",
    "Split": "latent_explorer.training.data.datasets",
    "batches_per_epoch": "latent_explorer.training.data.datasets",
    "iterate_batches": "latent_explorer.training.data.datasets",
    "load_mnist_sample": "latent_explorer.training.data.datasets",
    "load_idx_folder": "latent_explorer.training.data.datasets",
    "load_image_folder": "latent_explorer.training.data.image_folder",
    "load_sprites": "latent_explorer.training.data.sprites",
    "load_cifar10": "latent_explorer.training.data.colour_sources",
    "load_svhn": "latent_explorer.training.data.colour_sources",
    "load_celeba_folder": "latent_explorer.training.data.colour_sources",
    "load_dataset": "latent_explorer.training.data.sources",
    "list_sources": "latent_explorer.training.data.sources",
    "source_names": "latent_explorer.training.data.sources",
    "default_epochs": "latent_explorer.training.data.sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "SOURCES":  # the tuple of source names, as the single module once held
        return importlib.import_module("latent_explorer.training.data.sources").source_names()
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'latent_explorer.training.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
