"""The training form's optimisation rows: nz, epochs, batch size, learning rate, seed, device and
CPU threads.

A field group (like model_fields.py): its rows go into the form's one QFormLayout, with the
form's time estimate under the epochs. The devices are torch's to list, and torch loads after
the window shows: 'auto' and the CPU until then (`set_devices`).
"""

from __future__ import annotations

import math
import os

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QLineEdit, QSpinBox, QWidget

LR_MIN, LR_MAX = 1e-6, 1e4


def parse_lr(text: str) -> tuple[float | None, str | None]:
    """(learning rate, None) or (None, reason)."""
    try:
        v = float(text.strip().replace(",", "."))
    except ValueError:
        return None, f"learning rate must be a number, got {text.strip()!r}"
    if not math.isfinite(v) or not LR_MIN <= v <= LR_MAX:
        return None, f"learning rate must be between {LR_MIN:g} and {LR_MAX:g}, got {text.strip()}"
    return v, None


class RunFields(QObject):
    """nz, epochs, batch size, learning rate, seed, device and CPU threads."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.nz = QSpinBox()
        self.nz.setRange(1, 4096)
        self.nz.setToolTip("Size of the latent code z")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10_000)
        self.epochs.setToolTip("Follows the dataset (the course's ~4,500 steps, at least 20 "
                               "epochs on large sets) until you change it")
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 65_536)
        self.lr = QLineEdit()
        self.lr.setToolTip(f"Adam's learning rate, {LR_MIN:g} to {LR_MAX:g}")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Same seed, same data order and initial weights: runs are repeatable")
        self.device = QComboBox()
        self.device.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device.setMinimumContentsLength(10)  # a GPU's long name does not widen the form
        self._wanted_device = "auto"  # the value set or chosen, kept until it is listed
        self.set_devices([("cpu", "CPU")])
        self.cpu_threads = QSpinBox()
        self.cpu_threads.setRange(0, max(os.cpu_count() or 1, 1))
        self.cpu_threads.setSpecialValueText("automatic")
        self.cpu_threads.setToolTip("How many CPU threads torch trains with; automatic (0) is "
                                    "torch's default, one per core. Fewer leave cores for "
                                    "other work")
        for w, name in ((self.nz, "nz"), (self.epochs, "Epochs"), (self.batch_size, "Batch size"),
                        (self.lr, "Learning rate"), (self.seed, "Seed"),
                        (self.device, "Device"), (self.cpu_threads, "CPU threads")):
            w.setAccessibleName(name)
        self.device.activated.connect(self._on_device_activated)

    def add_rows(self, form: QFormLayout, estimate: QWidget) -> None:
        """nz, Epochs, the estimate under them, then the rest."""
        form.addRow("&nz", self.nz)
        form.addRow("&Epochs", self.epochs)
        form.addRow("", estimate)
        form.addRow("&Batch size", self.batch_size)
        form.addRow("&Learning rate", self.lr)
        form.addRow("S&eed", self.seed)
        form.addRow("Dev&ice", self.device)
        form.addRow("&CPU threads", self.cpu_threads)

    def values(self) -> dict:
        """nz, epochs, batch_size, lr (None while its text is wrong), seed, device, threads."""
        return {"nz": self.nz.value(), "epochs": self.epochs.value(),
                "batch_size": self.batch_size.value(), "lr": parse_lr(self.lr.text())[0],
                "seed": self.seed.value(), "device": self.device.currentData(),
                "threads": self.cpu_threads.value()}

    def set_values(self, v: dict, defaults: dict) -> None:
        """Fill the rows (not the epochs: the form decides whether they follow the data)."""
        for spin, key in ((self.nz, "nz"), (self.batch_size, "batch_size"), (self.seed, "seed"),
                          (self.cpu_threads, "threads")):
            try:
                n = int(v[key])
            except (TypeError, ValueError):
                n = defaults[key]
            spin.setValue(n if spin.minimum() <= n <= spin.maximum() else defaults[key])
        self._wanted_device = str(v["device"])
        self._select_device()
        lr, _ = parse_lr(str(v["lr"]))
        self.lr.setText(f"{lr if lr is not None else defaults['lr']:g}")

    def set_epochs(self, n: int) -> None:
        """Set the epochs without it counting as the user's choice."""
        self.epochs.blockSignals(True)
        self.epochs.setValue(n)
        self.epochs.blockSignals(False)

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """The devices to offer besides 'auto', as (name, label) pairs: ('cpu', 'CPU'),
        ('cuda', 'CUDA (its name)'), … (training.engine.device.device_choices). The value set
        or chosen before stays chosen if listed, else 'auto'."""
        self.device.blockSignals(True)
        self.device.clear()
        self.device.addItem("auto", "auto")
        best = next((label for name, label in devices if name != "cpu"), "the CPU")
        self.device.setItemData(0, f"The best there is here ({best}): CUDA, else Apple MPS, "
                                "else the CPU", Qt.ItemDataRole.ToolTipRole)
        for name, label in devices:
            self.device.addItem(label, name)
        self.device.blockSignals(False)
        self._select_device()

    def _select_device(self) -> None:
        i = self.device.findData(self._wanted_device)
        self.device.setCurrentIndex(i if i >= 0 else 0)
        self.device.setToolTip("Where to train: 'auto' picks CUDA, else Apple MPS, else the CPU"
                               if i < 0 or self._wanted_device == "auto" else
                               f"Train on {self.device.currentText()}")

    def _on_device_activated(self, index: int) -> None:
        self._wanted_device = self.device.itemData(index)
        self._select_device()


__all__ = ["LR_MAX", "LR_MIN", "RunFields", "parse_lr"]
