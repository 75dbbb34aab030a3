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
    QVBoxLayout,
    QWidget,
)

from latent_explorer.explorer.panels.base import (
    PNG_SCALE,
    Panel,
    image_shape_of,
    run_caption,
    samples_filter,
    shape_words,
)
from latent_explorer.explorer.widgets.flow_layout import flow
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.explorer.widgets.sampling_controls import SamplingControls
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.export import SAMPLE_SUFFIXES, write_samples
from latent_explorer.training.record.run import Run


class ConditionalPanel(Panel):
    """Samples of a chosen digit (0–9 buttons or keys), or 10 rows × k columns of shared z."""

    title = "Conditional"
    needs_data = False
    data_suffixes = SAMPLE_SUFFIXES

    @property
    def data_filter(self) -> str:  # type: ignore[override]
        """The export dialog's filter, with the selected run's image shape (N×3×64×64…)."""
        return samples_filter(image_shape_of(self.run) if self.run is not None else None)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid: np.ndarray | None = None
        self.samples: np.ndarray | None = None  # the shown (N, H, W[, 3]) images, row-major
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # digit keys

        self.one_digit = QRadioButton("One digit")
        self.all_classes = QRadioButton("All classes (each column shares one z)")
        self.one_digit.setChecked(True)
        self.digits = QButtonGroup(self)
        self.digit_row = QHBoxLayout()
        self._class_names: tuple[str, ...] = ()
        self._set_class_names(tuple(str(c) for c in range(10)))
        self.sampling = SamplingControls(
            k=6, k_tooltip="k: a k×k grid of one class, or k columns of all classes")
        s = self.sampling
        self.k, self.seed, self.resample = s.k, s.seed, s.resample
        self.temperature, self.temperature_label = s.temperature, s.temperature_label
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.view = ImageView(min_height=240)

        layout = QVBoxLayout(self.content)
        # One line where the tab is wide enough, two where it is not.
        self.export_button = self.make_export_button(
            "Export samples…", "Write the shown samples as a float32 .npy array (N×C×H×W, in "
            "[0, 1], row-major as shown) or as a PNG grid")
        layout.addLayout(flow(self.one_digit, self.all_classes, self.sampling, self.save_button,
                              self.export_button))
        layout.addLayout(self.digit_row)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)

        self.one_digit.toggled.connect(lambda _on: self._update_grid())
        self.digits.idClicked.connect(self.select_digit)
        self.sampling.changed.connect(self._update_grid)

    def _set_class_names(self, names: tuple[str, ...]) -> None:
        """One toggle button per class (digits 0-9, or a dataset's own class names)."""
        if names == self._class_names:
            return
        keep = max(0, self.digits.checkedId())
        for b in self.digits.buttons():
            self.digits.removeButton(b)
            b.hide()  # gone at once, not when the event loop next deletes it
            b.deleteLater()
        while self.digit_row.count():
            self.digit_row.takeAt(0)
        for c, name in enumerate(names):
            b = QPushButton(name)
            b.setCheckable(True)
            b.setMinimumWidth(34)
            key = f" (or press the key {c})" if c < 10 else ""
            b.setToolTip(f"Samples of {name}{key}")
            self.digits.addButton(b, c)
            self.digit_row.addWidget(b)
        self.digit_row.addStretch(1)
        self.digits.button(keep if keep < len(names) else 0).setChecked(True)
        self._class_names = names

    @property
    def digit(self) -> int:
        return self.digits.checkedId()

    def unusable_reason(self, run: Run | None) -> str | None:
        reason = super().unusable_reason(run)
        if reason is None and not run.is_conditional:
            label = run.model_kind.label
            article = "an" if label[:1] in "AEIOU" else "a"
            return (f"Class-conditioned generation needs a CVAE: <b>{run.name}</b> is {article} "
                    f"{label}, whose decoder takes no class label.<br>"
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
        if (len(text) == 1 and text.isdigit() and int(text) < len(self._class_names)
                and not self.is_showing_hint):
            self.select_digit(int(text))
            event.accept()
            return
        super().keyPressEvent(event)

    # -- drawing -----------------------------------------------------------------------------
    def _update_run(self) -> None:
        self._set_class_names(self.run.class_names)
        shape = image_shape_of(self.run)
        self.export_button.setToolTip(
            f"Write the samples as a float32 .npy array (N×{'×'.join(map(str, shape))}: "
            f"{shape_words(shape)} images in [0, 1]) or as a PNG grid")
        self._update_grid()

    def _clear(self) -> None:
        self.grid = None
        self.samples = None
        self.view.clear_images()
        self.caption.clear()

    def _update_grid(self) -> None:
        if self.run is None or self.is_showing_hint:
            return
        model = self.run.model
        k, seed, t = self.k.value(), self.seed.value(), self.sampling.temperature_value
        names = self.run.class_names
        if self.one_digit.isChecked():
            images = explore.digit_grid(model, self.digit, k, t, seed)
            self.samples = images
            self.grid = self.view.set_images(images, ncols=k)
            self.view.set_labels([])
            what = f"{k}×{k} samples of class {names[self.digit]}"
        else:
            images = explore.class_grid(model, k, t, seed)
            self.samples = images
            self.grid = self.view.set_images(images, ncols=k)
            self.view.set_labels([])
            what = (f"one row per class ({names[0]} at the top … {names[-1]} at the bottom) × {k} "
                    "columns; each column decodes the same z, so its style stays while the class changes")
        self.caption.setText(f"{run_caption(self.run)}: {what}. z ~ N(0, {t:.2f}²·I), seed {seed}.")

    def export_grid(self) -> np.ndarray | None:
        return self.grid

    def can_export_data(self) -> bool:
        return self.samples is not None

    def export_data(self, path) -> str:
        """The shown samples, as the CLI's `sample` writes them (a PNG: the grid as shown)."""
        images = self.samples
        write_samples(path, images, ncols=self.k.value(), scale=PNG_SCALE)
        return f"{len(images)} conditional samples of {self.run.name}"
