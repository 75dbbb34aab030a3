"""'Compare with': none or any usable run, kept by run id across changes of the run list."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from latent_explorer.training.record.run import Run


class CompareBox(QWidget):
    """A labelled run picker; `changed` when the chosen run changes."""

    changed = Signal()

    def __init__(self, tooltip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(14)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.addItem("none", None)
        self.combo.setToolTip(tooltip)
        self.combo.setAccessibleName("Compare with")
        self._runs: list[Run] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Compare with"))
        layout.addWidget(self.combo)
        self.combo.currentIndexChanged.connect(lambda _i: self.changed.emit())

    def set_runs(self, runs: list[Run]) -> None:
        keep = self.combo.currentData()
        self.combo.blockSignals(True)  # one `changed` at most, below
        self.combo.clear()
        self.combo.addItem("none", None)
        self._runs = list(runs)
        for r in self._runs:
            self.combo.addItem(f"{r.name} ({r.kind.upper()})", r.id)
        i = self.combo.findData(keep) if keep is not None else 0
        self.combo.setCurrentIndex(max(i, 0))
        self.combo.blockSignals(False)
        if self.combo.currentData() != keep:
            self.changed.emit()

    def current_run(self) -> Run | None:
        rid = self.combo.currentData()
        return next((r for r in self._runs if r.id == rid), None)

    def select_run(self, run: Run | None) -> None:
        self.combo.setCurrentIndex(max(0, self.combo.findData(run.id)) if run is not None else 0)

    def other_than(self, run: Run | None) -> Run | None:
        """The chosen run, unless it is `run` itself or has no model."""
        other = self.current_run()
        return other if other is not None and other is not run and other.model is not None else None
