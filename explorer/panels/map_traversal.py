"""The Latent map tab's traversal: one slider per latent dimension, most used first, editing a
code the panel decodes live.

The sliders own the code `z` they edit (a torch tensor); `edited` says it changed. Slider
positions map linearly onto each dimension's range from training/explore/panel_math.py's
`dimension_usage` (low … high over SLIDER_STEPS steps).

Once the run's latent dimensions are scored against its dataset's factors (the Factors tab's
background scorer, explorer/session/disentangle_runner.py), each slider is named by what its
dimension encodes ("z7 ≈ x, MI 1.80 nats"); before that, and for data without factors or
labels, it is plain "z7" with its usage. The run is the one `run_of()` gives: by default the
`run` of the panel these sliders sit in.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from latent_explorer.explorer.panels.base import row
from latent_explorer.explorer.session.disentangle_runner import (
    FactorScores,
    shared_factor_scores,
)
from latent_explorer.training.explore import panel_math as explore

if TYPE_CHECKING:
    from latent_explorer.training.record.run import Run

MAX_SLIDERS = 32  # the most-used dimensions get a slider; the rest keep their value
SLIDER_STEPS = 200
MIN_ROWS_SHOWN = 6  # the slider list is never squeezed below this many rows


class TraversalSliders(QWidget):
    """'Traversal' with Reset, a caption, and a scrolling list of labelled sliders."""

    edited = Signal()  # a slider moved: `z` changed

    def __init__(self, parent: QWidget | None = None,
                 run_of: Callable[[], Run | None] | None = None) -> None:
        """`run_of`: the run whose dimensions the sliders move (None: the enclosing panel's)."""
        super().__init__(parent)
        self._run_of = run_of
        self.factor_scores: FactorScores | None = None  # what the labels name, when scored
        self.usage: explore.DimensionUsage | None = None
        self.z: torch.Tensor | None = None
        self.sliders: list[QSlider] = []
        self.slider_labels: list[QLabel] = []
        self.slider_dims: list[int] = []
        self.reset_button = QPushButton("Reset sliders")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self._box = QWidget()
        self._grid = QGridLayout(self._box)
        self._grid.setContentsMargins(2, 2, 2, 2)
        self._grid.setRowStretch(MAX_SLIDERS, 1)  # a few sliders stay at the top, not spread out
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self._box)
        # Enough rows to use: squeezed by the images above, it showed only three.
        self.scroll.setMinimumHeight(int(MIN_ROWS_SHOWN * 1.8 * self.fontMetrics().height())
                                     + 2 * self.scroll.frameWidth())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row("<b>Traversal</b>", self.reset_button))
        layout.addWidget(self.caption)
        layout.addWidget(self.scroll, 1)
        self._store = shared_factor_scores()
        self._store.changed.connect(self._on_scores_changed)

    def run(self) -> Run | None:
        """The run the sliders belong to: `run_of()`, else the nearest enclosing panel's."""
        if self._run_of is not None:
            return self._run_of()
        w = self.parentWidget()
        while w is not None:
            run = getattr(w, "run", None)
            if run is not None and not callable(run):
                return run
            w = w.parentWidget()
        return None

    def _on_scores_changed(self, run_id: int) -> None:
        run = self.run()
        if self.usage is not None and run is not None and run.id == run_id:
            self._label_sliders()

    def set_usage(self, usage: explore.DimensionUsage) -> None:
        """One slider per shown dimension, most used first; sliders are reused across runs."""
        self.usage = usage
        self.slider_dims = [int(d) for d in usage.order[:MAX_SLIDERS]]
        while len(self.sliders) < len(self.slider_dims):
            k = len(self.sliders)
            s = QSlider(Qt.Orientation.Horizontal)
            s.setRange(0, SLIDER_STEPS)
            s.setMinimumWidth(120)
            s.valueChanged.connect(partial(self._on_slider_changed, k))
            label = QLabel()
            label.setMinimumWidth(150)
            self._grid.addWidget(label, k, 0)
            self._grid.addWidget(s, k, 1)
            self.sliders.append(s)
            self.slider_labels.append(label)
        for k, (s, label) in enumerate(zip(self.sliders, self.slider_labels)):
            s.setVisible(k < len(self.slider_dims))
            label.setVisible(k < len(self.slider_dims))
        self._label_sliders()

    def _label_sliders(self) -> None:
        u = self.usage
        unused_dims = explore.unused_dimensions(u)
        scores = self._store.scores(self.run())
        if scores is not None and len(scores.labels) != len(u.usage):
            scores = None  # scored for other weights of another size: not these dimensions
        self.factor_scores = scores
        for d, label, s in zip(self.slider_dims, self.slider_labels, self.sliders):
            unused = bool(unused_dims[d])
            use = f"{u.measure} {u.usage[d]:.2f}" + (" (unused)" if unused else "")
            named = scores.labels[d].text if scores is not None else ""
            label.setText(named or f"z{d}  {use}")
            label.setEnabled(not unused)
            tip = f"z{d} from {u.low[d]:.2f} to {u.high[d]:.2f}"
            if named:
                tip += f"; {use}; {scores.mig_text()}"  # type: ignore[union-attr]
            s.setToolTip(tip)
            label.setToolTip(tip)
        nz = len(u.usage)
        k = len(self.slider_dims)
        shown = f"the {k} most used of {nz}" if nz > k else f"all {nz}"
        self.caption.setText(f"Sliders for {shown} latent dimensions, most used first "
                             f"({u.why}). Right image: decode(z), live.")

    def value_to_position(self, d: int, v: float) -> int:
        lo, hi = self.usage.low[d], self.usage.high[d]
        return int(round(np.clip((v - lo) / (hi - lo), 0, 1) * SLIDER_STEPS))

    def slider_value(self, d: int, position: int) -> float:
        """The value of dimension d at slider position `position`."""
        lo, hi = self.usage.low[d], self.usage.high[d]
        return float(lo + (hi - lo) * position / SLIDER_STEPS)

    def set_code(self, z: torch.Tensor | None) -> None:
        """Edit `z` from now on (a copy); the sliders move to it without `edited`."""
        self.z = None if z is None else z.clone()
        if self.z is None:
            return
        for d, s in zip(self.slider_dims, self.sliders):
            s.blockSignals(True)  # one decode after, by the caller, not one per slider
            s.setValue(self.value_to_position(d, float(self.z[d])))
            s.blockSignals(False)

    def _on_slider_changed(self, k: int, position: int) -> None:
        if self.z is None or k >= len(self.slider_dims):
            return
        d = self.slider_dims[k]
        self.z[d] = self.slider_value(d, position)
        self.edited.emit()


__all__ = ["MAX_SLIDERS", "SLIDER_STEPS", "TraversalSliders"]
