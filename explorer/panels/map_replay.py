"""The Latent map tab's "Replay training" row: a check box, a slider over the run's timeline
snapshots and the step it shows, and the snapshots' aligned maps (cached per timeline).

`Timeline.aligned_coords` (training/record/timeline.py) gives the 1,000 fixed test codes as the
model placed them at each snapshot, each snapshot's PCA turned to line up with the one before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QWidget

if TYPE_CHECKING:
    from latent_explorer.training.record.timeline import Timeline

TIP = ("Show how the clusters formed: the fixed test codes at each snapshot of the run's "
       "training timeline")
NO_TIMELINE_TIP = "This run has no training timeline (an older checkpoint) to replay"


class ReplayControls(QWidget):
    """Replay on/off, the snapshot slider, its step; the timeline's aligned maps."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check = QCheckBox("Replay training")
        self.check.setToolTip(TIP)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("Training step")
        self.slider.setEnabled(False)
        self.label = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.check)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self._aligned: tuple[int, int, np.ndarray] | None = None  # (id, length, coords)
        self.check.toggled.connect(self.slider.setEnabled)

    @property
    def is_on(self) -> bool:
        return self.check.isChecked()

    def coords(self, timeline: Timeline | None) -> np.ndarray | None:
        """(S, k, 2): every snapshot's aligned map of the fixed codes (cached per timeline)."""
        if timeline is None or not timeline.snapshots:
            return None
        if self._aligned is None or self._aligned[:2] != (id(timeline), len(timeline)):
            self._aligned = (id(timeline), len(timeline), timeline.aligned_coords())
        return self._aligned[2]

    def update_for(self, timeline: Timeline | None) -> None:
        """Enable replay for a run with a timeline; the slider at its last snapshot."""
        n = len(timeline) if timeline is not None else 0
        self.check.setEnabled(n > 0)
        self.check.setToolTip(TIP if n else NO_TIMELINE_TIP)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.setValue(max(0, n - 1))
        self.slider.blockSignals(False)
        self.slider.setEnabled(n > 0 and self.is_on)

    def end(self, timeline: Timeline | None) -> None:
        """Back to the live map quietly (the caller redraws), the controls for `timeline`."""
        if self.check.isChecked():
            self.check.blockSignals(True)
            self.check.setChecked(False)
            self.check.blockSignals(False)
        self.label.setText("")
        self._aligned = None
        self.update_for(timeline)


__all__ = ["ReplayControls"]
