"""The prior p(z) of a model in the training form: a combo of the registered priors
(models/priors.py) and, for a VampPrior, its number of pseudo-inputs."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from latent_explorer.models.priors import DEFAULT_PRIOR, DEFAULT_PSEUDO_INPUTS, get_prior, list_priors


class PriorControl(QWidget):
    """Prior combo + "K" spin box (shown for a prior of pseudo-inputs only)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        for p in list_priors():
            self.combo.addItem(p.label, p.name)
            self.combo.setItemData(self.combo.count() - 1, p.description,
                                   Qt.ItemDataRole.ToolTipRole)
        self.combo.setToolTip("The prior p(z) the KL pulls codes towards, and prior samples come "
                              "from: the course's N(0, I), or a VampPrior of learned "
                              "pseudo-inputs (VAE only; sharper prior samples, slower steps)")
        self.combo.setAccessibleName("Prior")
        self.k = QSpinBox()
        self.k.setRange(1, 10_000)
        self.k.setValue(DEFAULT_PSEUDO_INPUTS)
        self.k.setToolTip("The VampPrior's number of learned pseudo-inputs: they start as "
                          "this many training images")
        self.k.setAccessibleName("Pseudo-inputs")
        self._k_label = QLabel("pseudo-inputs")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self._k_label)
        row.addWidget(self.k)
        self.combo.currentIndexChanged.connect(self._on_combo_current_index_changed)
        self.k.valueChanged.connect(lambda _v: self.changed.emit())
        self._update_k()

    def value(self) -> tuple[str, int]:
        """(prior name, pseudo-inputs)."""
        return self.combo.currentData(), self.k.value()

    def set_value(self, prior: str | None, pseudo_inputs: int | None = None) -> None:
        """Select `prior` (unknown: the default) and its K (out of range: the default)."""
        i = self.combo.findData(prior)
        self.combo.setCurrentIndex(i if i >= 0 else self.combo.findData(DEFAULT_PRIOR))
        try:
            k = int(pseudo_inputs) if pseudo_inputs is not None else DEFAULT_PSEUDO_INPUTS
        except (TypeError, ValueError):
            k = DEFAULT_PSEUDO_INPUTS
        self.k.setValue(k if self.k.minimum() <= k <= self.k.maximum() else DEFAULT_PSEUDO_INPUTS)

    def set_kind_allows(self, allowed: bool, why: str = "") -> None:
        """Enable the choice for a model that can have another prior; else the default, with
        `why` as the tooltip."""
        if not allowed:
            self.combo.setCurrentIndex(self.combo.findData(DEFAULT_PRIOR))
        self.combo.setEnabled(allowed)
        self.setToolTip("" if allowed else why)

    def _on_combo_current_index_changed(self, _i: int) -> None:
        self._update_k()
        self.changed.emit()

    def _update_k(self) -> None:
        name = self.combo.currentData()
        needs_k = name is not None and not get_prior(name).closed_form
        self.k.setVisible(needs_k)
        self._k_label.setVisible(needs_k)


__all__ = ["PriorControl"]
