"""Class-conditioned generation with a CVAE: one digit's samples, or all classes sharing z."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.panels._common import (
    ExplorerPanel,
    ImageView,
    LatestValue,
    labeled_slider,
    row,
    run_caption,
)
from training import explore
from training.run import Run


class ConditionalPanel(ExplorerPanel):
    """Samples of a chosen digit (0–9 buttons or keys), or 10 rows × k columns of shared z."""

    title = "Conditional"
    needs_data = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid: np.ndarray | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # digit keys

        self.one_digit = QRadioButton("One digit")
        self.all_classes = QRadioButton("All classes (each column shares one z)")
        self.one_digit.setChecked(True)
        self.digits = QButtonGroup(self)
        digit_row = QHBoxLayout()
        for c in range(10):
            b = QPushButton(str(c))
            b.setCheckable(True)
            b.setFixedWidth(34)
            b.setToolTip(f"Samples of {c} (or press the key {c})")
            self.digits.addButton(b, c)
            digit_row.addWidget(b)
        digit_row.addStretch(1)
        self.digits.button(0).setChecked(True)
        self.k = QSpinBox()
        self.k.setRange(1, 16)
        self.k.setValue(6)
        self.k.setToolTip("k: a k×k grid of one digit, or k columns of all classes")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.resample = QPushButton("Resample")
        self.temperature = labeled_slider(10, 200, 100)
        self.temperature.setMinimumWidth(160)
        self.temperature_label = QLabel("T = 1.00")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.view = ImageView(min_height=240)

        layout = QVBoxLayout(self.content)
        layout.addLayout(row(self.one_digit, self.all_classes, "k", self.k, "Seed", self.seed,
                             self.resample, "Temperature", self.temperature,
                             self.temperature_label, self.save_button))
        layout.addLayout(digit_row)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)

        self._throttled_redraw = LatestValue(self._update_grid, self)
        self.one_digit.toggled.connect(self._on_setting_changed)
        self.digits.idClicked.connect(self._on_digit_clicked)
        self.k.valueChanged.connect(self._on_setting_changed)
        self.seed.valueChanged.connect(self._on_setting_changed)
        self.temperature.valueChanged.connect(self._on_temperature_changed)
        self.resample.clicked.connect(self._on_resample_clicked)

    @property
    def digit(self) -> int:
        return self.digits.checkedId()

    def unusable_reason(self, run: Run | None) -> str | None:
        reason = super().unusable_reason(run)
        if reason is None and run.kind != "cvae":
            article = "an" if run.kind == "ae" else "a"
            return (f"Class-conditioned generation needs a CVAE: <b>{run.name}</b> is {article} "
                    f"{run.kind.upper()}, whose decoder takes no class label.<br>"
                    "Train a CVAE (model: CVAE) or select one in the run list to pick digits here.")
        return reason

    def select_digit(self, digit: int) -> None:
        """Show samples of `digit` (switches to the one-digit view)."""
        self.digits.button(int(digit)).setChecked(True)
        if not self.one_digit.isChecked():
            self.one_digit.setChecked(True)  # redraws through toggled
        else:
            self._update_grid()

    # -- slots -------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        text = event.text()
        if len(text) == 1 and text.isdigit() and not self.is_showing_hint:
            self.select_digit(int(text))
            event.accept()
            return
        super().keyPressEvent(event)

    def _on_digit_clicked(self, digit: int) -> None:
        self.select_digit(digit)

    def _on_setting_changed(self, *_args) -> None:
        self._update_grid()

    def _on_temperature_changed(self, value: int) -> None:
        self.temperature_label.setText(f"T = {value / 100:.2f}")
        self._throttled_redraw()

    def _on_resample_clicked(self) -> None:
        self.seed.setValue(int(np.random.default_rng().integers(0, 2**31 - 1)))

    # -- drawing -----------------------------------------------------------------------------
    def _update_run(self) -> None:
        self._update_grid()

    def _clear(self) -> None:
        self.grid = None
        self.view.clear_images()
        self.caption.clear()

    def _update_grid(self) -> None:
        if self.run is None or self.is_showing_hint:
            return
        model = self.run.model
        k, seed, t = self.k.value(), self.seed.value(), self.temperature.value() / 100
        names = self.run.dataset.class_names if self.run.dataset is not None else tuple(map(str, range(10)))
        if self.one_digit.isChecked():
            images = explore.digit_grid(model, self.digit, k, t, seed)
            self.grid = self.view.set_images(images, ncols=k)
            self.view.set_labels([])
            what = f"{k}×{k} samples of class {names[self.digit]}"
        else:
            images = explore.class_grid(model, k, t, seed)
            self.grid = self.view.set_images(images, ncols=k)
            self.view.set_labels([])
            what = (f"one row per class ({names[0]} at the top … {names[-1]} at the bottom) × {k} "
                    "columns; each column decodes the same z, so its style stays while the class changes")
        self.caption.setText(f"{run_caption(self.run)}: {what}. z ~ N(0, {t:.2f}²·I), seed {seed}.")

    def export_grid(self) -> np.ndarray | None:
        return self.grid
