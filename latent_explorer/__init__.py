"""Latent Explorer: train and explore the latent spaces of auto-encoders.

One import package over the project's folders: `latent_explorer.models` (torch modules),
`latent_explorer.training` (data, engine, records, metrics, CLI) and `latent_explorer.explorer`
(the Qt window), one way in that order. pyproject.toml maps each onto its folder at the top of
the checkout; this folder holds only what sits above them (the entry point).
"""

import os as _os

# torch's OpenMP threads spin-wait between ops. Beside two busy processes a one-epoch train ran
# 2.7-7.5x slower where a fair share of 2 cores is 2x; waiting passively gives the core back
# (benchmarks/busy_machine.py). OpenMP reads this once, when torch loads: every entry point
# (the window, the CLI, Ray workers, which inherit the environment) imports this package first.
# A user's own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
