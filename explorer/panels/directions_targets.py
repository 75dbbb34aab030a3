"""What other tabs send the Directions tab: the names of its "Send to" targets and the lasso pair.

Qt-free and tiny, so the Latent map's selection box can name the target without importing the
Directions panel. (The other targets live in explorer/panels/base.py; these could join them.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIRECTIONS_IMAGE = "directions image"  # an image in [0, 1], (C, H, W): the image to edit
DIRECTIONS_LASSO = "directions lasso"  # a LassoPair: the Latent map's selections A and B


@dataclass(frozen=True)
class LassoPair:
    """Two lasso selections of the Latent map, as indices into the selected run's test split.

    run_id: the run whose map they were drawn on (None: not known), so a pair drawn on another
    run's map is not applied to this one's codes.
    """

    a: np.ndarray
    b: np.ndarray
    run_id: int | None = None


__all__ = ["DIRECTIONS_IMAGE", "DIRECTIONS_LASSO", "LassoPair"]
