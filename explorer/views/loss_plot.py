"""Live loss curves: total, reconstruction and KL per step for every run, with EMA smoothing.

pyqtgraph idioms (examples/scrollingPlots.py): every curve is created once and fed `setData`
with views of a preallocated buffer that doubles when full; peak downsampling and clip-to-view
keep 100,000+ steps cheap to draw. New steps only mark a run dirty; one timer redraws at most 5 times a second (less when a
repaint would take more than 3 % of the GUI thread: PAINT_BUDGET).

Only the selected run (or the only run) draws its raw per-step losses behind its smoothed curve;
every other run draws its smoothed curve alone. A 7-member β sweep otherwise painted 21
translucent raw curves on top of the 21 smoothed ones, and the repaint (28 ms of a 200 ms tick,
benchmarks/gui_responsiveness.py --sweep) held the event loop past its 50 ms p99 target. The
per-epoch markers are set again only when an epoch ends, not at every tick.
No torch here: this module is imported before the window is shown.
"""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from latent_explorer.training.metrics.evaluate import EvalMetrics
    from latent_explorer.training.record.run import Run

# At most 5 redraws a second (SLEAP's monitor redraws every 500 ms): still live to the eye, and
# each redraw costs the training thread, whose Python needs the GIL that painting holds.
REDRAW_INTERVAL_MS = 200
MAX_REDRAW_INTERVAL_MS = 500
# Painting runs pyqtgraph's Python code, which holds the GIL the training thread also needs:
# redraw less often when painting would take more than this share of the time. Measured by
# benchmarks/gui_responsiveness.py on 2 cores (Fashion-MNIST VAE): 20 redraws/s within a 0.1
# budget left the GUI job at 62-67 % of headless steps/s; 10/s within 0.03 gave 84-85 %;
# 5/s within 0.03 gave 94-104 % (run-to-run noise on this VM is about 10 %).
PAINT_BUDGET = 0.03
DOWNSAMPLE_FACTOR = 1.5  # points drawn per pixel column (pyqtgraph's default of 5 is 3x slower)
CHANNELS = ("total", "recon", "kl")
TITLES = {"total": "Total loss (recon + β·KL)", "recon": "Reconstruction (BCE per pixel)",
          "kl": "KL (nats per image)"}
# An AE's loss is its reconstruction alone and it has no KL: when one is selected (or the only
# run), its plots say so rather than draw a KL of 0 under a title that promises β·KL.
AE_TITLES = {"total": "Reconstruction loss", "kl": "KL — an AE has no KL"}
# Mid-luminance colours that read on light and dark backgrounds alike.
RUN_COLORS = ("#e6550d", "#3182bd", "#31a354", "#d62728", "#9467bd", "#17becf", "#bcbd22",
              "#e377c2", "#8c564b", "#7f7f7f")
_BLOCK = 32  # EMA block length: w**-32 stays finite in float64 for every w >= 0.01


def run_color(index: int) -> str:
    return RUN_COLORS[index % len(RUN_COLORS)]


def ema_smooth(values: np.ndarray, weight: float, last: float = 0.0,
               count: int = 0) -> tuple[np.ndarray, float, int]:
    """TensorBoard's debiased EMA of `values`, continuing from (last, count); vectorised.

    y_t = w·y_{t-1} + (1-w)·x_t from y_0 = 0, divided by 1 - w^t (TensorBoard's debiasing, so
    the first points are not pulled towards zero). Returns (smoothed, last, count) so the next
    chunk continues where this one stopped.
    """
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.empty(0, np.float32), last, count
    w = float(weight)
    if w <= 0:
        return x.astype(np.float32), float(x[-1]), count + n
    w = min(w, 0.999)
    pad = (-n) % _BLOCK
    xb = np.concatenate([x, np.zeros(pad)]).reshape(-1, _BLOCK)
    t = np.arange(_BLOCK)
    # Within a block (zero start): y_t = (1-w) Σ_{s<=t} w^(t-s) x_s, a lower-triangular matmul.
    powers = w ** (t[:, None] - t[None, :]).clip(min=0)
    tri = np.tril(powers) * (1 - w)
    local = xb @ tri.T
    # Carry each block's final state into the next: y += w^(t+1) · carry.
    decay = w ** (t + 1)
    carries = np.empty(len(xb))
    c = last
    wb = w ** _BLOCK
    for i in range(len(xb)):
        carries[i] = c
        c = local[i, -1] + wb * c
    y = (local + carries[:, None] * decay[None, :]).ravel()[:n]
    steps = count + 1 + np.arange(n)
    debiased = y / (1.0 - w ** steps)
    return debiased.astype(np.float32), float(y[-1]), count + n


class _Series:
    """One run's buffers, smoothed copies and plot items."""

    def __init__(self, run_id: int, name: str, color: str, beta: float,
                 has_kl: bool = True) -> None:
        self.run_id = run_id
        self.has_kl = has_kl  # an AE has none: its KL curve and markers are never drawn
        self.name = name
        self.color = color
        self.beta = beta
        self.n = 0
        self.drawn_n = 0  # steps drawn at the last redraw
        self.buf = np.zeros((3, 1024), np.float32)  # total, recon, kl
        self.smooth = np.zeros((3, 1024), np.float32)
        self.ema_last = np.zeros(3)
        self.ema_count = 0
        self.smoothed_n = 0
        self.epoch_steps: list[int] = []
        self.epoch_values: list[tuple[float, float, float]] = []
        self.visible = True
        self.markers_changed = True  # epoch markers to set again at the next redraw
        self.raw_drawn = False  # its raw curves hold data
        self.raw_items: dict[str, pg.PlotDataItem] = {}
        self.smooth_items: dict[str, pg.PlotDataItem] = {}
        self.markers: dict[str, pg.ScatterPlotItem] = {}
        # A run trained to a target rate: the β of each step, its curve, and the target drawn
        # as a dashed line on the KL plot.
        self.target_rate: float | None = None
        self.beta_buf: np.ndarray | None = None
        self.beta_n = 0
        self.beta_item: pg.PlotDataItem | None = None
        self.target_line: pg.InfiniteLine | None = None

    def reserve(self, need: int) -> None:
        cap = self.buf.shape[1]
        if need <= cap:
            return
        while cap < need:
            cap *= 2
        for attr in ("buf", "smooth"):
            old = getattr(self, attr)
            new = np.zeros((3, cap), np.float32)
            new[:, : self.n] = old[:, : self.n]
            setattr(self, attr, new)


class _LogLabelAxis(pg.AxisItem):
    """A log axis that labels only the 1, 2 and 5 of each decade: over less than a decade
    pyqtgraph labels every minor tick, and the labels overlap."""

    def tickStrings(self, values, scale, spacing):
        strings = super().tickStrings(values, scale, spacing)
        if not self.logMode:
            return strings
        out = []
        for v, text in zip(values, strings):
            mantissa = round(10 ** (v - np.floor(v)), 6)
            out.append(text if mantissa in (1.0, 2.0, 5.0) else "")
        return out


class _TimedGraphicsLayout(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that remembers how long its paints take (a smoothed mean)."""

    paint_ms = 0.0

    def paintEvent(self, event) -> None:
        t0 = time.perf_counter()
        super().paintEvent(event)
        ms = (time.perf_counter() - t0) * 1000
        self.paint_ms = ms if self.paint_ms == 0 else 0.8 * self.paint_ms + 0.2 * ms


class LossPlot(QWidget):
    """Three linked plots (total, recon, KL) overlaying every visible run, plus controls."""

    smoothing_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series: dict[int, _Series] = {}
        self._dirty: set[int] = set()
        self._smoothing = 0.6
        self._highlighted: int | None = None
        self._step_lines: dict[str, pg.InfiniteLine] = {}  # the timeline's step, per plot
        self._x = np.arange(1, 1025, dtype=np.float64)  # step numbers, grown with the buffers
        self.beta_plot: pg.PlotItem | None = None  # made when a run steers its β
        self._titles = dict(TITLES)  # as shown: an AE's when one is in focus (AE_TITLES)

        self._slider = QSlider(Qt.Orientation.Horizontal)
        self._slider.setRange(0, 99)
        self._slider.setValue(int(round(self._smoothing * 100)))
        self._slider.setToolTip("Exponential moving average of the step losses, as TensorBoard "
                                "smooths them (0 = raw). Test-set metrics are the markers.")
        self._slider.setAccessibleName("Smoothing")
        self._slider_label = QLabel()
        self._slider_label.setMinimumWidth(self._slider_label.fontMetrics().horizontalAdvance("0.00 "))
        self._raw_check = QCheckBox("Show raw")
        self._raw_check.setChecked(True)
        self._raw_check.setToolTip("Draw the selected run's unsmoothed losses faintly behind its "
                                   "smoothed curve (other runs show their smoothed curve only)")
        self._log_check = QCheckBox("Log y")
        self._log_check.setToolTip("Logarithmic loss axes")
        self._grid_check = QCheckBox("Grid")
        self._grid_check.setToolTip("Grid lines (they make each redraw about three times slower)")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Smoothing"))
        bar.addWidget(self._slider, 1)
        bar.addWidget(self._slider_label)
        bar.addSpacing(12)
        bar.addWidget(self._raw_check)
        bar.addWidget(self._log_check)
        bar.addWidget(self._grid_check)
        bar.addStretch(1)
        hint = QLabel("● test-set metric per epoch")
        hint.setEnabled(False)
        bar.addWidget(hint)

        self.graphics = _TimedGraphicsLayout()
        self.graphics.setMinimumHeight(180)
        self.plots: dict[str, pg.PlotItem] = {}
        for i, ch in enumerate(CHANNELS):
            p = self.graphics.addPlot(row=0, col=i, title=TITLES[ch])
            p.setLabel("bottom", "step")
            p.setClipToView(True)
            p.setDownsampling(auto=True, mode="peak")
            p.getViewBox().setMouseMode(pg.ViewBox.RectMode)
            if i:
                p.setXLink(self.plots[CHANNELS[0]])
            self.plots[ch] = p
        # One legend for the three plots, above them, wrapping onto more lines as runs come:
        # inside a plot it covered the curves and was cut off past four or five runs.
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setAccessibleName("Legend")
        self.legend.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.legend)
        layout.addWidget(self.graphics, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._slider.valueChanged.connect(self._on_slider_value_changed)
        self._raw_check.toggled.connect(self._on_raw_check_toggled)
        self._log_check.toggled.connect(self._on_log_check_toggled)
        self._grid_check.toggled.connect(self._on_grid_check_toggled)
        self._update_slider_label()
        self._apply_palette()

    # -- public API ------------------------------------------------------------------------------
    @property
    def smoothing(self) -> float:
        return self._smoothing

    def set_smoothing(self, weight: float) -> None:
        self._slider.setValue(int(round(min(max(weight, 0.0), 0.99) * 100)))

    def target_label(self, run_id: int):
        """The text item that names a run's target rate on the KL plot (None without one)."""
        s = self._series.get(run_id)
        line = getattr(s, "target_line", None) if s is not None else None
        return line.label if line is not None else None

    def step_count(self, run_id: int) -> int:
        s = self._series.get(run_id)
        return 0 if s is None else s.n

    def curve_data(self, run_id: int, channel: str = "total", smoothed: bool = False):
        """(x, y) of a run's per-step losses as last drawn: raw, or smoothed as its curve holds."""
        s = self._series[run_id]
        if smoothed:
            return s.smooth_items[channel].getOriginalDataset()
        c = CHANNELS.index(channel)
        return self._x[: s.drawn_n].copy(), s.buf[c, : s.drawn_n].copy()

    @property
    def raw_run_id(self) -> int | None:
        """The run whose raw per-step curves are drawn: the selected one, or the only run."""
        if self._highlighted in self._series:
            return self._highlighted
        if len(self._series) == 1:
            return next(iter(self._series))
        return None

    @property
    def redraw_interval_ms(self) -> int:
        """How often the redraw timer runs now (it slows down when painting is slow)."""
        return self._timer.interval()

    def drawn_data(self, run_id: int, channel: str = "total"):
        """(x, y) of the smoothed curve as drawn now: after downsampling and clipping to view."""
        return self._series[run_id].smooth_items[channel].getData()

    def marker_data(self, run_id: int, channel: str = "total"):
        """(steps, values) of the per-epoch test markers, as drawn."""
        return self._series[run_id].markers[channel].getData()

    def beta_data(self, run_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The β curve drawn for a run trained to a target rate (None: it has none)."""
        s = self._series.get(run_id)
        if s is None or s.beta_item is None:
            return None
        x, y = s.beta_item.getOriginalDataset()  # getData() is log10 on the log axis
        return (np.asarray(x), np.asarray(y)) if x is not None else (np.array([]), np.array([]))

    def target_line_value(self, run_id: int) -> float | None:
        """The target rate drawn on the KL plot for a run (None: no target)."""
        s = self._series.get(run_id)
        return float(s.target_line.value()) if s is not None and s.target_line is not None \
            else None

    def is_curve_shown(self, run_id: int, channel: str = "total") -> bool:
        return self._series[run_id].smooth_items[channel].isVisible()

    def title(self, channel: str) -> str:
        """The title shown above a plot ('total', 'recon' or 'kl')."""
        return self._titles.get(channel, TITLES[channel])

    def stop_redrawing(self) -> None:
        """The window is closing: no more redraws (pending steps are drawn once, now)."""
        self.flush()
        self._timer.stop()

    def closeEvent(self, event) -> None:
        self.stop_redrawing()
        super().closeEvent(event)

    def set_step_marker(self, step: float | None) -> None:
        """A vertical line at `step` on the three plots (a timeline snapshot); None hides it."""
        if step is None and not self._step_lines:
            return
        if not self._step_lines:
            for ch in CHANNELS:
                line = pg.InfiniteLine(angle=90, movable=False, pen=self._marker_pen())
                line.setZValue(10)
                self.plots[ch].addItem(line, ignoreBounds=True)  # autorange ignores it
                self._step_lines[ch] = line
        for line in self._step_lines.values():
            if step is not None:
                line.setValue(float(step))
            line.setVisible(step is not None)

    def step_marker(self) -> float | None:
        """The step the vertical marker is at, or None when it is hidden."""
        line = self._step_lines.get(CHANNELS[0])
        return float(line.value()) if line is not None and line.isVisible() else None

    def marker_count(self, run_id: int) -> int:
        s = self._series.get(run_id)
        return 0 if s is None else len(s.epoch_steps)

    def has_run(self, run_id: int) -> bool:
        return run_id in self._series

    def add_run(self, run: Run, color: str) -> None:
        """Curves for a run, filled from its history (loaded checkpoints arrive with one)."""
        if run.id in self._series:
            return
        s = _Series(run.id, run.name, color, run.beta, has_kl=run.is_variational)
        for ch in CHANNELS:
            plot = self.plots[ch]
            raw = pg.PlotDataItem(pen=self._pen(color, raw=True), skipFiniteCheck=True)
            smooth = pg.PlotDataItem(pen=self._pen(color), skipFiniteCheck=True)
            markers = pg.ScatterPlotItem(size=8, symbol="o", brush=pg.mkBrush(color),
                                         pen=pg.mkPen(self._foreground(), width=1))
            for item in (raw, smooth):
                item.setClipToView(True)
                item.setDownsampling(auto=True, method="peak")
                item.opts["autoDownsampleFactor"] = DOWNSAMPLE_FACTOR
            raw.setZValue(-1)
            markers.setZValue(5)
            plot.addItem(raw)
            plot.addItem(smooth)
            plot.addItem(markers)
            if ch == "kl" and not s.has_kl:
                for item in (raw, smooth, markers):
                    item.setVisible(False)
            s.raw_items[ch], s.smooth_items[ch], s.markers[ch] = raw, smooth, markers
        target = getattr(run.config, "target_rate", None)
        if target is not None:
            s.target_rate = float(target)
            s.target_line = pg.InfiniteLine(pos=s.target_rate, angle=0, pen=pg.mkPen(
                color, width=1, style=Qt.PenStyle.DashLine), label=f"target {target:g}",
                # pyqtgraph flips between the two anchors by where the line is in the view:
                # below the line in the upper half, above it in the lower half, so the label
                # is never cut at the plot's top or bottom edge.
                labelOpts={"position": 0.85, "color": color, "anchors": [(1, 0), (1, 1)]})
            self.plots["kl"].addItem(s.target_line, ignoreBounds=False)
        self._series[run.id] = s
        self._update_legend()
        self._update_titles()
        self.set_history(run)

    def set_history(self, run: Run) -> None:
        """Replace a run's data with its full history (a loaded checkpoint, a finished job)."""
        s = self._series.get(run.id)
        if s is None:
            return
        h = run.history
        s.n = 0
        s.ema_count, s.smoothed_n = 0, 0
        s.ema_last[:] = 0
        if len(h):
            self._write(s, 0, h.recon, h.kl, h.total)
        s.beta_n = 0
        if h.has_beta:
            self._write_beta(s, 0, h.beta)
        s.epoch_steps, s.epoch_values = [], []
        s.markers_changed = True
        for rec in h.epochs:
            self._add_marker_values(s, rec.step, rec.metrics)
        self._mark_dirty(s.run_id)

    def append_steps(self, run_id: int, first_step: int, recon: np.ndarray, kl: np.ndarray,
                     total: np.ndarray, beta: np.ndarray | None = None) -> None:
        """New steps of a run (a StepsEvent's arrays; `beta` when it is steered to a target
        rate); drawn at the next redraw tick."""
        s = self._series.get(run_id)
        if s is None or len(total) == 0:
            return
        self._write(s, first_step, recon, kl, total)
        if beta is not None:
            self._write_beta(s, first_step, beta)
        self._mark_dirty(run_id)

    def add_epoch_marker(self, run_id: int, step: int, metrics: EvalMetrics) -> None:
        s = self._series.get(run_id)
        if s is None:
            return
        self._add_marker_values(s, step, metrics)
        self._mark_dirty(run_id)

    def rename_run(self, run_id: int, name: str) -> None:
        s = self._series.get(run_id)
        if s is None:
            return
        s.name = name
        self._update_legend()

    def remove_run(self, run_id: int) -> None:
        s = self._series.pop(run_id, None)
        if s is None:
            return
        self._dirty.discard(run_id)
        if (left := self.raw_run_id) is not None:
            self._mark_dirty(left)  # the only run left now shows its raw steps
        self._update_legend()
        self._update_titles()
        for ch in CHANNELS:
            for item in (s.raw_items[ch], s.smooth_items[ch], s.markers[ch]):
                self.plots[ch].removeItem(item)
        if s.target_line is not None:
            self.plots["kl"].removeItem(s.target_line)
        if s.beta_item is not None and self.beta_plot is not None:
            self.beta_plot.removeItem(s.beta_item)

    def set_run_visible(self, run_id: int, visible: bool) -> None:
        s = self._series.get(run_id)
        if s is None or s.visible == visible:
            return
        s.visible = visible
        for ch in CHANNELS:
            shown = visible and (ch != "kl" or s.has_kl)  # an AE's KL stays hidden
            s.raw_items[ch].setVisible(shown and self._raw_wanted(s))
            s.smooth_items[ch].setVisible(shown)
            s.markers[ch].setVisible(shown)
        for item in (s.beta_item, s.target_line):
            if item is not None:
                item.setVisible(visible)
        self._update_legend()

    def is_run_visible(self, run_id: int) -> bool:
        s = self._series.get(run_id)
        return bool(s and s.visible)

    def set_highlighted(self, run_id: int | None) -> None:
        """Draw the selected run's curves thicker."""
        if run_id == self._highlighted:
            return
        old_raw = self.raw_run_id
        old, self._highlighted = self._highlighted, run_id
        for rid in (old, run_id):
            s = self._series.get(rid) if rid is not None else None
            if s is not None:
                for ch in CHANNELS:
                    s.smooth_items[ch].setPen(self._pen(s.color, wide=rid == run_id))
        for rid in {old_raw, self.raw_run_id} - {None}:
            self._mark_dirty(rid)  # the raw curves move to the newly selected run
        self._update_legend()
        self._update_titles()

    def legend_entries(self) -> list[str]:
        """The run names the legend lists, in order (the visible runs)."""
        return [s.name for s in self._series.values() if s.visible]

    def _update_legend(self) -> None:
        parts = []
        for s in self._series.values():
            if not s.visible:
                continue
            name = escape(s.name).replace(" ", "&nbsp;")  # lines break between runs only
            if s.run_id == self._highlighted:
                name = f"<b>{name}</b>"
            parts.append(f"<span style='color:{s.color}'>&#9632;</span>&nbsp;{name}")
        self.legend.setText("&nbsp;&nbsp; ".join(parts))
        self.legend.setVisible(bool(parts))

    def _update_titles(self) -> None:
        """The plots' titles for the run in focus (the selected one, or the only run): an AE's
        first plot is its reconstruction loss, and its KL plot says it has none."""
        focus = self._series.get(self.raw_run_id) if self.raw_run_id is not None else None
        titles = {**TITLES, **(AE_TITLES if focus is not None and not focus.has_kl else {})}
        if titles == self._titles:
            return
        self._titles = titles
        fg = self._foreground().name()
        for ch, p in self.plots.items():
            p.setTitle(titles[ch], color=fg)

    def flush(self) -> None:
        """Redraw everything pending now (the timer does this at most 5 times a second)."""
        self._on_timer_timeout()

    # -- internals -------------------------------------------------------------------------------
    def _raw_wanted(self, s: _Series) -> bool:
        return (self._raw_check.isChecked() and self._smoothing > 0
                and s.run_id == self.raw_run_id)

    def _pen(self, color: str, raw: bool = False, wide: bool = False):
        c = QColor(color)
        if raw:
            c.setAlpha(70)
            return pg.mkPen(c, width=1)
        return pg.mkPen(c, width=2 if wide else 1)  # wider pens paint several times slower

    def _marker_pen(self):
        return pg.mkPen(self._foreground(), width=1, style=Qt.PenStyle.DashLine)

    def _foreground(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.WindowText)

    def _write(self, s: _Series, first: int, recon, kl, total) -> None:
        k = len(total)
        end = first + k
        s.reserve(end)
        s.buf[0, first:end] = total
        s.buf[1, first:end] = recon
        s.buf[2, first:end] = kl
        if first < s.smoothed_n:  # rewritten steps: smooth again from the start
            s.smoothed_n, s.ema_count = 0, 0
            s.ema_last[:] = 0
        s.n = max(s.n, end) if first <= s.n else end
        if len(self._x) < s.buf.shape[1]:
            self._x = np.arange(1, s.buf.shape[1] + 1, dtype=np.float64)

    def _write_beta(self, s: _Series, first: int, beta: np.ndarray) -> None:
        end = first + len(beta)
        if s.beta_buf is None:
            s.beta_buf = np.full(max(1024, end), np.nan, np.float32)
            s.beta_item = pg.PlotDataItem(pen=self._pen(s.color), connect="finite")
            s.beta_item.setVisible(s.visible)
            self._beta_plot().addItem(s.beta_item)
        if end > len(s.beta_buf):
            grown = np.full(max(end, 2 * len(s.beta_buf)), np.nan, np.float32)
            grown[: s.beta_n] = s.beta_buf[: s.beta_n]
            s.beta_buf = grown
        # β = 0 has no logarithm: drawn as a gap on the log axis.
        s.beta_buf[first:end] = np.where(beta > 0, beta, np.nan)
        s.beta_n = max(s.beta_n, end) if first <= s.beta_n else end

    def _beta_plot(self) -> pg.PlotItem:
        """The fourth plot, β per step, made when the first run that steers its β arrives."""
        if self.beta_plot is None:
            p = self.graphics.addPlot(row=0, col=len(CHANNELS), title="β per step",
                                      axisItems={"left": _LogLabelAxis("left")})
            p.setLabel("bottom", "step")
            p.setLogMode(y=True)
            p.getViewBox().setMouseMode(pg.ViewBox.RectMode)
            p.setXLink(self.plots[CHANNELS[0]])
            on = self._grid_check.isChecked()
            p.showGrid(x=on, y=on, alpha=0.25 if on else None)
            self.beta_plot = p
            self._apply_palette()
        return self.beta_plot

    def _add_marker_values(self, s: _Series, step: int, m: EvalMetrics) -> None:
        kl = m.kl if m.kl is not None else 0.0
        total = m.bce + (s.beta * kl if m.kl is not None else 0.0)
        s.epoch_steps.append(step)
        s.epoch_values.append((total, m.bce, kl))
        s.markers_changed = True

    def _mark_dirty(self, run_id: int) -> None:
        self._dirty.add(run_id)
        if not self._timer.isActive():
            self._timer.start()

    def _smooth_pending(self, s: _Series) -> None:
        start = s.smoothed_n
        if start >= s.n:
            return
        for c in range(3):
            y, last, _ = ema_smooth(s.buf[c, start : s.n], self._smoothing, s.ema_last[c],
                                    s.ema_count)
            s.smooth[c, start : s.n] = y
            s.ema_last[c] = last
        s.ema_count += s.n - start
        s.smoothed_n = s.n

    def _update_series(self, s: _Series) -> None:
        self._smooth_pending(s)
        x = self._x[: s.n]
        s.drawn_n = s.n
        raw_visible = s.visible and self._raw_wanted(s)
        markers = s.markers_changed
        s.markers_changed = False
        ex = np.asarray(s.epoch_steps, dtype=np.float64)
        ev = np.asarray(s.epoch_values, dtype=np.float64).reshape(-1, 3)
        for c, ch in enumerate(CHANNELS):
            raw = s.raw_items[ch]
            if ch == "kl" and not s.has_kl:  # an AE: no KL to draw (not a flat line at 0)
                for item in (raw, s.smooth_items[ch], s.markers[ch]):
                    item.setData([], [])
                    item.setVisible(False)
                continue
            if raw_visible:
                raw.setData(x, s.buf[c, : s.n])
            elif s.raw_drawn:
                raw.setData([], [])  # a hidden curve still costs its bounds and memory
            raw.setVisible(raw_visible)
            s.smooth_items[ch].setData(x, s.smooth[c, : s.n])
            if markers:  # a ScatterPlotItem's setData rebuilds every spot: only when they change
                s.markers[ch].setData(ex, ev[:, c])
        s.raw_drawn = raw_visible
        if s.beta_item is not None:
            n = min(s.beta_n, len(self._x))
            s.beta_item.setData(self._x[:n], s.beta_buf[:n])

    @Slot()
    def _on_timer_timeout(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for rid in dirty:
            s = self._series.get(rid)
            if s is not None:
                self._update_series(s)
        if not self._dirty:
            self._timer.stop()
        # Long runs on slow machines: keep painting under PAINT_BUDGET of the GUI thread's time.
        paint = self.graphics.paint_ms
        self._timer.setInterval(int(min(MAX_REDRAW_INTERVAL_MS,
                                        max(REDRAW_INTERVAL_MS, paint / PAINT_BUDGET))))

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        self._smoothing = value / 100
        self._update_slider_label()
        for s in self._series.values():  # smooth everything again with the new weight
            s.smoothed_n, s.ema_count = 0, 0
            s.ema_last[:] = 0
            self._mark_dirty(s.run_id)
        self.smoothing_changed.emit(self._smoothing)

    @Slot(bool)
    def _on_raw_check_toggled(self, _checked: bool) -> None:
        for s in self._series.values():
            self._mark_dirty(s.run_id)

    @Slot(bool)
    def _on_log_check_toggled(self, checked: bool) -> None:
        for p in self.plots.values():
            p.setLogMode(y=checked)

    @Slot(bool)
    def _on_grid_check_toggled(self, checked: bool) -> None:
        for p in self._all_plots():
            p.showGrid(x=checked, y=checked, alpha=0.25 if checked else None)

    def _all_plots(self) -> list[pg.PlotItem]:
        return list(self.plots.values()) + ([self.beta_plot] if self.beta_plot is not None else [])

    def _update_slider_label(self) -> None:
        self._slider_label.setText(f"{self._smoothing:.2f}")

    def _apply_palette(self) -> None:
        """Plot colours from the system palette, so light and dark themes both read well."""
        pal = self.palette()
        bg = pal.color(QPalette.ColorRole.Base)
        fg = pal.color(QPalette.ColorRole.WindowText)
        self.graphics.setBackground(bg)
        for p in self._all_plots():
            p.setTitle(p.titleLabel.text, color=fg.name())
            for name in ("left", "bottom"):
                ax = p.getAxis(name)
                ax.setPen(pg.mkPen(fg))
                ax.setTextPen(pg.mkPen(fg))
        for line in self._step_lines.values():
            line.setPen(self._marker_pen())
        for s in self._series.values():
            for ch in CHANNELS:
                s.markers[ch].setPen(pg.mkPen(fg, width=1))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)
