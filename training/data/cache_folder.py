"""The per-user cache folder, torch-free: downloads, judges and compiled numba code go under it.

`training.data.datasets.cache_dir` is this function (re-exported there, where it always was);
the map code (training/explore/latent_methods.py) reads it without importing torch.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Per-user cache folder, as each OS expects (platformdirs); LATENT_EXPLORER_CACHE overrides it.

    Linux: $XDG_CACHE_HOME/latent-explorer (~/.cache/...); macOS: ~/Library/Caches/...;
    Windows: %LOCALAPPDATA%/latent-explorer/Cache.
    """
    env = os.environ.get("LATENT_EXPLORER_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("latent-explorer", appauthor=False))


__all__ = ["cache_dir"]
