"""The Draw tab's reconstructions: the input, then each shown run's reconstruction of it with
its error, a caption that compares the error with the run's own test images, and a warning
line when the input reconstructs far worse than them (it looks like nothing the model learnt).

It draws only: the analyses and `fits` are training/explore/drawing.py's. Not a widget of its
own: the panel lays its three widgets straight into its middle column (`add_to`), as before the
split; a box around them shared that column's height out differently.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QBoxLayout, QLabel

from latent_explorer.explorer.panels.base import error_name, image_words, same_images
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.training.explore import drawing
from latent_explorer.training.record.run import Run

PLACEHOLDER = "input and its reconstruction"
EMPTY_CAPTION = "The input and the model's reconstruction of it, with its error, appear here."


def reference_error(run: Run) -> float | None:
    """The reconstruction error per value of `run` on its test images (None: not measured)."""
    m = run.metrics or run.history.last_metrics
    return float(m.bce) if m is not None and m.bce is not None else None


class Reconstructions(QObject):
    """The input and its reconstructions, their caption, and the "doesn't fit" line."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = ImageView(min_height=70)
        self.view.set_placeholder(PLACEHOLDER)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.fit_label = QLabel()  # "doesn't fit"
        self.fit_label.setWordWrap(True)
        self.fit_label.setStyleSheet("color: #e8a33c;")

    def add_to(self, layout: QBoxLayout) -> None:
        """Lay the images, their caption and the "doesn't fit" line into `layout`."""
        for w in (self.view, self.caption, self.fit_label):
            layout.addWidget(w)

    def clear(self) -> None:
        self.view.clear_images()
        self.fit_label.clear()
        self.caption.setText(EMPTY_CAPTION)

    def show_analyses(self, display: np.ndarray,
                      analyses: list[tuple[Run, drawing.DrawingAnalysis]], run: Run,
                      other: Run | None, input_word: str) -> None:
        """The input as shown (`display`), then each run's reconstruction; `other` is the run
        compared with `run`, named as left out when it takes images of another shape."""
        images = [display] + [a.reconstruction for _, a in analyses]
        self.view.set_images(np.stack(images), ncols=len(images))
        self.view.set_cell_labels([f"{a.error:.3f}" for _, a in analyses], first_col=1)
        parts, misfits = [], []
        for r, a in analyses:
            ref = reference_error(r)
            vs = f" (its test images: {ref:.3f})" if ref is not None else ""
            parts.append(f"{r.name}: {error_name(r)} {a.error:.3f}{vs}")
            if not drawing.fits(a.error, ref):
                misfits.append(f"{r.name} ({a.error / ref:.1f}× its test error)")
        skipped = (f" Not compared with <b>{other.name}</b>: it takes {image_words(other)} "
                   f"images." if other is not None and not same_images(run, other) else "")
        self.caption.setText("Input, then its reconstruction by " + "; ".join(parts) + "."
                             + skipped)
        self.fit_label.setText(
            f"This {input_word} doesn't fit: " + ", ".join(misfits) + " reconstructs it far worse than "
            "its test images. It looks like nothing the model learnt." if misfits else "")
        self.fit_label.setVisible(bool(misfits))  # no empty line's height when it fits


__all__ = ["Reconstructions", "reference_error"]
