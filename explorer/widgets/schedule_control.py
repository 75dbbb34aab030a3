"""The training form's "Schedule" section: KL warm-up or cycles, the learning-rate schedule,
the best epoch and early stopping (the math: latent_explorer.training.engine.schedules).

Collapsed by default under one toggle, which says when a setting differs from the course's
(constant β and learning rate, the last epoch's weights, every epoch trained); one field a row,
so the form stays narrow. The parsers are plain functions: the form validates inline with them.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from latent_explorer.training.engine.schedules import DEFAULT_KL_RATIO, describe, schedule_problems

# The settings and their defaults: TrainConfig's (a test checks), the course's behaviour.
SCHEDULE_DEFAULTS = {"kl_warmup": 0.0, "kl_cycles": 0, "kl_ratio": DEFAULT_KL_RATIO,
                     "lr_schedule": "constant", "lr_min": 0.0, "lr_warmup": 0.0,
                     "keep": "last", "early_stop": 0}
SWEEP_KEYS = ("kl_warmup", "kl_cycles", "kl_ratio", "lr_schedule", "lr_min", "lr_warmup")
MAX_EPOCHS = 10_000


def parse_epochs(text: str, what: str) -> tuple[float | None, str | None]:
    """A number of epochs >= 0 (fractions allowed; empty is 0, none)."""
    text = text.strip().replace(",", ".")
    if not text:
        return 0.0, None
    try:
        v = float(text)
    except ValueError:
        return None, f"{what} must be a number of epochs, got {text!r}"
    if not (math.isfinite(v) and 0 <= v <= MAX_EPOCHS):
        return None, f"{what} must be between 0 and {MAX_EPOCHS:,} epochs, got {text}"
    return v, None


def parse_ratio(text: str) -> tuple[float | None, str | None]:
    """The rising proportion of a KL cycle, in (0, 1]."""
    text = text.strip().replace(",", ".")
    try:
        v = float(text)
    except ValueError:
        return None, f"the rising part of a KL cycle must be a number, got {text!r}"
    if not (math.isfinite(v) and 0 < v <= 1):
        return None, f"the rising part of a KL cycle must be > 0 and <= 1, got {text}"
    return v, None


def parse_lr_min(text: str) -> tuple[float | None, str | None]:
    """The cosine's final learning rate, >= 0 (empty is 0)."""
    text = text.strip().replace(",", ".")
    if not text:
        return 0.0, None
    try:
        v = float(text)
    except ValueError:
        return None, f"the final learning rate must be a number, got {text!r}"
    if not (math.isfinite(v) and v >= 0):
        return None, f"the final learning rate must be >= 0, got {text}"
    return v, None


def _fmt(v: float) -> str:
    return "" if not v else f"{v:g}"


class ScheduleControl(QWidget):
    """A "Schedule" toggle and the fields it shows; `value()` gives TrainConfig's fields."""

    changed = Signal()  # any field changed (text fields: as the user types)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton()
        self.toggle.setText("Schedule")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.setAccessibleName("Schedule")

        self.kl_mode = QComboBox()
        self.kl_mode.addItem("constant β", "constant")
        self.kl_mode.addItem("warm-up", "warmup")
        self.kl_mode.addItem("cycles", "cycles")
        self.kl_mode.setToolTip(
            "β's weight over training. Warm-up: β × a factor rising linearly from 0 to 1 over "
            "the first epochs (against posterior collapse). Cycles (Fu et al. 2019): the run is "
            "split into cycles, in each the factor rises from 0 over the rising part, then "
            "stays 1. The plot shows each step's β")
        self.kl_warmup = QLineEdit()
        self.kl_warmup.setPlaceholderText("epochs")
        self.kl_warmup.setToolTip("Epochs over which β's factor rises from 0 to 1 (fractions "
                                  "allowed)")
        self.kl_cycles = QSpinBox()
        self.kl_cycles.setRange(1, 1000)
        self.kl_cycles.setValue(4)
        self.kl_cycles.setToolTip("How many annealing cycles the run's steps are split into")
        self.kl_ratio = QLineEdit()
        self.kl_ratio.setToolTip("The proportion of each cycle over which β's factor rises from "
                                 "0 to 1 (Fu et al.: 0.5), in (0, 1]")
        self.lr_schedule = QComboBox()
        self.lr_schedule.addItem("constant", "constant")
        self.lr_schedule.addItem("cosine decay", "cosine")
        self.lr_schedule.setToolTip("Constant: the learning rate throughout (the course's). "
                                    "Cosine: from it down to the final rate over the run")
        self.lr_min = QLineEdit()
        self.lr_min.setPlaceholderText("0")
        self.lr_min.setToolTip("The learning rate the cosine decays to at the run's last step")
        self.lr_warmup = QLineEdit()
        self.lr_warmup.setPlaceholderText("epochs; empty: none")
        self.lr_warmup.setToolTip("Epochs over which the learning rate rises linearly to its "
                                  "value first (either schedule)")
        self.keep = QComboBox()
        self.keep.addItem("last epoch", "last")
        self.keep.addItem("best epoch", "best")
        self.keep.setToolTip("The weights the run keeps: its last epoch's, or those of the epoch "
                             "with the lowest test −ELBO (an AE's: test BCE), with that epoch's "
                             "metrics. Continuing it goes on from its last weights, exactly")
        self.early_stop = QSpinBox()
        self.early_stop.setRange(0, MAX_EPOCHS)
        self.early_stop.setSpecialValueText("off")
        self.early_stop.setSuffix(" epochs")
        self.early_stop.setToolTip("End the run (finished) once this many epochs pass without a "
                                   "lower test −ELBO; off: train every epoch")
        for w, name in ((self.kl_mode, "KL schedule"), (self.kl_warmup, "KL warm-up"),
                        (self.kl_cycles, "KL cycles"), (self.kl_ratio, "KL rising part"),
                        (self.lr_schedule, "Learning-rate schedule"),
                        (self.lr_min, "Final learning rate"),
                        (self.lr_warmup, "Learning-rate warm-up"), (self.keep, "Keep"),
                        (self.early_stop, "Early stop")):
            w.setAccessibleName(name)

        self.body = QWidget()
        form = QFormLayout(self.body)
        form.setContentsMargins(12, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("KL weight", self.kl_mode)
        form.addRow("KL warm-up", self.kl_warmup)
        form.addRow("KL cycles", self.kl_cycles)
        form.addRow("Rising part", self.kl_ratio)
        form.addRow("LR schedule", self.lr_schedule)
        form.addRow("Final LR", self.lr_min)
        form.addRow("LR warm-up", self.lr_warmup)
        form.addRow("Keep", self.keep)
        form.addRow("Early stop", self.early_stop)
        self._form = form
        self.body.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toggle)
        layout.addWidget(self.body)

        self._variational = True
        self._sweep = False
        self.set_value(SCHEDULE_DEFAULTS)
        self.toggle.toggled.connect(self.set_expanded)
        for combo in (self.kl_mode, self.lr_schedule, self.keep):
            combo.currentIndexChanged.connect(lambda _i: self._on_changed())
        for spin in (self.kl_cycles, self.early_stop):
            spin.valueChanged.connect(lambda _v: self._on_changed())
        for edit in self.edits:
            edit.textEdited.connect(lambda _t: self._on_changed())

    # -- queries ---------------------------------------------------------------------------------
    @property
    def edits(self) -> tuple[QLineEdit, ...]:
        """The text fields, checked as the user types."""
        return (self.kl_warmup, self.kl_ratio, self.lr_min, self.lr_warmup)

    @property
    def is_expanded(self) -> bool:
        return self.toggle.isChecked()

    def value(self) -> dict:
        """TrainConfig's schedule fields (an unreadable text field comes back as None); the KL
        settings are the defaults for a model without a KL term, the best epoch and early
        stopping for a sweep."""
        v = dict(SCHEDULE_DEFAULTS)
        mode = self.kl_mode.currentData()
        if self._variational and mode == "warmup":
            v["kl_warmup"] = parse_epochs(self.kl_warmup.text(), "the KL warm-up")[0]
        elif self._variational and mode == "cycles":
            v["kl_cycles"] = self.kl_cycles.value()
            v["kl_ratio"] = parse_ratio(self.kl_ratio.text())[0]
        v["lr_schedule"] = self.lr_schedule.currentData()
        if v["lr_schedule"] == "cosine":
            v["lr_min"] = parse_lr_min(self.lr_min.text())[0]
        v["lr_warmup"] = parse_epochs(self.lr_warmup.text(), "the learning-rate warm-up")[0]
        if not self._sweep:
            v["keep"] = self.keep.currentData()
            v["early_stop"] = self.early_stop.value()
        return v

    def sweep_value(self) -> dict:
        """The fields a sweep's members share (SweepConfig's)."""
        v = self.value()
        return {k: v[k] for k in SWEEP_KEYS}

    def field_problems(self) -> list[tuple[QWidget, str]]:
        """(field, why) for each visible text field that cannot be read."""
        out: list[tuple[QWidget, str]] = []
        mode = self.kl_mode.currentData()
        if self._variational and mode == "warmup":
            _, why = parse_epochs(self.kl_warmup.text(), "the KL warm-up")
            if why:
                out.append((self.kl_warmup, why))
        if self._variational and mode == "cycles":
            _, why = parse_ratio(self.kl_ratio.text())
            if why:
                out.append((self.kl_ratio, why))
        if self.lr_schedule.currentData() == "cosine":
            _, why = parse_lr_min(self.lr_min.text())
            if why:
                out.append((self.lr_min, why))
        _, why = parse_epochs(self.lr_warmup.text(), "the learning-rate warm-up")
        if why:
            out.append((self.lr_warmup, why))
        return out

    def problems(self, kind_label: str, target_rate: float | None, lr: float | None) -> list[str]:
        """Why these settings cannot train with the rest of the form (empty when they can):
        unreadable fields, and the combinations the engine refuses (a KL schedule with a
        target rate, a final learning rate above the learning rate)."""
        p = [why for _, why in self.field_problems()]
        if p:
            return p
        v = self.value()
        return schedule_problems(self._variational, kind_label, target_rate, v["kl_warmup"],
                                 v["kl_cycles"], v["kl_ratio"], v["lr_schedule"],
                                 lr if lr is not None else math.inf, v["lr_min"], v["lr_warmup"])

    # -- changes ---------------------------------------------------------------------------------
    def set_value(self, values: dict) -> None:
        """Show these settings (TrainConfig's field names); unusable ones fall back to the
        defaults. A section holding other settings than the defaults opens."""
        v = {**SCHEDULE_DEFAULTS, **{k: x for k, x in values.items()
                                     if k in SCHEDULE_DEFAULTS and x is not None}}

        def number(key: str, ok) -> float:
            try:
                x = float(v[key])
            except (TypeError, ValueError):
                return float(SCHEDULE_DEFAULTS[key])
            return x if math.isfinite(x) and ok(x) else float(SCHEDULE_DEFAULTS[key])

        warmup = number("kl_warmup", lambda x: 0 <= x <= MAX_EPOCHS)
        cycles = int(number("kl_cycles", lambda x: x >= 0 and x == int(x)))
        cycles = cycles if cycles <= self.kl_cycles.maximum() else 0
        mode = "cycles" if cycles else "warmup" if warmup else "constant"
        self.kl_mode.setCurrentIndex(self.kl_mode.findData(mode))
        self.kl_warmup.setText(_fmt(warmup))
        if cycles:
            self.kl_cycles.setValue(cycles)
        self.kl_ratio.setText(f"{number('kl_ratio', lambda x: 0 < x <= 1):g}")
        i = self.lr_schedule.findData(v["lr_schedule"])
        self.lr_schedule.setCurrentIndex(max(i, 0))
        self.lr_min.setText(_fmt(number("lr_min", lambda x: x >= 0)))
        self.lr_warmup.setText(_fmt(number("lr_warmup", lambda x: 0 <= x <= MAX_EPOCHS)))
        i = self.keep.findData(v["keep"])
        self.keep.setCurrentIndex(max(i, 0))
        stop = int(number("early_stop", lambda x: x >= 0 and x == int(x)))
        self.early_stop.setValue(stop if stop <= self.early_stop.maximum() else 0)
        self._update_rows()
        if self.is_set():
            self.set_expanded(True)

    def set_variational(self, variational: bool) -> None:
        """A model without a KL term (an AE) has no KL schedule: its rows are disabled."""
        self._variational = variational
        self.kl_mode.setEnabled(variational)
        self.kl_mode.setToolTip(self.kl_mode.toolTip() if variational else
                                "An AE has no KL term: β does not apply")
        self._update_rows()

    def set_sweep(self, sweep: bool) -> None:
        """A sweep trains every member to the end and keeps its last weights: no best epoch or
        early stopping."""
        self._sweep = sweep
        self._update_rows()

    def set_expanded(self, on: bool) -> None:
        if self.toggle.isChecked() != on:
            self.toggle.setChecked(on)  # comes back here through `toggled`
            return
        self.body.setVisible(on)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def is_set(self) -> bool:
        """Whether any setting differs from the course's."""
        return bool(describe(_Fields(self.value())))

    def _on_changed(self) -> None:
        self._update_rows()
        self.changed.emit()

    def _update_rows(self) -> None:
        f = self._form
        mode = self.kl_mode.currentData()
        f.setRowVisible(self.kl_warmup, self._variational and mode == "warmup")
        f.setRowVisible(self.kl_cycles, self._variational and mode == "cycles")
        f.setRowVisible(self.kl_ratio, self._variational and mode == "cycles")
        f.setRowVisible(self.lr_min, self.lr_schedule.currentData() == "cosine")
        f.setRowVisible(self.keep, not self._sweep)
        f.setRowVisible(self.early_stop, not self._sweep)
        # The toggle says what is on while the section is closed.
        try:
            summary = describe(_Fields(self.value()))
        except (TypeError, ValueError):
            summary = ""
        self.toggle.setText("Schedule" + (" (on)" if summary else ""))
        self.toggle.setToolTip(f"Schedules: {summary}" if summary else
                               "KL warm-up or cycles, learning-rate schedule, best epoch and "
                               "early stopping (all off: the course's constant β and rate)")


class _Fields:
    """A dict's entries as attributes (what schedules.describe reads); unreadable ones as 0."""

    def __init__(self, values: dict) -> None:
        for k, v in values.items():
            setattr(self, k, v if v is not None else SCHEDULE_DEFAULTS[k])
        self.epochs = 1


__all__ = ["SCHEDULE_DEFAULTS", "ScheduleControl", "parse_epochs", "parse_lr_min", "parse_ratio"]
