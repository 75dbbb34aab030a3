"""Decodings of prior samples (z ~ N(0, T²·I), or a VampPrior's) in a k×k grid, for one run
or two side by side."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QVBoxLayout, QWidget

from latent_explorer.explorer.panels.base import (
    PNG_SCALE,
    Panel,
    image_shape_of,
    run_caption,
    samples_filter,
    shape_words,
)
from latent_explorer.explorer.widgets.compare_box import CompareBox
from latent_explorer.explorer.widgets.flow_layout import flow
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.explorer.widgets.sampling_controls import SamplingControls
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.export import SAMPLE_SUFFIXES, write_samples
from latent_explorer.training.explore.render import side_by_side
from latent_explorer.training.record.run import Run

AE_NOTE = ("A plain AE was never asked to fit N(0, I): its codes sit wherever the decoder "
           "liked them, so most prior samples look like none of its training images.")


class PriorPanel(Panel):
    """A k×k grid of prior samples with seed, resample and a live temperature slider."""

    title = "Prior samples"
    needs_data = False
    data_suffixes = SAMPLE_SUFFIXES

    @property
    def data_filter(self) -> str:  # type: ignore[override]
        """The export dialog's filter, with the selected run's image shape (N×3×64×64…)."""
        return samples_filter(image_shape_of(self.run) if self.run is not None else None)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grids: list[np.ndarray] = []
        self.samples: list[np.ndarray] = []  # each shown grid's (k·k, H, W[, 3]) images
        self.sampling = SamplingControls(k=4)
        s = self.sampling
        self.k, self.seed, self.resample = s.k, s.seed, s.resample
        self.temperature, self.temperature_label = s.temperature, s.temperature_label
        self.label = QComboBox()
        self.label.setToolTip("The class a CVAE decodes with")
        self._set_class_names(tuple(str(c) for c in range(10)))
        self.compare = CompareBox("Show a second run's grid from the same z, e.g. AE against VAE")

        self.views = [ImageView(min_height=200), ImageView(min_height=200)]
        self.captions = [QLabel(), QLabel()]
        grid = QGridLayout()
        for j in range(2):
            self.captions[j].setWordWrap(True)
            grid.addWidget(self.captions[j], 0, j)
            grid.addWidget(self.views[j], 1, j)
        grid.setRowStretch(1, 1)

        layout = QVBoxLayout(self.content)
        # One line where the tab is wide enough, more where it is not.
        self.export_button = self.make_export_button(
            "Export samples…", "Write the selected run's samples as a float32 .npy array "
            "(N×C×H×W, in [0, 1]) or as a PNG grid")
        layout.addLayout(flow(self.sampling, self.label, self.compare, self.save_button,
                              self.export_button))
        layout.addLayout(grid, 1)

        self.sampling.changed.connect(self._update_grids)
        self.label.currentIndexChanged.connect(lambda _i: self._update_grids())
        self.compare.changed.connect(self._update_grids)

    @property
    def temperature_value(self) -> float:
        return self.sampling.temperature_value

    def _set_class_names(self, names: tuple[str, ...]) -> None:
        keep = self.label.currentData()
        self.label.blockSignals(True)
        self.label.clear()
        self.label.addItem(f"classes {names[0]}–{names[-1]} in turn", None)
        for c, name in enumerate(names):
            self.label.addItem(f"class {name}", c)
        self.label.setCurrentIndex(max(0, self.label.findData(keep)) if keep is not None else 0)
        self.label.blockSignals(False)

    # -- drawing -----------------------------------------------------------------------------
    def _update_run_list(self) -> None:
        self.compare.set_runs(self.runs)

    def _update_run(self) -> None:
        self._set_class_names(self.run.class_names)
        shape = image_shape_of(self.run)
        self.export_button.setToolTip(
            f"Write the samples as a float32 .npy array (N×{'×'.join(map(str, shape))}: "
            f"{shape_words(shape)} images in [0, 1]) or as a PNG grid")
        self._update_grids()

    def _clear(self) -> None:
        self.grids = []
        self.samples = []
        for v, c in zip(self.views, self.captions):
            v.clear_images()
            c.clear()

    def shown_runs(self) -> list[Run]:
        runs = [self.run] if self.run is not None else []
        other = self.compare.other_than(self.run)
        if runs and other is not None:
            runs.append(other)
        return runs

    def _update_grids(self) -> None:
        if self.run is None or self.is_showing_hint:
            return
        runs = self.shown_runs()
        k, seed, t = self.k.value(), self.seed.value(), self.temperature_value
        self.label.setVisible(any(r.is_conditional for r in runs))
        self.grids = []
        self.samples = []
        for j, (view, caption) in enumerate(zip(self.views, self.captions)):
            visible = j < len(runs)
            view.setVisible(visible)
            caption.setVisible(visible)
            if not visible:
                continue
            r = runs[j]
            images = explore.prior_grid(r.model, k, t, seed, self.label.currentData())
            self.samples.append(images)
            self.grids.append(view.set_images(images, ncols=k))
            text = (run_caption(r) + f": {k}×{k} decodings of "
                    f"{explore.prior_description(r.model, t)}, seed {seed}.")
            if not r.is_variational:
                text += " " + AE_NOTE
            caption.setText(text)

    def export_grid(self) -> np.ndarray | None:
        return side_by_side(self.grids) if self.grids else None

    def can_export_data(self) -> bool:
        return bool(self.samples)

    def export_data(self, path) -> str:
        """The selected run's samples (the left grid), as the CLI's `sample` writes them."""
        images = self.samples[0]
        write_samples(path, images, ncols=self.k.value(), scale=PNG_SCALE)
        return f"{len(images)} prior samples of {self.run.name}"
