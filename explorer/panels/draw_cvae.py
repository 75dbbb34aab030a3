"""The Draw tab's CVAE row: the class the model reads the input as, the input's style decoded
with every class label, and p(label | input) as bars with the likeliest few named under them.

It draws only: the restyles and the scores are training/explore/drawing.py's (`analyse`,
`label_probabilities`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from latent_explorer.explorer.panels.draw_code import bar_plot
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.training.explore import drawing

PLACEHOLDER = "your input as every class"
EMPTY_CAPTION = "Its style decoded with every class label appears here."
TOP_PROBABILITIES = 3  # classes named under the probability bars (the tooltip has every one)


class CvaeBox(QWidget):
    """The guess, the row of restyles with its caption, and the label probabilities."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._score_ticks: tuple[str, ...] | None = None  # the class names the score axis shows
        self.guess_label = QLabel()
        self.restyle_view = ImageView(min_height=48)
        self.restyle_view.set_placeholder(PLACEHOLDER)
        self.restyle_caption = QLabel()
        self.restyle_caption.setWordWrap(True)
        self.score_plot = bar_plot(56)
        self.score_plot.setYRange(0, 1)
        self.score_plot.enableAutoRange(y=False)
        self.score_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=pg.mkBrush("#4c9be8"))
        self.score_plot.addItem(self.score_bars)
        self.scores_label = QLabel()
        self.scores_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.guess_label, self.restyle_view, self.restyle_caption, self.score_plot,
                  self.scores_label):
            layout.addWidget(w)

    def clear(self) -> None:
        self.restyle_view.clear_images()
        self.guess_label.clear()
        self.scores_label.clear()
        self.restyle_caption.setText(EMPTY_CAPTION)
        self.score_bars.setOpts(x=[], height=[])

    def show_analysis(self, a: drawing.DrawingAnalysis, names: tuple[str, ...], input_word: str) -> None:
        """What a CVAE makes of the input (`input_word`: "drawing" or "image")."""
        probs = drawing.label_probabilities(a.scores)
        self.guess_label.setText(f"The model thinks it is: <b>{names[a.guess]}</b> "
                                 f"(p = {probs[a.guess]:.2f})")
        self.restyle_view.set_images(a.restyled, ncols=len(a.restyled))
        self.restyle_caption.setText(f"Your {input_word}'s style as every class: its code "
                                     f"(read as {names[a.label]}) decoded with each label.")
        pos = np.arange(len(probs), dtype=float)
        self.score_bars.setOpts(x=pos, height=probs, width=0.7)
        if self._score_ticks != names:
            self._score_ticks = names
            self.score_plot.getAxis("bottom").setTicks(
                [[(float(p), names[i]) for i, p in enumerate(pos)]])
            self.score_plot.setXRange(-0.6, len(pos) - 0.4, padding=0)
            self.score_plot.enableAutoRange(x=False)
        # The bars show every class; the line names the few likeliest (every class's figure
        # made a wall of text under the chart) and its tooltip lists them all.
        order = np.argsort(-probs, kind="stable")
        top = [i for i in order[:TOP_PROBABILITIES] if probs[i] >= 0.005]
        self.scores_label.setText(
            "Likeliest: " + " · ".join(f"{names[i]}\u00a0{probs[i]:.2f}" for i in top))
        self.scores_label.setToolTip(
            f"p(label | {input_word}), from each label's log p(x|μ,y) − KL:\n"
            + "\n".join(f"{names[i]}: {p:.3f}" for i, p in enumerate(probs)))


__all__ = ["CvaeBox"]
