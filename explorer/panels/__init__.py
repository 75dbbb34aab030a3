"""Exploration panels: one tab each in the main window, all drawing 'the selected run'."""

from __future__ import annotations

from explorer.panels.base import Panel


def create_panels() -> list[Panel]:
    """One of each panel, in tab order; the window calls set_runs/set_run on each."""
    # Imported here so `import explorer.panels` (for Panel) stays light.
    from explorer.panels.conditional import ConditionalPanel
    from explorer.panels.interpolation import InterpolationPanel
    from explorer.panels.latent_map import LatentMapPanel
    from explorer.panels.prior import PriorPanel
    from explorer.panels.reconstructions import ReconstructionsPanel

    return [ReconstructionsPanel(), PriorPanel(), ConditionalPanel(), InterpolationPanel(),
            LatentMapPanel()]


__all__ = ["Panel", "create_panels"]
