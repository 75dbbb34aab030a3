"""Latent Explorer: train and explore the latent spaces of auto-encoders.

One import package over the project's folders: `latent_explorer.models` (torch modules),
`latent_explorer.training` (data, engine, records, metrics, CLI) and `latent_explorer.explorer`
(the Qt window), one way in that order. pyproject.toml maps each onto its folder at the top of
the checkout; this folder holds only what sits above them (the entry point).
"""
