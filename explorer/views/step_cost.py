"""What a training step on larger or colour images costs against a 28×28 digit's, for the form's
time estimate. Qt-free and torch-free.

The speeds the app keeps (time_estimate.SpeedBook) are per family of models
(training.config.speed_family), measured on whatever the last run trained: in practice 28×28
digits. Measured here (a VAE at batch 64 on one thread, `pixel_scale`'s numbers):

- MLP: 3.6 ms a step at 1×28×28, 17 at 1×64×64 and 3×32×32, 70 at 3×64×64: its first and last
  layers, which grow with the C·H·W values, dominate, so the cost follows C·H·W / 784 (within
  about 25 %).
- Conv: 105 ms at 1×28×28, 288 at 1×64×64, 78 at 3×32×32: no such rule (stride-2 stages, 28
  being odd after two halvings), so the form gives no figure and lets the first epoch measure it.
"""

from __future__ import annotations

DIGIT_VALUES = 28 * 28  # the values of the 1×28×28 digits the speeds were measured on
SCALED_ARCHS = ("mlp",)  # whose step cost follows the number of values


def pixel_scale(arch: str, image_shape: tuple[int, int, int] | None) -> float | None:
    """How many 28×28 steps' time one step on `image_shape` (C, H, W) takes: 1 for the digits'
    shape (or an unknown one: the figure then stands as measured), C·H·W / 784 for the MLP,
    None where no rule holds (another architecture on another shape)."""
    if image_shape is None:
        return 1.0
    c, h, w = image_shape
    values = c * h * w
    if values == DIGIT_VALUES:
        return 1.0
    return values / DIGIT_VALUES if arch in SCALED_ARCHS else None


__all__ = ["DIGIT_VALUES", "SCALED_ARCHS", "pixel_scale"]
