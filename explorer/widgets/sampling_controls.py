"""Grid size, seed, Resample and a temperature slider: how prior samples are drawn."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QWidget
from superqt.utils import qthrottled


class SamplingControls(QWidget):
    """k, seed, Resample, T; `changed` fires once per change (the slider: latest value wins)."""

    changed = Signal()

    def __init__(self, k: int = 4, k_tooltip: str = "Grid size k: k×k samples",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.k = QSpinBox()
        self.k.setRange(1, 16)
        self.k.setValue(k)
        self.k.setToolTip(k_tooltip)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed draws the same z: for reproducible grids and fair "
                             "comparisons")
        self.resample = QPushButton("Resample")
        self.resample.setToolTip("Draw new z (a new random seed)")
        self.temperature = QSlider(Qt.Orientation.Horizontal)
        self.temperature.setRange(10, 200)
        self.temperature.setValue(100)
        self.temperature.setToolTip("Temperature: the σ of the prior samples (0.1–2.0)")
        self.temperature.setMinimumWidth(160)
        self.temperature_label = QLabel("T = 1.00")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("k"), self.k, QLabel("Seed"), self.seed, self.resample,
                  QLabel("Temperature"), self.temperature, self.temperature_label):
            layout.addWidget(w)
        # A slider dragged faster than we decode: coalesce to the newest value at the next
        # event-loop turn (timeout 0, trailing edge only).
        self._changed_later = qthrottled(self.changed.emit, timeout=0, leading=False, parent=self)
        self.k.valueChanged.connect(lambda _v: self.changed.emit())
        self.seed.valueChanged.connect(lambda _v: self.changed.emit())
        self.temperature.valueChanged.connect(self._on_temperature_changed)
        self.resample.clicked.connect(self._on_resample_clicked)

    @property
    def temperature_value(self) -> float:
        return self.temperature.value() / 100.0

    def _on_temperature_changed(self, value: int) -> None:
        self.temperature_label.setText(f"T = {value / 100:.2f}")
        self._changed_later()

    def _on_resample_clicked(self) -> None:
        self.seed.setValue(int(np.random.default_rng().integers(0, 2**31 - 1)))
