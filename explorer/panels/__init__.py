"""Exploration panels: one tab each in the main window, all drawing 'the selected run'.

A new panel is one new file here with a `Panel` subclass, plus one line in PANELS.
"""

from __future__ import annotations

from importlib import import_module

from explorer.panels.base import Panel

# (module, class) in tab order; imported on demand so `import explorer.panels` stays light.
PANELS = (
    ("explorer.panels.reconstructions", "ReconstructionsPanel"),
    ("explorer.panels.prior", "PriorPanel"),
    ("explorer.panels.conditional", "ConditionalPanel"),
    ("explorer.panels.interpolation", "InterpolationPanel"),
    ("explorer.panels.latent_map", "LatentMapPanel"),
    ("explorer.panels.draw", "DrawPanel"),
    ("explorer.panels.sweep", "SweepPanel"),
)


def create_panels() -> list[Panel]:
    """One of each registered panel, in tab order."""
    return [getattr(import_module(module), name)() for module, name in PANELS]


__all__ = ["PANELS", "Panel", "create_panels"]
