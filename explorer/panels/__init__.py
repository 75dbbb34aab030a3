"""Exploration panels: one tab each in the main window, all drawing 'the selected run'.

A new panel is one new file here with a `Panel` subclass, plus one `register_panel` line below.
"""

from __future__ import annotations

from latent_explorer.explorer.panels.base import Panel
from latent_explorer.models.registries import Registry, resolve

# name -> "module:Class", in tab order; imported on demand so `import explorer.panels` stays light.
PANELS: Registry[str] = Registry("panel")


def register_panel(name: str, path: str) -> str:
    """Add the panel class at "module:Class" `path` as `name` (which must be new); tabs follow
    registration order."""
    return PANELS.register(name, path)


def create_panels() -> list[Panel]:
    """One of each registered panel, in tab order."""
    return [resolve(path)() for path in PANELS.list()]


register_panel("reconstructions", "latent_explorer.explorer.panels.reconstructions:ReconstructionsPanel")
register_panel("prior", "latent_explorer.explorer.panels.prior:PriorPanel")
register_panel("conditional", "latent_explorer.explorer.panels.conditional:ConditionalPanel")
register_panel("interpolation", "latent_explorer.explorer.panels.interpolation:InterpolationPanel")
register_panel("latent-map", "latent_explorer.explorer.panels.latent_map:LatentMapPanel")
register_panel("directions", "latent_explorer.explorer.panels.directions:DirectionsPanel")
register_panel("draw", "latent_explorer.explorer.panels.draw:DrawPanel")
register_panel("sweep", "latent_explorer.explorer.panels.sweep:SweepPanel")
register_panel("factors", "latent_explorer.explorer.panels.factors:FactorsPanel")


__all__ = ["PANELS", "Panel", "create_panels", "register_panel"]
