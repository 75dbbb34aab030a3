"""Decodings of z ~ N(0, T²·I) in a k×k grid, for one run or two side by side."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.panels._common import (
    ExplorerPanel,
    ImageView,
    LatestValue,
    RunPicker,
    labeled_slider,
    row,
    run_caption,
    side_by_side,
)
from training import explore
from training.run import Run

AE_NOTE = ("A plain AE was never asked to fit N(0, I): its codes sit wherever the decoder "
           "liked them, so most prior samples are not digits.")


class PriorPanel(ExplorerPanel):
    """A k×k grid of prior samples with seed, resample and a live temperature slider."""

    title = "Prior samples"
    needs_data = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grids: list[np.ndarray] = []
        self.k = QSpinBox()
        self.k.setRange(1, 16)
        self.k.setValue(4)
        self.k.setToolTip("Grid size k: k×k samples")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed draws the same z: for reproducible grids and fair comparisons")
        self.resample = QPushButton("Resample")
        self.temperature = labeled_slider(10, 200, 100)
        self.temperature.setToolTip("Temperature: the σ of the prior samples (0.1–2.0)")
        self.temperature.setMinimumWidth(160)
        self.temperature_label = QLabel("T = 1.00")
        self.label = QComboBox()
        self.label.addItem("labels 0–9 in turn", None)
        for c in range(10):
            self.label.addItem(f"digit {c}", c)
        self.label.setToolTip("The class a CVAE decodes with")
        self.compare = RunPicker()
        self.compare.setToolTip("Show a second run's grid from the same z, e.g. AE against VAE")

        self.views = [ImageView(min_height=200), ImageView(min_height=200)]
        self.captions = [QLabel(), QLabel()]
        grid = QGridLayout()
        for j in range(2):
            self.captions[j].setWordWrap(True)
            grid.addWidget(self.captions[j], 0, j)
            grid.addWidget(self.views[j], 1, j)
        grid.setRowStretch(1, 1)

        layout = QVBoxLayout(self.content)
        layout.addLayout(row("Grid", self.k, "Seed", self.seed, self.resample, "Temperature",
                             self.temperature, self.temperature_label, self.label))
        layout.addLayout(row("Compare with", self.compare, self.save_button))
        layout.addLayout(grid, 1)

        self._throttled_redraw = LatestValue(self._update_grids, self)
        self.k.valueChanged.connect(self._on_setting_changed)
        self.seed.valueChanged.connect(self._on_setting_changed)
        self.label.currentIndexChanged.connect(self._on_setting_changed)
        self.compare.currentIndexChanged.connect(self._on_setting_changed)
        self.temperature.valueChanged.connect(self._on_temperature_changed)
        self.resample.clicked.connect(self._on_resample_clicked)

    @property
    def temperature_value(self) -> float:
        return self.temperature.value() / 100.0

    # -- slots -------------------------------------------------------------------------------
    def _on_setting_changed(self, *_args) -> None:
        self._update_grids()

    def _on_temperature_changed(self, value: int) -> None:
        self.temperature_label.setText(f"T = {value / 100:.2f}")
        self._throttled_redraw()  # latest value wins while dragging

    def _on_resample_clicked(self) -> None:
        self.seed.setValue(int(np.random.default_rng().integers(0, 2**31 - 1)))

    # -- drawing -----------------------------------------------------------------------------
    def _update_run_list(self) -> None:
        self.compare.set_runs(self.runs)

    def _update_run(self) -> None:
        self._update_grids()

    def _clear(self) -> None:
        self.grids = []
        for v, c in zip(self.views, self.captions):
            v.clear_images()
            c.clear()

    def shown_runs(self) -> list[Run]:
        runs = [self.run] if self.run is not None else []
        other = self.compare.current_run()
        if runs and other is not None and other is not self.run and other.model is not None:
            runs.append(other)
        return runs

    def _update_grids(self) -> None:
        if self.run is None or self.is_showing_hint:
            return
        runs = self.shown_runs()
        k, seed, t = self.k.value(), self.seed.value(), self.temperature_value
        self.label.setVisible(any(r.kind == "cvae" for r in runs))
        self.grids = []
        for j, (view, caption) in enumerate(zip(self.views, self.captions)):
            visible = j < len(runs)
            view.setVisible(visible)
            caption.setVisible(visible)
            if not visible:
                continue
            r = runs[j]
            images = explore.prior_grid(r.model, k, t, seed, self.label.currentData())
            self.grids.append(view.set_images(images, ncols=k))
            text = run_caption(r) + f": {k}×{k} decodings of z ~ N(0, {t:.2f}²·I), seed {seed}."
            if r.kind == "ae":
                text += " " + AE_NOTE
            caption.setText(text)

    def export_grid(self) -> np.ndarray | None:
        return side_by_side(self.grids) if self.grids else None
