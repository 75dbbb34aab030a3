"""Latent Explorer: train and explore the latent spaces of auto-encoders.

One import package over the project's folders: `latent_explorer.models` (torch modules),
`latent_explorer.training` (data, engine, records, metrics, CLI) and `latent_explorer.explorer`
(the Qt window), one way in that order. pyproject.toml maps each onto its folder at the top of
the checkout; this folder holds only what sits above them (the entry point).
"""

from latent_explorer.cpu_policy import choose_wait_policy as _choose_wait_policy

# Before anything imports torch (OpenMP reads it once): passive waits when the machine is busy,
# spinning (fastest) when it is quiet; a user's own OMP_WAIT_POLICY wins. Every entry point
# (the window, the CLI, Ray workers, which inherit the environment) imports this package first.
_choose_wait_policy()
