"""The β field of the training form: a log-scale slider (0, then 1e-4…10) next to a field that
shows, and takes, the exact value."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QSlider, QWidget

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
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.edit)
        self._syncing = False
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.edit.textEdited.connect(self._on_edit_text_edited)
        self.set_value(DEFAULT_BETA)

    def value(self) -> tuple[float | None, str | None]:
        return parse_beta(self.edit.text())

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
           "parse_beta"]
