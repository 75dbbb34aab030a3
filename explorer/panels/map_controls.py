"""The Latent map tab's toolbar: the map method, its parameters, Apply, Lasso and Thumbnails,
and while a map is fitted a busy row (what the fit is doing, for how long, Cancel).

The parameter controls are built from the map-method registry (training/explore/
latent_methods.py `MapMethod.params`, `ParamSpec`s): one spin box per parameter name, enabled
while the chosen method reads it; the seed is enabled for methods that are not deterministic.
A method registered with a new parameter gets its control here without a line of Qt.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latent_explorer.explorer.widgets.flow_layout import flow, group
from latent_explorer.training.explore import latent_methods as lm

MAX_SPRITES = 200  # thumbnails drawn per point only when at most this many points are in view


def spin_box(spec: lm.ParamSpec) -> QSpinBox | QDoubleSpinBox:
    """A spin box for one parameter: its type, range, step, default and tooltip."""
    box: QSpinBox | QDoubleSpinBox
    if spec.kind is int:
        box = QSpinBox()
        box.setRange(int(spec.low), int(spec.high))
        box.setValue(int(spec.default))
    else:
        box = QDoubleSpinBox()
        box.setDecimals(spec.decimals)
        box.setRange(float(spec.low), float(spec.high))
        box.setSingleStep(spec.step)
        box.setValue(float(spec.default))
    box.setToolTip(spec.tooltip)
    box.setAccessibleName(spec.label)
    return box


class MapControls(QWidget):
    """Method picker, parameter boxes from the registry, Apply, Lasso, Thumbnails, busy row."""

    method_changed = Signal(str)
    apply_clicked = Signal()
    cancel_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method_box = QComboBox()
        self.method_box.setAccessibleName("Map method")
        self.param_boxes: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self.param_labels: dict[str, QLabel] = {}
        groups: list[QWidget] = []
        for name in lm.map_method_names():
            m = lm.get_map_method(name)
            self.method_box.addItem(m.label, name)
            self.method_box.setItemData(self.method_box.count() - 1, f"{m.label}: {m.keeps}",
                                        Qt.ItemDataRole.ToolTipRole)
            for spec in m.params:  # a name two methods share is one control
                if spec.name not in self.param_boxes:
                    self.param_boxes[spec.name] = spin_box(spec)
                    self.param_labels[spec.name] = QLabel(spec.label)
                    groups.append(group(self.param_labels[spec.name], self.param_boxes[spec.name]))
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.seed_box.setToolTip("Random seed of the methods that draw one (UMAP, t-SNE)")
        self.seed_box.setAccessibleName("seed")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Compute the map with these parameters")
        self.lasso_button = QPushButton("Lasso")
        self.lasso_button.setCheckable(True)
        self.lasso_button.setToolTip("Drag around points on the map to select them")
        self.thumbs_check = QCheckBox("Thumbnails")
        self.thumbs_check.setToolTip(f"Draw each point's image when zoomed in (at most "
                                     f"{MAX_SPRITES} points in view)")
        # While a map is fitted: a busy bar, what the fit is doing in words, the seconds so far
        # and Cancel, on a row of their own (the methods row leaves a bar too little room for
        # "UMAP: compiling numba code …"). The bar only shows that work goes on (indeterminate
        # until the method can say how far it is); the words are the label's.
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(self.fontMetrics().horizontalAdvance("M") * 8)
        self.progress.setAccessibleName("Map fit under way")
        self.fit_status = QLabel()
        self.fit_status.setWordWrap(True)
        self.fit_status.setAccessibleName("What the map fit is doing")
        self.cancel_button = QPushButton("Cancel")
        self.busy_row = QWidget()
        busy = QHBoxLayout(self.busy_row)
        busy.setContentsMargins(0, 0, 0, 0)
        busy.addWidget(self.progress)
        busy.addWidget(self.fit_status, 1)
        busy.addWidget(self.cancel_button)
        self.busy_row.setVisible(False)
        self.method_status = QLabel()
        self.method_status.setWordWrap(True)
        self._fit_what = ""
        self._fit_started = 0.0
        self._busy_timer = QTimer(self)  # the seconds so far, once a second while fitting
        self._busy_timer.setObjectName("map fit elapsed")
        self._busy_timer.setInterval(1000)
        self._busy_timer.timeout.connect(self._show_fit_status)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # One line where the tab is wide enough, more where it is not.
        layout.addLayout(flow(group("Map:", self.method_box), *groups, group("seed", self.seed_box),
                              self.apply_button, self.lasso_button, self.thumbs_check))
        layout.addWidget(self.busy_row)
        layout.addWidget(self.method_status)
        self.method_box.currentIndexChanged.connect(self._on_method_index_changed)
        self.apply_button.clicked.connect(self.apply_clicked)
        self.cancel_button.clicked.connect(self.cancel_clicked)
        self._update_boxes()

    # -- the chosen method and its parameters ------------------------------------------------------
    @property
    def method(self) -> str:
        """The method chosen in the picker (a registry name: 'pca', 'umap', 'tsne', …)."""
        return self.method_box.currentData()

    def params(self) -> lm.MapParams:
        """Every control's value (each method reads its own) and the seed."""
        values = {name: (round(box.value(), 4) if isinstance(box, QDoubleSpinBox) else box.value())
                  for name, box in self.param_boxes.items()}
        return lm.MapParams(seed=self.seed_box.value(), **values)

    def param_box(self, name: str) -> QAbstractSpinBox:
        """The control of parameter `name` (KeyError for one no method has)."""
        return self.param_boxes[name]

    def set_method_quietly(self, method: str) -> None:
        """Show `method` as chosen without asking for its map (a fit was cancelled)."""
        self.method_box.blockSignals(True)
        self.method_box.setCurrentIndex(self.method_box.findData(method))
        self.method_box.blockSignals(False)
        self._update_boxes()

    def _update_boxes(self) -> None:
        m = lm.get_map_method(self.method)
        used = set(m.param_names)
        for name, box in self.param_boxes.items():
            box.setEnabled(name in used)
            self.param_labels[name].setEnabled(name in used)
        self.seed_box.setEnabled(not m.deterministic)
        self.apply_button.setEnabled(m.has_settings)

    def _on_method_index_changed(self, _index: int) -> None:
        self._update_boxes()
        self.method_changed.emit(self.method)

    # -- the busy row ------------------------------------------------------------------------------
    def show_busy(self, on: bool) -> None:
        self.busy_row.setVisible(on)
        if on:
            self.progress.setRange(0, 0)  # busy, how far unknown yet
            self._fit_what = "starting…"
            self._fit_started = time.monotonic()
            self._show_fit_status()
            self._busy_timer.start()
        else:
            self._busy_timer.stop()

    def show_progress(self, fraction: float, text: str) -> None:
        if fraction > 0:  # the method says how far it is (UMAP's layout epochs, t-SNE's steps)
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        else:  # compiling, finding neighbours: busy, no measure of how far
            self.progress.setRange(0, 0)
        self._fit_what = text
        self._show_fit_status()

    def _show_fit_status(self) -> None:
        self.fit_status.setText(lm.busy_text(self._fit_what, time.monotonic() - self._fit_started))

    def stop(self) -> None:
        self._busy_timer.stop()


__all__ = ["MAX_SPRITES", "MapControls", "spin_box"]
