"""Datasets: the bundled sample, IDX files, image folders and the source registry.

`from training.data import load_dataset, Dataset` keeps working as it did when this was one
module: the names load on first use, so the loaders (datasets.py, image_folder.py) never
import the registry (sources.py) that calls them, and nothing here forms an import circle.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataError": "training.data.datasets",
    "Dataset": "training.data.datasets",
    "Split": "training.data.datasets",
    "batches_per_epoch": "training.data.datasets",
    "iterate_batches": "training.data.datasets",
    "load_mnist_sample": "training.data.datasets",
    "load_idx_folder": "training.data.datasets",
    "load_image_folder": "training.data.image_folder",
    "load_dataset": "training.data.sources",
    "list_sources": "training.data.sources",
    "source_names": "training.data.sources",
    "default_epochs": "training.data.sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "SOURCES":  # the tuple of source names, as the single module once held
        return importlib.import_module("training.data.sources").source_names()
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'training.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
