"""Test images above their posterior-mean reconstructions, with each image's error."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from latent_explorer.explorer.panels.base import (
    Panel,
    error_name,
    image_words,
    run_caption,
    same_images,
)
from latent_explorer.explorer.widgets.compare_box import CompareBox
from latent_explorer.explorer.widgets.flow_layout import flow, group
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.record.run import Run


class ReconstructionsPanel(Panel):
    """N test images (first N or random) and decode(posterior mean) of each, per-image BCE."""

    title = "Reconstructions"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.seed = 0
        self.indices = np.zeros(0, np.int64)
        self.results: list[tuple[Run, explore.Reconstructions]] = []
        self._grid: np.ndarray | None = None

        self.count = QSpinBox()
        self.count.setRange(1, 32)
        self.count.setValue(8)
        self.count.setToolTip("How many test images to show")
        self.random = QCheckBox("Random images")
        self.reshuffle = QPushButton("Reshuffle")
        self.reshuffle.setEnabled(False)
        self.compare = CompareBox("A second run reconstructs the same images in a third row")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.view = ImageView(min_height=160)

        layout = QVBoxLayout(self.content)
        # One line where the tab is wide enough, more where it is not.
        layout.addLayout(flow(group("Images", self.count), self.random, self.reshuffle,
                              self.compare, self.save_button))
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)

        self.count.valueChanged.connect(self._on_count_changed)
        self.random.toggled.connect(self._on_random_toggled)
        self.reshuffle.clicked.connect(self._on_reshuffle_clicked)
        self.compare.changed.connect(self._on_compare_changed)

    # -- slots -------------------------------------------------------------------------------
    def _on_count_changed(self, _value: int) -> None:
        self._update_images()

    def _on_random_toggled(self, on: bool) -> None:
        self.reshuffle.setEnabled(on)
        self._update_images()

    def _on_reshuffle_clicked(self) -> None:
        self.seed += 1
        self._update_images()

    def _on_compare_changed(self) -> None:
        if self.run is not None and not self.is_showing_hint:
            self._update_images()

    # -- drawing -----------------------------------------------------------------------------
    def _update_run_list(self) -> None:
        self.compare.set_runs(self.runs)

    def _update_run(self) -> None:
        self._update_images()

    def _clear(self) -> None:
        self.results = []
        self._grid = None
        self.view.clear_images()
        self.caption.clear()

    def _update_images(self) -> None:
        run = self.run
        if run is None or self.is_showing_hint:
            return
        test = run.dataset.test
        self.indices = explore.pick_indices(len(test), self.count.value(), self.random.isChecked(),
                                            self.seed)
        x, y = explore.split_images(test, self.indices)
        runs = [run]
        other = self.compare.other_than(run)
        skipped = None
        if other is not None and self.unusable_reason(other) is None:
            if same_images(run, other):
                runs.append(other)
            else:  # its encoder takes other images than these test images
                skipped = other
        self.results = [(r, explore.reconstruct(r.model, x, y)) for r in runs]
        n = len(self.indices)
        rows = [self.results[0][1].originals] + [res.reconstructions for _, res in self.results]
        self._grid = self.view.set_images(np.concatenate(rows), ncols=n)
        # Each reconstruction's error, at the bottom of its cell (the cells' own size).
        v = self.view
        self.view.set_labels([(v.cell_x(j), v.cell_bottom(k), f"{e:.3f}")
                              for k, (_, res) in enumerate(self.results, start=1)
                              for j, e in enumerate(res.errors)])
        parts = [f"Top row: {n} random test images." if self.random.isChecked()
                 else f"Top row: the first {n} test images."]
        for k, (r, res) in enumerate(self.results, start=2):
            parts.append(f"Row {k}: decode(posterior mean) by {run_caption(r)}, "
                         f"mean {error_name(r)} {float(res.errors.mean()):.4f}.")
        if run.is_conditional:
            parts.append(f"The {run.model_kind.label} is given each image's true label.")
        if skipped is not None:
            parts.append(f"Not compared with <b>{skipped.name}</b>: it takes "
                         f"{image_words(skipped)} images, these are {image_words(run)}.")
        self.caption.setText(" ".join(parts))

    def export_grid(self) -> np.ndarray | None:
        return self._grid
