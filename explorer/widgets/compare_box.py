"""'Compare with': none or any usable run but the selected one, kept by run id across changes
of the run list."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from latent_explorer.training.record.run import Run

# The picker is this many characters wide; a longer run name is elided with '…' in it (its item
# and the box's tooltip carry the whole name). Wider, it pushed the tab's settings off its row.
CONTENTS_LENGTH = 22


class CompareBox(QWidget):
    """A labelled run picker; `changed` when the chosen run changes.

    The selected run is never offered as a comparison with itself: the panel says which run
    is selected (`set_selected`, or through `other_than`, which every panel asks when it draws).
    """

    changed = Signal()

    def __init__(self, tooltip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(CONTENTS_LENGTH)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.addItem("none", None)
        self._tooltip = tooltip
        self.combo.setToolTip(tooltip)
        self.combo.setAccessibleName("Compare with")
        self._runs: list[Run] = []
        self._selected: Run | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Compare with"))
        layout.addWidget(self.combo)
        self.combo.currentIndexChanged.connect(self._on_index_changed)

    def set_runs(self, runs: list[Run]) -> None:
        self._runs = list(runs)
        self._fill()

    def set_selected(self, run: Run | None, emit: bool = True) -> None:
        """The panel's selected run: taken off the list (a run compared with itself shows
        nothing new); when it was the chosen one, the choice goes back to 'none'."""
        if run is self._selected:
            return
        self._selected = run
        self._fill(emit)

    def offered_runs(self) -> list[Run]:
        """The runs the picker offers, in run-list order (never the selected one)."""
        return [r for r in self._runs if r is not self._selected]

    def item_texts(self) -> list[str]:
        """What each item of the picker shows ('none' first)."""
        return [self.combo.itemText(i) for i in range(self.combo.count())]

    def _fill(self, emit: bool = True) -> None:
        keep = self.combo.currentData()
        self.combo.blockSignals(True)  # one `changed` at most, below
        self.combo.clear()
        self.combo.addItem("none", None)
        fm = self.combo.fontMetrics()
        width = fm.horizontalAdvance("x" * CONTENTS_LENGTH)
        for r in self.offered_runs():
            full = f"{r.name} ({r.kind.upper()})"
            self.combo.addItem(fm.elidedText(full, Qt.TextElideMode.ElideMiddle, width), r.id)
            self.combo.setItemData(self.combo.count() - 1, full, Qt.ItemDataRole.ToolTipRole)
        i = self.combo.findData(keep) if keep is not None else 0
        self.combo.setCurrentIndex(max(i, 0))
        self.combo.blockSignals(False)
        self._update_tooltip()
        if emit and self.combo.currentData() != keep:
            self.changed.emit()

    def _on_index_changed(self, _index: int) -> None:
        self._update_tooltip()
        self.changed.emit()

    def _update_tooltip(self) -> None:
        full = self.combo.itemData(self.combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)
        self.combo.setToolTip(f"{full}\n{self._tooltip}" if full else self._tooltip)

    def current_run(self) -> Run | None:
        rid = self.combo.currentData()
        return next((r for r in self._runs if r.id == rid), None)

    def select_run(self, run: Run | None) -> None:
        self.combo.setCurrentIndex(max(0, self.combo.findData(run.id)) if run is not None else 0)

    def other_than(self, run: Run | None) -> Run | None:
        """The chosen run, unless it is `run` itself or has no model. `run` is the panel's
        selected run: it leaves the list (set_selected)."""
        self.set_selected(run, emit=False)  # the panel is drawing with what this returns
        other = self.current_run()
        return other if other is not None and other is not run and other.model is not None else None
