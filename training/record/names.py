"""File names from run names: torch-free, so the window's dialogs can propose them at once."""

from __future__ import annotations

import re
import unicodedata


def file_stem(name: str) -> str:
    """A run's name as a file name a shell takes as it is: ASCII letters, digits, '.', '_' and
    '-' ('VAE β=0.005 nz=32 #1' -> 'vae-beta0.005-nz32-1'); 'run' when nothing is left."""
    text = name.replace("β", "beta").replace("=", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    stem = "-".join(re.findall(r"[A-Za-z0-9._]+", text)).lower().strip(".-")
    return stem or "run"
