"""The Draw tab's code: μ per latent dimension as bars in the Latent map tab's traversal order
(grey: dimensions the model does not use), σ as error bars, every k-th dimension labelled as
the plot's width allows (`label_step`), and a caption under it. Not a widget of its own: the
panel lays the plot and its caption straight into its middle column (`add_to`), as before the
split; a box around the two shared that column's height out differently.

It draws only: the analysis is training/explore/drawing.py's, the order and the unused
dimensions training/explore/panel_math.py's (`dimension_usage`, `unused_dimensions`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QBoxLayout, QLabel

from latent_explorer.training.explore import drawing
from latent_explorer.training.explore import panel_math as explore

EMPTY_CAPTION = "The code (μ per latent dimension, most used first) appears above."
USED_BRUSH, UNUSED_BRUSH = pg.mkBrush("#4c9be8"), pg.mkBrush(110, 110, 110)
TICK_GAP = 0.6  # space between two code-plot labels, as a share of the widest label


def label_step(n: int, label_px: float, axis_px: float) -> int:
    """Label every k-th of `n` evenly spaced bars so labels `label_px` wide fit `axis_px`:
    the smallest k of 1, 2, 5, 10, 20… that leaves each label its width plus a gap."""
    if n <= 0 or axis_px <= 0:
        return 1
    need = n * (label_px * (1 + TICK_GAP)) / axis_px  # a gap of TICK_GAP labels between two
    for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if k >= need:
            return k
    return max(1, int(need) + 1)


def bar_plot(height: int) -> pg.PlotWidget:
    """A dark plot of at least `height` pixels that neither pans nor zooms (the tab's plots)."""
    plot = pg.PlotWidget(background=pg.mkColor(32, 32, 32))
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMouseEnabled(x=False, y=False)
    plot.setMinimumHeight(height)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)
    return plot


class CodePlot(QObject):
    """The code's bar plot with σ bars and labelled dimensions, and its caption."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ticks: tuple | None = None  # (dimension order) the axis shows
        self._labels: list[str] = []  # the labels it draws (every k-th dimension)
        self._range: tuple[float, float] | None = None  # the plot's y range
        self.plot = bar_plot(80)  # the middle column's least height fits a laptop's tab
        # Relabel once the view box has its new width: the widget's own Resize event comes
        # before its layout, when the view box still had the old (often wider) width, and
        # labels spaced for that overlapped into one unreadable line.
        self.plot.getPlotItem().vb.sigResized.connect(self._update_ticks)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=USED_BRUSH)
        self.sigma_bars = pg.ErrorBarItem(pen=pg.mkPen("w"), beam=0.3)
        self.plot.addItem(self.bars)
        self.plot.addItem(self.sigma_bars)
        self.caption = QLabel()
        self.caption.setWordWrap(True)

    def add_to(self, layout: QBoxLayout) -> None:
        """Lay the plot (it takes the spare height) and its caption into `layout`."""
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.caption)

    def reset_range(self) -> None:
        """Another run: another scale of codes (the y range is set again at the next code)."""
        self._range = None

    def clear(self) -> None:
        self.bars.setOpts(x=[], height=[])
        self.sigma_bars.setData(x=None, y=None)  # pyqtgraph hides an ErrorBarItem without data
        self.caption.setText(EMPTY_CAPTION)

    def show_code(self, a: drawing.DrawingAnalysis, usage: explore.DimensionUsage) -> None:
        """μ (and σ) of the analysed input, most used dimension first."""
        order = np.asarray(usage.order)
        unused = explore.unused_dimensions(usage)[order]
        pos = np.arange(len(order), dtype=float)
        mu = a.mean[order].astype(float)
        self.bars.setOpts(x=pos, height=mu, width=0.7,
                          brushes=[UNUSED_BRUSH if u else USED_BRUSH for u in unused])
        if a.log_sigma is not None:
            sigma = np.exp(a.log_sigma[order].astype(float))
            self.sigma_bars.setData(x=pos, y=mu, height=2 * sigma)
        else:  # an AE has no σ
            self.sigma_bars.setData(x=None, y=None)
        # Axes and ranges change only with the run: re-laying out a plot's axes on every stroke
        # was most of the tab's repaint cost (benchmarks/draw_latency.py).
        if self._ticks != tuple(order):
            self._ticks = tuple(order)
            self._update_ticks()
            self.plot.setXRange(-0.6, len(order) - 0.4, padding=0)
            self.plot.enableAutoRange(x=False)
        if a.log_sigma is not None:
            rng = (-3.5, 3.5)  # the prior's ±3.5
        else:  # an AE's codes have no prior scale: widen the range when they go past it
            lo, hi = self._range or (0.0, 0.0)
            rng = (min(lo, float(mu.min()) - 0.5) if mu.min() < lo else lo,
                   max(hi, float(mu.max()) + 0.5) if mu.max() > hi else hi)
        if rng != self._range:
            self._range = rng
            self.plot.setYRange(*rng, padding=0)
        sig = " with ±σ as error bars" if a.log_sigma is not None else ""
        n_unused = int(unused.sum())
        grey = f"; grey: {n_unused} dimensions the model does not use (KL < {explore.UNUSED_KL:g})" \
            if n_unused else ""
        self.caption.setText(f"The code: μ per latent dimension{sig}, most used first "
                             f"(the Latent map tab's traversal order){grey}.")

    def _update_ticks(self, *_args) -> None:
        """Label every k-th bar, k as the plot's width allows (`label_step`); the others get a
        tick without text. All labels at once were unreadable past ~12 dims."""
        order = self._ticks
        if not order:
            return
        axis = self.plot.getAxis("bottom")
        font = axis.style.get("tickFont") or axis.font()  # what the axis draws its text with
        fm = QFontMetrics(font)
        widest = max(fm.horizontalAdvance(f"z{d}") for d in order)
        width = self.plot.getPlotItem().vb.width()
        if width <= 1:  # not laid out yet: sigResized relabels it
            width = self.plot.width() * 0.8
        k = label_step(len(order), widest, width)
        major = [(float(p), f"z{d}") for p, d in enumerate(order) if p % k == 0]
        minor = [(float(p), "") for p in range(len(order)) if p % k]
        axis.setTicks([major, minor])
        self._labels = [t for _, t in major]

    def tick_labels(self) -> list[str]:
        """The dimension labels under the bars, as drawn (every k-th dimension)."""
        return list(self._labels)


__all__ = ["CodePlot", "bar_plot", "label_step"]
