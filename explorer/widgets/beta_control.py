"""The β field of the training form: a log-scale slider (0, then 1e-4…10) next to a field that
shows, and takes, the exact value, and under them what β is per image.

The course's β is per value: its loss is the reconstruction term averaged over the C·H·W
values plus β·KL. On the per-image scale (the summed −log p(x|z) + β'·KL of the β-VAE papers)
that is β' = β·C·H·W (ModelConfig.beta_per_image): 0.005 is 3.92 per image on 28×28 digits but
20.5 on 64×64 sprites, a far stronger pull to the prior. The line says both, for the chosen
dataset's shape when it is known before loading."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QSlider, QVBoxLayout, QWidget

BETA_MIN, BETA_MAX = 1e-4, 10.0
DEFAULT_BETA = 0.005  # the course's
# The slider's stops: 0, then 1, 1.5, 2, 3, 5, 7 in every decade from 1e-4 to 10. They are
# exact decimal values, so the field shows what the slider picked; any other value can be typed.
_MANTISSAS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
BETA_STOPS = (0.0, *[float(f"{m}e{e}") for e in range(-4, 1) for m in _MANTISSAS], 10.0)


def parse_beta(text: str) -> tuple[float | None, str | None]:
    """(β, None) or (None, reason): 0, or 1e-4 ≤ β ≤ 10."""
    try:
        v = float(text.strip().replace(",", "."))
    except ValueError:
        return None, f"β must be a number, got {text.strip()!r}"
    if not math.isfinite(v) or v < 0 or (0 < v < BETA_MIN) or v > BETA_MAX:
        return None, f"β must be 0 or between {BETA_MIN:g} and {BETA_MAX:g}, got {text.strip()}"
    return v, None


def _amount(v: float) -> str:
    """3.92, 20.5, 1,229: three significant figures, whole numbers with thousands marks."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def per_image_text(beta: float | None, image_shape: tuple[int, int, int] | None) -> str:
    """"β 0.005 per pixel · 3.92 per image (1×28×28)": β per value and per image of
    `image_shape` (C, H, W); None: the shape is known once the data has loaded."""
    if beta is None:
        return "β per image: once β is a number"
    if image_shape is None:
        return f"β {beta:g} per value · per image once loaded"
    c, h, w = image_shape
    unit = "per pixel" if c == 1 else "per value"  # a colour pixel holds C values
    return f"β {beta:g} {unit} · {_amount(beta * c * h * w)} per image ({c}×{h}×{w})"


def nearest_stop(beta: float) -> int:
    """Slider position whose stop is nearest to β on a log scale (0 for β = 0)."""
    if beta <= 0:
        return 0
    logs = [math.log10(s) for s in BETA_STOPS[1:]]
    lb = math.log10(beta)
    return 1 + min(range(len(logs)), key=lambda i: abs(logs[i] - lb))


class BetaControl(QWidget):
    """A log-scale slider (0 and 1e-4…10) next to a field showing the exact value."""

    value_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, len(BETA_STOPS) - 1)
        self.slider.setPageStep(len(_MANTISSAS))
        self.slider.setToolTip("β on a log scale: 0, then 0.0001 to 10")
        self.slider.setAccessibleName("β slider")
        self.edit = QLineEdit()
        self.edit.setAccessibleName("β")
        self.edit.setToolTip("The exact β: 0, or any value from 0.0001 to 10")
        self.edit.setMaximumWidth(self.edit.fontMetrics().horizontalAdvance("0.00015") * 2)
        # β per image for the dataset's shape (set_image_shape): one line, always there, so the
        # rows below never move as it changes.
        self.per_image = QLabel()
        self.per_image.setAccessibleName("β per image")
        self.per_image.setToolTip("β is per value (the reconstruction term is averaged over "
                                  "the image's C·H·W values); per image, against the summed "
                                  "term, it is β × C·H·W: the same β pulls harder to the prior "
                                  "on larger images")
        self._image_shape: tuple[int, int, int] | None = (1, 28, 28)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.edit)
        column.addLayout(row)
        column.addWidget(self.per_image)
        self._syncing = False
        self.value_changed.connect(lambda _v: self._update_per_image())
        self.edit.textChanged.connect(lambda _t: self._update_per_image())
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.edit.textEdited.connect(self._on_edit_text_edited)
        self.set_value(DEFAULT_BETA)

    def value(self) -> tuple[float | None, str | None]:
        return parse_beta(self.edit.text())

    def set_image_shape(self, image_shape: tuple[int, int, int] | None) -> None:
        """The (C, H, W) that β per image is for (None: not known until the data loads)."""
        self._image_shape = tuple(image_shape) if image_shape else None  # type: ignore[assignment]
        self._update_per_image()

    def _update_per_image(self) -> None:
        self.per_image.setText(per_image_text(self.value()[0], self._image_shape))

    def set_value(self, beta: float) -> None:
        self._syncing = True
        try:
            self.edit.setText(f"{beta:g}")
            self.slider.setValue(nearest_stop(beta))
        finally:
            self._syncing = False
        self.value_changed.emit(beta)

    @Slot(int)
    def _on_slider_value_changed(self, pos: int) -> None:
        if self._syncing:
            return
        beta = BETA_STOPS[pos]
        self.edit.setText(f"{beta:g}")
        self.value_changed.emit(beta)

    @Slot(str)
    def _on_edit_text_edited(self, text: str) -> None:
        v, _ = parse_beta(text)
        if v is None:
            return
        self._syncing = True
        try:
            self.slider.setValue(nearest_stop(v))  # the typed value stays exact
        finally:
            self._syncing = False
        self.value_changed.emit(v)


__all__ = ["BETA_MAX", "BETA_MIN", "BETA_STOPS", "BetaControl", "DEFAULT_BETA", "nearest_stop",
           "parse_beta", "per_image_text"]
