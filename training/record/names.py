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


def config_name(config) -> str:
    """A new run's name from its TrainConfig: 'VAE β=0.005 nz=32', with a non-default
    architecture, prior or a target rate said ('VAE conv R=10 nz=16')."""
    from latent_explorer.models.architectures import DEFAULT_ARCH
    from latent_explorer.models.priors import DEFAULT_PRIOR

    parts = [config.kind.upper()]
    if config.arch != DEFAULT_ARCH:
        parts.append(config.arch)
    if config.prior != DEFAULT_PRIOR:
        parts.append(config.prior)
    if config.kind != "ae":
        parts.append(f"R={config.target_rate:g}" if config.target_rate is not None
                     else f"β={config.beta:g}")
    parts.append(f"nz={config.nz}")
    return " ".join(parts)
