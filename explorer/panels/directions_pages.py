"""The Directions tab's three pages, as widgets only: the panel (directions.py) computes and
fills them.

- AttributePage: class A against class B (or the rest), or the Latent map's lasso A and B; a
  strength slider, the strip of STRENGTHS decoded, and the run's saved vectors.
- AnalogyPage: A, B (a class's mean code or one test image) and several C images.
- PrincipalPage: one slider per principal direction, labelled with its share of variance.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latent_explorer.explorer.panels.base import row
from latent_explorer.explorer.widgets.flow_layout import flow, group
from latent_explorer.explorer.widgets.image_view import ImageView

STRENGTH_STEPS = 20  # slider steps per unit of strength: −2…+2 in steps of 0.05
PC_STEPS = 10  # slider steps per standard deviation along a principal direction
PC_RANGE = 3  # principal-direction sliders run over ±3 standard deviations
C_COUNT = 8  # C images an analogy shows by default
MIN_PC_ROWS = 4  # the slider list is never squeezed below this many rows


def _caption() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


def fill_combo(combo: QComboBox, items: list[tuple[str, object]]) -> None:
    """Replace a combo's items (text, data), keeping the chosen one where it still exists and
    without emitting signals."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    i = combo.findData(current)
    combo.setCurrentIndex(i if i >= 0 else 0)
    combo.blockSignals(False)


class AttributePage(QWidget):
    """An attribute vector: where it comes from, its strength, its strip, saving it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.class_a = QComboBox()
        self.class_a.setToolTip("Set A: the test images of this class")
        self.class_b = QComboBox()
        self.class_b.setToolTip("Set B: the test images of this class, or all the others")
        self.balanced = QCheckBox("balanced")
        self.balanced.setChecked(True)
        self.balanced.setToolTip("Subsample the larger class to the smaller one's size (seed 0), "
                                 "as White (2016) does, so the vector is not the mix of classes")
        self.lasso_button = QPushButton("Lasso A − B")
        self.lasso_button.setToolTip("The mean code of the Latent map's lasso selection A minus "
                                     "that of B (send them with 'Send A/B to Directions' there)")
        self.lasso_button.setEnabled(False)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(-2 * STRENGTH_STEPS, 2 * STRENGTH_STEPS)
        self.strength.setValue(STRENGTH_STEPS)
        self.strength.setMinimumWidth(140)
        self.strength.setToolTip("z + strength · vector, decoded live (right of the image)")
        self.strength_label = QLabel()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("name")
        self.name_edit.setMaximumWidth(160)
        self.save_vector_button = QPushButton("Save vector")
        self.save_vector_button.setToolTip("Keep this vector with the run under its name")
        self.saved_box = QComboBox()
        self.saved_box.setMinimumContentsLength(12)
        self.saved_box.setToolTip("The vectors saved with this run")
        self.use_button = QPushButton("Use")
        self.use_button.setToolTip("Apply the saved vector chosen here")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Remove the saved vector chosen here from the run")
        self.caption = _caption()
        self.status = _caption()
        self.edit_view = ImageView(min_height=70)
        self.edit_view.setToolTip("The image, its reconstruction, and z + strength · vector")
        self.strip_view = ImageView(min_height=70)
        self.strip_view.setToolTip("z + s · vector for s = −2, −1.5, …, +2")
        for view in (self.edit_view, self.strip_view):
            view.set_height_range(60, 120)  # one row of images: no tall black box around it
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(flow(group("A: class", self.class_a), group("B:", self.class_b),
                              self.balanced, self.lasso_button,
                              group("Strength", self.strength, self.strength_label)))
        layout.addLayout(flow(group("Save as", self.name_edit, self.save_vector_button),
                              group("Saved", self.saved_box, self.use_button, self.delete_button)))
        layout.addWidget(self.caption)
        views = row(stretch=False)
        views.addWidget(self.edit_view, 3)
        views.addWidget(self.strip_view, 9)
        layout.addLayout(views)
        layout.addWidget(self.status)
        layout.addStretch(1)


class AnalogyPage(QWidget):
    """A : B :: C : C + (B − A), for several C images."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.a_box, self.b_box, self.c_box = QComboBox(), QComboBox(), QComboBox()
        self.a_box.setToolTip("A: the mean code of a class's test images, or one test image")
        self.b_box.setToolTip("B: the mean code of a class's test images, or one test image")
        self.c_box.setToolTip("C: test images of a class, or test images from an index on")
        self.a_index, self.b_index, self.c_index = QSpinBox(), QSpinBox(), QSpinBox()
        for spin, what in ((self.a_index, "A"), (self.b_index, "B"), (self.c_index, "C")):
            spin.setToolTip(f"The test image's index ({what})")
        self.c_count = QSpinBox()
        self.c_count.setRange(1, 16)
        self.c_count.setValue(C_COUNT)
        self.c_count.setToolTip("How many C images")
        self.caption = _caption()
        self.ab_view = ImageView(min_height=60)
        self.ab_view.setToolTip("A and B decoded")
        self.grid_view = ImageView(min_height=90)
        self.grid_view.setToolTip("Top: the C images; below: C + (B − A) decoded")
        self.ab_view.set_height_range(60, 120)
        self.grid_view.set_height_range(90, 220)  # two rows of images
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(flow(group("A:", self.a_box, self.a_index),
                              group("is to B:", self.b_box, self.b_index),
                              group("as C:", self.c_box, self.c_index),
                              group("×", self.c_count)))
        layout.addWidget(self.caption)
        views = row(stretch=False)
        views.addWidget(self.ab_view, 2)
        views.addWidget(self.grid_view, 8)
        layout.addLayout(views)
        layout.addStretch(1)


class PrincipalPage(QWidget):
    """One slider per principal direction of the test codes, moving the image's code."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sliders: list[QSlider] = []
        self.labels: list[QLabel] = []
        self.values: list[QLabel] = []
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Every slider back to 0: the image's own code")
        self.caption = _caption()
        self.view = ImageView(min_height=90)
        self.view.setToolTip("The image, its reconstruction, and its code moved along the sliders")
        self._box = QWidget()
        self._grid = QGridLayout(self._box)
        self._grid.setContentsMargins(2, 2, 2, 2)
        self._grid.setRowStretch(64, 1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self._box)
        self.scroll.setMinimumHeight(int(MIN_PC_ROWS * 1.8 * self.fontMetrics().height())
                                     + 2 * self.scroll.frameWidth())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row(self.caption, self.reset_button, stretch=False))
        body = row(stretch=False)
        body.addWidget(self.scroll, 1)
        body.addWidget(self.view, 1)
        layout.addLayout(body, 1)

    def set_labels(self, texts: list[str]) -> None:
        """One slider per text (reused across runs), all at 0; the rest hidden."""
        while len(self.sliders) < len(texts):
            k = len(self.sliders)
            s = QSlider(Qt.Orientation.Horizontal)
            s.setRange(-PC_RANGE * PC_STEPS, PC_RANGE * PC_STEPS)
            s.setMinimumWidth(120)
            s.valueChanged.connect(partial(self._on_slider_changed, k))
            label, value = QLabel(), QLabel()
            value.setMinimumWidth(self.fontMetrics().horizontalAdvance("+3.0σ") + 6)
            self._grid.addWidget(label, k, 0)
            self._grid.addWidget(s, k, 1)
            self._grid.addWidget(value, k, 2)
            self.sliders.append(s)
            self.labels.append(label)
            self.values.append(value)
        for k, s in enumerate(self.sliders):
            shown = k < len(texts)
            for w in (s, self.labels[k], self.values[k]):
                w.setVisible(shown)
            if shown:
                self.labels[k].setText(texts[k])
        self.reset()

    @property
    def shown(self) -> int:
        return sum(1 for label in self.labels if not label.isHidden())

    def sigmas(self) -> list[float]:
        """Each shown slider's position in standard deviations."""
        return [self.sliders[k].value() / PC_STEPS for k in range(self.shown)]

    def set_sigma(self, k: int, sigma: float) -> None:
        self.sliders[k].setValue(int(round(sigma * PC_STEPS)))

    def reset(self) -> None:
        for k, s in enumerate(self.sliders):
            s.blockSignals(True)
            s.setValue(0)
            s.blockSignals(False)
            self.values[k].setText("+0.0σ")
        self.edited.emit()

    def _on_slider_changed(self, k: int, value: int) -> None:
        self.values[k].setText(f"{value / PC_STEPS:+.1f}σ".replace("-", "−"))
        self.edited.emit()


__all__ = ["AnalogyPage", "AttributePage", "C_COUNT", "PC_RANGE", "PC_STEPS", "PrincipalPage",
           "STRENGTH_STEPS", "fill_combo"]
