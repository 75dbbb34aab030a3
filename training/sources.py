"""Data sources (placeholder until the registry lands): which dataset a checkpoint used."""

from __future__ import annotations

from pathlib import Path

from training.data import SOURCES


def dataset_candidates(train_config, recorded: str) -> list[tuple[str, str | None]]:
    """Where to look for a checkpoint's data: its folder if it still exists, then its names."""
    candidates: list[tuple[str, str | None]] = []
    if train_config.data_dir and Path(train_config.data_dir).expanduser().is_dir():
        candidates.append(("folder", train_config.data_dir))
    for name in (recorded, train_config.dataset):
        if name and name in SOURCES and (name, None) not in candidates:
            candidates.append((name, None))
    return candidates
