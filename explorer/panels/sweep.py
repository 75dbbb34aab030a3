"""The Sweep tab: the selected run's β sweep on the rate–distortion plane, side by side.

Three views of the members of the selected run's sweep (`run.group`):
- the rate–distortion plane (Alemi et al. 2018): one point per member at its test rate and
  distortion (`RateDistortion.from_metrics(run.metrics)`, so R + D = −ELBO), labelled with β,
  a faint trail through its earlier epochs, dashed diagonals of equal −ELBO; clicking a point
  selects that member (every tab follows);
- the comparison grid (`sweep_report.comparison_grid`): one row per member, the same test
  images' reconstructions, then decodings of the same prior codes;
- a table of the figures, the best sample quality and the best bound marked;
- beside the plane, MIG (disentanglement_lib's, explorer/session/disentangle_runner.py) against
  β per image (β × C·H·W, the scale the β-VAE papers' disentanglement curves use): one point
  per member, a line through the mean over seeds at each β; a sentence instead when the
  dataset has no known factors or class labels to score against.

A member that never took a step (its Ray cluster could not be reached, its data could not
load: `never_started`) has no weights: the header counts it apart from members that failed
later and kept their last good weights, with the reason, and the grid leaves it out. The table
and "Save table CSV…" carry the CLI's summary.csv columns (β per image, bits/dim, MIG from the
Factors tab's scores when known).

It follows training (`follows_training`): the window gives it every run and calls it again at
every epoch end, so the plane moves while the sweep trains. The IW bound and sample quality
come from the background scorer (run.measures) once the sweep has ended; MIG from the Factors
tab's scorer (the shared store), as each member is scored.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from latent_explorer.explorer.panels.base import Panel, image_shape_of, row
from latent_explorer.explorer.session.disentangle_runner import (
    factor_source,
    shared_factor_scores,
)
from latent_explorer.explorer.session.scorer_text import IW_K, IW_TOOLTIP, NATS_LINE, QUALITY_TOOLTIP
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.training.record.run import Run, RunState

NONE = "—"  # a figure that is not there (not measured, or nothing to measure)
HEADER_ERROR_CHARS = 240  # a never-started member's reason in the header; the tooltip has all
LOG_FLOOR = 0.01  # nats: log axes show a collapsed member's rate (≈ 0) at this floor
TABLE_COLUMNS = ("β", "seed", "state", "test BCE/px", "rate", "distortion", "−ELBO",
                 f"IW bound (k={IW_K})", "sample quality", "active dims")
COL_QUALITY, COL_BOUND = 8, 7
BEST_BRUSH = QColor("#d9f2d9")
POINT_COLOR = "#1f77b4"
SELECTED_COLOR = "#d62728"
MEAN_COLOR = "#555555"
SWEEP_HINT = ("<b>{name}</b> is a single run, not a member of a β sweep.<br><br>To find the "
              "best β, tick <b>Sweep β</b> in the <i>New run</i> form (VAE or CVAE), give a "
              "list of βs (or fill it from a log grid) and press <b>Train sweep</b>: every β "
              "trains at once, and this tab shows them on the rate–distortion plane.")


def _fmt(v, digits: int = 1) -> str:
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def never_started(run: Run) -> bool:
    """Whether a member failed before it took a single step (a Ray cluster that could not be
    reached, data that could not load): no weights and no history. The run-side twin of
    explorer/session/jobs.py `never_started`, which reads a loop's result."""
    return RunState(run.state) == RunState.FAILED and run.model is None and not len(run.history)


def never_started_reasons(runs: list[Run]) -> str:
    """'2 never started (could not reach the Ray cluster): no Ray cluster at …': how many
    members never started and why, each distinct reason once (jobs.never_started_text already
    begins the error with 'never started', so it is not said twice)."""
    reasons: list[str] = []
    for r in runs:
        text = (r.error or "").strip()
        rest = text[len("never started"):] if text.startswith("never started") else \
            (": " + text if text else "")
        if rest not in reasons:
            reasons.append(rest)
    n = len(runs)
    if len(reasons) == 1:
        return f"{n} never started{reasons[0]}"
    return f"{n} never started: " + "; ".join(_bare(r) for r in reasons if r.strip())


def _bare(reason: str) -> str:
    """': dataset x not found' -> 'dataset x not found'; ' (could not reach the Ray cluster):
    no Ray…' -> 'could not reach the Ray cluster: no Ray…' (one of several reasons)."""
    r = reason.removeprefix(":").strip()
    if r.startswith("(") and "):" in r:
        r = r[1:].replace("):", ":", 1)
    return r


def _shorten(text: str, limit: int = HEADER_ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class SweepPanel(Panel):
    """The members of the selected run's sweep: R–D plane, comparison grid and table."""

    title = "Sweep"
    needs_data = False  # the plane and table need metrics only; the grid waits for the data
    follows_training = True

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.members: list[Run] = []
        self._grid_key: tuple | None = None
        self._grid: np.ndarray | None = None
        self._points: list[tuple[Run, float, float]] = []

        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)

        # -- the plane --
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumSize(320, 260)
        pi = self.plot.getPlotItem()
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.setMenuEnabled(False)
        pi.hideButtons()
        pi.setLabel("bottom", "rate  KL(q(z|x) ‖ p(z))  [nats/image]")
        pi.setLabel("left", "distortion  −E log p(x|z)  [nats/image]")
        pi.vb.disableAutoRange()
        self._iso_curves: list[pg.PlotCurveItem] = []
        self._iso_labels: list[pg.TextItem] = []
        self._trails: list[pg.PlotDataItem] = []
        self._target_lines: list[pg.InfiniteLine] = []  # the target rates of the members
        self._targets: list[float] = []
        self._labels: list[pg.TextItem] = []
        self.scatter = pg.ScatterPlotItem(size=11, pen=pg.mkPen("w", width=1))
        self.scatter.setZValue(10)
        self.scatter.sigClicked.connect(self._on_scatter_clicked)
        pi.addItem(self.scatter)
        self.log_axes = QCheckBox("log axes")
        self.log_axes.setToolTip(f"Logarithmic rate and distortion (a rate below {LOG_FLOOR:g} "
                                 "nats is drawn at that floor)")
        self.log_axes.toggled.connect(lambda _on: self._update_plane())
        self.save_plane_button = QPushButton("Save plane PNG…")
        self.save_plane_button.clicked.connect(self._on_save_plane_clicked)
        plane_box = QWidget()
        pl = QVBoxLayout(plane_box)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.plot, 1)
        pl.addLayout(row(self.log_axes, self.save_plane_button))

        # -- MIG against β, beside the plane --
        self.mig_plot = pg.PlotWidget(background="w")
        self.mig_plot.setMinimumSize(200, 160)
        mp = self.mig_plot.getPlotItem()
        mp.showGrid(x=True, y=True, alpha=0.15)
        mp.setMenuEnabled(False)
        mp.hideButtons()
        mp.setLabel("bottom", "β per image  (β × C·H·W)")
        mp.setLabel("left", "MIG")
        mp.getAxis("left").enableAutoSIPrefix(False)  # MIG is a fraction: no "×0.001"
        self.mig_mean_curve = pg.PlotDataItem(pen=pg.mkPen(MEAN_COLOR, width=2))
        mp.addItem(self.mig_mean_curve)
        self.mig_scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen("w", width=1))
        self.mig_scatter.setZValue(10)
        self.mig_scatter.sigClicked.connect(self._on_mig_clicked)
        mp.addItem(self.mig_scatter)
        self.mig_caption = QLabel()
        self.mig_caption.setWordWrap(True)
        self.mig_caption.setTextFormat(Qt.TextFormat.RichText)
        self._mig_points: list[tuple[Run, float, float]] = []
        self._mig_means: list[tuple[float, float]] = []
        mig_box = QWidget()
        ml = QVBoxLayout(mig_box)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(self.mig_plot, 1)
        ml.addWidget(self.mig_caption)
        self.factor_scores = shared_factor_scores()
        self.factor_scores.changed.connect(self._on_factor_scores_changed)

        # -- the grid --
        self.grid_view = ImageView(min_height=120, background=pg.mkColor(255, 255, 255))
        self._row_labels: list[pg.TextItem] = []
        self.grid_caption = QLabel()
        self.grid_caption.setWordWrap(True)
        self.save_button.setText("Save grid PNG…")
        self.save_button.setToolTip("Save the comparison grid, its rows labelled, as a PNG")
        grid_box = QWidget()
        gl = QVBoxLayout(grid_box)
        gl.setContentsMargins(0, 0, 0, 0)
        gl.addWidget(self.grid_view, 1)
        gl.addWidget(self.grid_caption)
        gl.addLayout(row(self.save_button))

        # -- the table --
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.horizontalHeaderItem(COL_BOUND).setToolTip(IW_TOOLTIP)
        self.table.horizontalHeaderItem(COL_QUALITY).setToolTip(QUALITY_TOOLTIP)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellClicked.connect(self._on_table_cell_clicked)
        self.best_label = QLabel()
        self.best_label.setWordWrap(True)
        self.best_label.setTextFormat(Qt.TextFormat.RichText)
        self.nats_label = QLabel(f"<small>Rate, distortion, −ELBO and IW bound: {NATS_LINE}."
                                 "</small>")
        self.nats_label.setWordWrap(True)
        self.save_csv_button = QPushButton("Save table CSV…")
        self.save_csv_button.clicked.connect(self._on_save_csv_clicked)
        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.table, 1)
        tl.addWidget(self.best_label)
        tl.addWidget(self.nats_label)
        tl.addLayout(row(self.save_csv_button))

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(plane_box)
        top.addWidget(mig_box)
        top.addWidget(grid_box)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 1)
        top.setStretchFactor(2, 2)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(table_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self.content)
        layout.addWidget(self.header)
        layout.addWidget(split, 1)

    # -- the contract ----------------------------------------------------------------------------
    def unusable_reason(self, run: Run | None) -> str | None:
        if run is None:
            return ("Select a member of a β sweep in the run list to compare the sweep here. "
                    "Start one with <b>Sweep β</b> in the <i>New run</i> form.")
        if not run.group:
            return SWEEP_HINT.format(name=escape(run.name))
        return None

    def _update_run(self) -> None:
        run = self.run
        self.members = [r for r in self.runs if r.group == run.group] or [run]
        self._update_header()
        self._update_plane()
        self._update_mig()
        self._update_grid()
        self._update_table()

    def _clear(self) -> None:
        self.members = []
        self._points = []
        self.scatter.setData([])
        self._mig_points, self._mig_means = [], []
        self.mig_scatter.setData([])
        self.mig_mean_curve.setData([], [])

    # -- what tests and tools read ---------------------------------------------------------------
    def points(self) -> list[tuple[Run, float, float]]:
        """The plane's points: (member, rate, distortion) in nats, as plotted."""
        return list(self._points)

    def point_view_pos(self, run: Run) -> tuple[float, float] | None:
        """Where `run`'s point is in the plot's view coordinates (log10 on log axes)."""
        for r, rate, dist in self._points:
            if r is run:
                return self._tx(rate), self._ty(dist)
        return None

    def summary_rows(self):
        """The table's rows as training.metrics.sweep_report.SummaryRow, in member order, with
        the CLI's summary.csv columns filled where the app knows them: β per image (β × C·H·W
        of the member's model, as sweep_report.summary_row), bits/dim (EvalMetrics), and MIG
        and DCI disentanglement from the Factors tab's scores of the member's current weights
        when it was scored against known generative factors (the CLI scores factors only, so
        a score against class labels is not written as the factors' MIG)."""
        from latent_explorer.training.metrics.evaluate import RateDistortion
        from latent_explorer.training.metrics.sweep_report import SummaryRow

        rows = []
        for r in self.members:
            m, ms = r.metrics, r.measures
            rate = dist = None
            if m is not None and m.neg_elbo is not None:
                rd = RateDistortion.from_metrics(m)
                rate, dist = rd.rate, rd.distortion
            mig, dci_d = self._factor_figures(r)
            rows.append(SummaryRow(
                r.beta, r.config.seed, str(r.state), m.bce if m else None, rate, dist,
                m.neg_elbo if m else None, ms.get("iw_bound"), int(ms.get("iw_k", IW_K)),
                ms.get("active_dims"), ms.get("quality"), ms.get("classes_seen"),
                ms.get("asked_share"), r.path.name if r.saved and r.path else "", r.error,
                target_rate=getattr(r.config, "target_rate", None),
                beta_per_image=self._beta_per_image_of_model(r),
                bits_per_dim=m.bits_per_dim if m is not None else None,
                mig=mig, dci_disentanglement=dci_d))
        return rows

    @staticmethod
    def _beta_per_image_of_model(run: Run) -> float | None:
        """β × C·H·W of the member's model (of its data before it has one); None when neither
        is known (a 28×28 guess would put a wrong figure in the file)."""
        if run.model is not None:
            shape = tuple(int(s) for s in run.model.config.image_shape)
        elif run.dataset is not None:
            shape = tuple(run.dataset.image_shape)
        else:
            return None
        return float(run.beta) * float(np.prod(shape))

    def _factor_figures(self, run: Run) -> tuple[float | None, float | None]:
        """(MIG, DCI disentanglement) of `run`'s current weights against known factors, from
        the shared scores; (None, None) when not scored, or scored against class labels."""
        s = self.factor_scores.scores(run) if run.model is not None else None
        if s is None or s.kind != "factors":
            return None, None
        mig = s.score if math.isfinite(s.score) else None
        dci_d = s.dci.disentanglement if s.dci is not None else None
        return mig, (dci_d if dci_d is not None and math.isfinite(dci_d) else None)

    def best(self) -> dict[str, Run | None]:
        """The members with the best sample quality and the best bound (None: not measured)."""
        from latent_explorer.training.metrics.sweep_report import best_members

        return {k: (self.members[i] if i is not None else None)
                for k, i in best_members(self.summary_rows()).items()}

    @property
    def grid(self) -> np.ndarray | None:
        return self._grid

    # -- the plane ---------------------------------------------------------------------------------
    def _tx(self, v: float) -> float:
        return math.log10(max(v, LOG_FLOOR)) if self.log_axes.isChecked() else v

    def _ty(self, v: float) -> float:
        return math.log10(max(v, LOG_FLOOR)) if self.log_axes.isChecked() else v

    def label_of(self, run: Run) -> str:
        n_seeds = len({r.config.seed for r in self.members})
        target = getattr(run.config, "target_rate", None)
        head = f"R={target:g}" if target is not None else f"β={run.beta:g}"
        return head + (f" s{run.config.seed}" if n_seeds > 1 else "")

    def _update_plane(self) -> None:
        from latent_explorer.training.metrics.evaluate import RateDistortion
        from latent_explorer.training.metrics.sweep_report import iso_elbo_levels

        if self.run is None or not self.members:
            return
        log = self.log_axes.isChecked()
        pi = self.plot.getPlotItem()
        pi.getAxis("bottom").setLogMode(log)
        pi.getAxis("left").setLogMode(log)
        pts: list[tuple[Run, float, float]] = []
        trails: list[tuple[list[float], list[float]]] = []
        for r in self.members:
            m = r.metrics
            if m is None or m.neg_elbo is None:
                continue
            rd = RateDistortion.from_metrics(m)
            if not (math.isfinite(rd.rate) and math.isfinite(rd.distortion)):
                continue
            pts.append((r, rd.rate, rd.distortion))
            xs, ys = [], []
            for e in r.history.epochs:
                if e.metrics.neg_elbo is not None and e.metrics.kl is not None:
                    xs.append(self._tx(e.metrics.kl))
                    ys.append(self._ty(e.metrics.neg_elbo - e.metrics.kl))
            trails.append((xs, ys))
        self._points = pts
        # Items live long: grow the pools, then only their data and text change.
        while len(self._trails) < len(pts):
            t = pg.PlotDataItem(pen=pg.mkPen(POINT_COLOR, width=1, alpha=60),
                                symbol="o", symbolSize=4, symbolPen=None,
                                symbolBrush=pg.mkBrush(31, 119, 180, 70))
            t.setOpacity(0.35)
            pi.addItem(t)
            self._trails.append(t)
            # On a light fill: a −ELBO label or a diagonal under it cannot garble it.
            lab = pg.TextItem(color="#222222", anchor=(-0.1, 1.0),
                              fill=pg.mkBrush(255, 255, 255, 215))
            lab.setZValue(11)
            pi.addItem(lab)
            self._labels.append(lab)
        for i, item in enumerate(self._trails):
            if i < len(pts):
                item.setData(*trails[i])
                item.setVisible(True)
            else:
                item.setVisible(False)
        spots = []
        for i, (r, rate, dist) in enumerate(pts):
            selected = r is self.run
            spots.append({"pos": (self._tx(rate), self._ty(dist)), "data": i,
                          "size": 15 if selected else 11,
                          "brush": pg.mkBrush(SELECTED_COLOR if selected else POINT_COLOR)})
        self.scatter.setData(spots)
        # One label per cluster of points that would overlap (collapsed members sit together):
        # 'β=0.1, 1, 10' at the cluster's first point.
        clusters = self._clusters(pts)
        xs = [c[0][0] for c in clusters]
        right = max(xs) if xs else 0.0
        for i, lab in enumerate(self._labels):
            if i < len(clusters):
                (x, y), text = clusters[i]
                lab.setText(text)
                # The rightmost points' labels go to their left: on the right they ran off
                # the plane ("β=0.0…").
                left = len(xs) > 1 and x >= right - 0.25 * (right - min(xs))
                lab.setAnchor((1.1, 1.0) if left else (-0.1, 1.0))
                lab.setPos(x, y)
                lab.setVisible(True)
            else:
                lab.setVisible(False)
        self._update_iso_lines(pts, iso_elbo_levels([a + b for _, a, b in pts], 5))
        self._update_target_lines()

    def _clusters(self, pts) -> list[tuple[tuple[float, float], str]]:
        """Points closer than 3 % of the view's spans share one label."""
        if not pts:
            return []
        xs = np.array([self._tx(p[1]) for p in pts])
        ys = np.array([self._ty(p[2]) for p in pts])
        span_x, span_y = max(float(np.ptp(xs)), 1e-9), max(float(np.ptp(ys)), 1e-9)
        groups: list[list[int]] = []
        for i in range(len(pts)):
            for g in groups:
                if abs(xs[g[0]] - xs[i]) < 0.03 * span_x and abs(ys[g[0]] - ys[i]) < 0.03 * span_y:
                    g.append(i)
                    break
            else:
                groups.append([i])
        out = []
        for g in groups:
            names = [self.label_of(pts[i][0]) for i in g]
            text = names[0] + "".join(", " + n.removeprefix("β=").removeprefix("R=")
                                      for n in names[1:])
            out.append(((float(xs[g[0]]), float(ys[g[0]])), text))
        return out

    def target_rates_drawn(self) -> list[float]:
        """The target rates drawn on the plane as vertical lines (members trained to one)."""
        return list(self._targets)

    def _update_target_lines(self) -> None:
        """A dashed vertical line at each target rate of the members (rate is the x axis)."""
        pi = self.plot.getPlotItem()
        targets = sorted({t for r in self.members
                          if (t := getattr(r.config, "target_rate", None)) is not None})
        while len(self._target_lines) < len(targets):
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#e6550d", width=1,
                                                          style=Qt.PenStyle.DashLine),
                                   label="target", labelOpts={"position": 0.95,
                                                              "color": "#e6550d"})
            pi.addItem(line, ignoreBounds=True)
            self._target_lines.append(line)
        for i, line in enumerate(self._target_lines):
            if i < len(targets):
                line.setValue(self._tx(targets[i]))  # the view's x: log10 on log axes
                line.label.setFormat(f"target {targets[i]:g}")
                line.setVisible(True)
            else:
                line.setVisible(False)
        self._targets = targets

    def label_texts(self) -> list[str]:
        """The plane's point labels as shown."""
        return [t.toPlainText() for t in self._labels if t.isVisible()]

    def iso_label_boxes(self) -> list[tuple[str, QRectF]]:
        """Each shown −ELBO label and where it is drawn on screen (scene coordinates): its
        anchor point, then its text's pixel size around it (a TextItem ignores the view's
        scaling, so its own bounding rect says nothing about the screen)."""
        vb = self.plot.getPlotItem().vb
        out = []
        for t in self._iso_labels:
            if not t.isVisible():
                continue
            at = vb.mapViewToScene(t.pos())
            size = t.textItem.boundingRect()
            ax, ay = t.anchor.x(), t.anchor.y()
            out.append((t.toPlainText(), QRectF(at.x() - ax * size.width(),
                                                at.y() - ay * size.height(),
                                                size.width(), size.height())))
        return out

    def plane_box(self) -> QRectF:
        """Where the rate–distortion plane's view is on screen (scene coordinates)."""
        return self.plot.getPlotItem().vb.sceneBoundingRect()

    def _update_iso_lines(self, pts, levels: list[float]) -> None:
        pi = self.plot.getPlotItem()
        if not pts:
            for item in self._iso_curves + self._iso_labels:
                item.setVisible(False)
            return
        rates = np.array([p[1] for p in pts])
        dists = np.array([p[2] for p in pts])
        log = self.log_axes.isChecked()
        hi_r = max(float(rates.max()) * 1.15, 1.0)
        lo_r = LOG_FLOOR if log else 0.0
        # At least a tenth of the distortion itself: one member alone (the others not loaded
        # yet) otherwise gets a view 0.2 nats tall whose diagonals' labels pile up.
        span_d = max(float(np.ptp(dists)), 0.1 * float(np.abs(dists).max()), 1.0)
        lo_d = max(LOG_FLOOR, float(dists.min()) - 0.1 * span_d)
        hi_d = float(dists.max()) + 0.1 * span_d
        while len(self._iso_curves) < len(levels):
            c = pg.PlotCurveItem(pen=pg.mkPen("#9a9a9a", width=1, style=Qt.PenStyle.DashLine))
            c.setZValue(-5)
            pi.addItem(c)
            self._iso_curves.append(c)
            # Below-left of where its line comes in: the text runs into the view, never off it.
            t = pg.TextItem(color="#7a7a7a", anchor=(1.0, 0.0))
            t.setZValue(-4)
            pi.addItem(t)
            self._iso_labels.append(t)
        for i, (curve, text) in enumerate(zip(self._iso_curves, self._iso_labels)):
            if i >= len(levels):
                curve.setVisible(False)
                text.setVisible(False)
                continue
            c = levels[i]
            r = np.geomspace(lo_r, hi_r, 80) if log else np.linspace(lo_r, hi_r, 80)
            d = c - r
            keep = d > LOG_FLOOR
            r, d = r[keep], d[keep]
            if log:
                r, d = np.log10(r), np.log10(d)
            curve.setData(r, d)
            curve.setVisible(len(r) > 1)
            # The label just inside the view, where the line comes in from the top (or, for a
            # line that comes in from the right, at the right edge).
            x_lab = min(hi_r, max(lo_r, c - hi_d))
            text.setText(f"−ELBO {c:g}")
            # The text runs from there into the view: rightwards in its left half, else left.
            text.setAnchor((0.0, 0.0) if x_lab < (lo_r + hi_r) / 2 else (1.0, 0.0))
            text.setPos(self._tx(x_lab), self._ty(max(c - x_lab, LOG_FLOOR)))
            text.setVisible(lo_d <= c - x_lab <= hi_d)
        pi.vb.setRange(xRange=(self._tx(lo_r), self._tx(hi_r)),
                       yRange=(self._ty(lo_d), self._ty(hi_d)), padding=0.02)

    def _on_scatter_clicked(self, _item, points, _ev=None) -> None:
        if len(points):
            i = points[0].data()
            if i is not None and 0 <= i < len(self._points):
                self.run_requested.emit(self._points[i][0])

    # -- MIG against β -----------------------------------------------------------------------------
    def mig_points(self) -> list[tuple[Run, float, float]]:
        """The MIG plot's points: (member, β per image, MIG), as plotted."""
        return list(self._mig_points)

    def mig_means(self) -> list[tuple[float, float]]:
        """The mean line: (β per image, mean MIG over the seeds scored at it), β ascending."""
        return list(self._mig_means)

    @staticmethod
    def beta_per_image(run: Run) -> float:
        """β on the per-image scale: the per-value β times C·H·W of the run's images."""
        c, h, w = image_shape_of(run)
        return float(run.beta) * c * h * w

    def _on_factor_scores_changed(self, run_id: int) -> None:
        if any(r.id == run_id for r in self.members) and not self.is_showing_hint:
            self._update_mig()

    def _update_mig(self) -> None:
        members = self.members
        ds = next((r.dataset for r in members if r.dataset is not None), None)
        source = factor_source(ds)
        if source is None:
            self._mig_points, self._mig_means = [], []
            self.mig_scatter.setData([])
            self.mig_mean_curve.setData([], [])
            self.mig_plot.setVisible(False)
            self.mig_caption.setText(
                "MIG against β: the data is still loading." if ds is None else
                f"MIG against β: {escape(ds.name)} has no known generative factors and no class "
                "labels, so the latent dimensions cannot be scored (the sprites sources can).")
            return
        self.mig_plot.setVisible(True)
        pts = []
        for r in members:
            s = self.factor_scores.scores(r)
            if s is not None and math.isfinite(s.score):
                pts.append((r, self.beta_per_image(r), float(s.score)))
        self._mig_points = pts
        by_beta: dict[float, list[float]] = {}
        for _r, b, v in pts:
            by_beta.setdefault(b, []).append(v)
        self._mig_means = [(b, float(np.mean(vs))) for b, vs in sorted(by_beta.items())]
        # A log β axis (the axis only: the data go in as log10, as on the plane) unless a β is 0.
        log = bool(pts) and all(b > 0 for _r, b, _v in pts)
        self.mig_plot.getPlotItem().getAxis("bottom").setLogMode(log)

        def tx(b: float) -> float:
            return math.log10(b) if log else b

        spots = [{"pos": (tx(b), v), "data": i, "size": 12 if r is self.run else 9,
                  "brush": pg.mkBrush(SELECTED_COLOR if r is self.run else POINT_COLOR)}
                 for i, (r, b, v) in enumerate(pts)]
        self.mig_scatter.setData(spots)
        self.mig_mean_curve.setData([tx(b) for b, _ in self._mig_means],
                                    [v for _, v in self._mig_means])
        if pts:  # from 0, so a small MIG does not look like a large one
            xs = [tx(b) for _r, b, _v in pts]
            # At least a decade wide on the log axis (half the value on a linear one): one
            # point alone got a sliver of an axis whose minor tick labels ran together.
            lo, hi = min(xs), max(xs)
            least = 1.0 if log else max(0.5 * abs(hi), 1e-3)
            if hi - lo < least:
                mid = (lo + hi) / 2
                lo, hi = mid - least / 2, mid + least / 2
            self.mig_plot.getPlotItem().vb.setRange(
                xRange=(lo, hi), yRange=(0.0, max(0.05, max(v for *_, v in pts) * 1.15)),
                padding=0.08)
            # On the log axis, ticks at 1, 2, 5 × 10^k only: pyqtgraph's own minor labels ran
            # together ("5678910¹").
            ticks = None
            if log:
                ticks = [[(math.log10(m * 10.0 ** k), f"{m * 10.0 ** k:g}")
                          for k in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in (1, 2, 5)
                          if lo - 0.1 <= math.log10(m * 10.0 ** k) <= hi + 0.1]]
            self.mig_plot.getPlotItem().getAxis("bottom").setTicks(ticks)
        against = ("the class label" if source.kind == "labels"
                   else ", ".join(escape(n) for n in source.names))
        scored = f"{len(pts)} of {len(members)} members scored" if len(pts) < len(members) \
            else "one point per member, the line through the mean over seeds"
        self.mig_caption.setText(f"<small>MIG (disentanglement_lib) against {against}: "
                                 f"{scored}.</small>")

    def _on_mig_clicked(self, _item, points, _ev=None) -> None:
        if len(points):
            i = points[0].data()
            if i is not None and 0 <= i < len(self._mig_points):
                self.run_requested.emit(self._mig_points[i][0])

    # -- the grid ----------------------------------------------------------------------------------
    def _update_grid(self) -> None:
        members = self.grid_members()
        ready = [r for r in members if r.model is not None and not r.is_active]
        ds = next((r.dataset for r in members if r.dataset is not None), None)
        if not members or len(ready) < len(members) or ds is None or len(ds.test) == 0:
            self._grid, self._grid_key = None, None
            self.grid_view.clear_images()
            self._set_row_labels([])
            self.grid_caption.setText(
                "No member took a step: there are no weights to compare (the header says why)."
                if self.members and not members else
                "The comparison grid appears when the sweep has ended (one row per β: "
                "reconstructions, then prior samples).")
            return
        key = tuple((r.id, id(r.model)) for r in members)
        if key != self._grid_key:
            from latent_explorer.training.metrics.sweep_report import comparison_grid

            self._grid = comparison_grid([r.model for r in members], ds.test)
            self._grid_key = key
            self.grid_view.set_grid(self._grid, cell=ds.test.image_shape[1:])
            h, w = self._grid.shape[:2]  # (H, W) grey or (H, W, 3) colour
            margin = 105  # room for the row labels left of the mosaic
            self.grid_view.view.setRange(xRange=(-margin, w), yRange=(0, h), padding=0.01)
            self._set_row_labels(["test images", *[self.label_of(r) for r in members]])
        self.grid_caption.setText("Left: the same 8 test images reconstructed by each β "
                                  "(top row: the originals). Right: each β decoding the same 8 "
                                  "prior codes (z ~ N(0, I), or the same noise in a "
                                  "VampPrior's components).")

    def grid_members(self) -> list[Run]:
        """The members with a row in the comparison grid: all but those that never started
        (they have no weights to decode with)."""
        return [r for r in self.members if not never_started(r)]

    def _set_row_labels(self, labels: list[str]) -> None:
        while len(self._row_labels) < len(labels):
            t = pg.TextItem(color="#222222", anchor=(1.0, 0.5))
            self.grid_view.view.addItem(t)
            self._row_labels.append(t)
        for i, t in enumerate(self._row_labels):
            if i < len(labels):
                t.setText(labels[i])
                t.setPos(-3, self.grid_view.cell_middle(i))  # the cells' own height
                t.setVisible(True)
            else:
                t.setVisible(False)

    def row_label_texts(self) -> list[str]:
        return [t.toPlainText() for t in self._row_labels if t.isVisible()]

    def row_label_heights(self) -> list[float]:
        """Where each shown row label sits (its y in the grid's pixels), top row first."""
        return [t.pos().y() for t in self._row_labels if t.isVisible()]

    def export_grid(self) -> np.ndarray | None:
        return self._grid

    def default_file_name(self) -> str:
        return "sweep_grid.png"

    def save_png(self, path: str | Path) -> Path | None:
        """The comparison grid with its rows labelled and headings (as the CLI's grid.png)."""
        from latent_explorer.training.metrics.sweep_report import save_labelled_grid

        if self._grid is None:
            return None
        return save_labelled_grid(self._grid, ["test images", *[self.label_of(r)
                                                               for r in self.grid_members()]], path,
                                  cell=self.grid_view.cell[0])

    # -- the table ---------------------------------------------------------------------------------
    def _update_table(self) -> None:
        from latent_explorer.training.metrics.sweep_report import BEST_MEANINGS, GOOD_QUALITY, no_good_quality

        rows = self.summary_rows()
        best = self.best()
        t = self.table
        t.setRowCount(len(rows))
        bold = QFont(t.font())
        bold.setBold(True)
        for i, (r, s) in enumerate(zip(self.members, rows)):
            quality = NONE if s.quality is None else f"{s.quality:.0%}"
            bound = _fmt(s.iw_bound)
            if best["quality"] is r:
                quality += "  ★ best quality"
            if best["bound"] is r:
                bound += "  ★ best bound"
            state = ("never started" if never_started(r) else s.state) + (" ⚠" if s.error else "")
            cells = (f"{s.beta:g}", str(s.seed), state, _fmt(s.bce, 4), _fmt(s.rate),
                     _fmt(s.distortion), _fmt(s.neg_elbo), bound, quality,
                     "" if s.active_dims is None else str(s.active_dims))
            for c, text in enumerate(cells):
                item = t.item(i, c)
                if item is None:
                    item = QTableWidgetItem()
                    t.setItem(i, c, item)
                item.setText(text)
                if c >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                is_best = (c == COL_QUALITY and best["quality"] is r) or \
                          (c == COL_BOUND and best["bound"] is r)
                item.setBackground(QBrush(BEST_BRUSH) if is_best else QBrush())
                item.setFont(bold if (is_best or r is self.run) else t.font())
                item.setToolTip(s.error or "")
        poor = no_good_quality(rows)
        lines = []
        for key in ("quality", "bound"):
            r = best[key]
            who = f"<b>{escape(self.label_of(r))}</b>" if r is not None else "not measured yet"
            if key == "quality" and poor is not None:
                lines.append(f"Sample quality: <b>no member's samples are good</b> (the best is "
                             f"{poor:.0%}; below {GOOD_QUALITY:.0%} none is crowned)")
                continue
            lines.append(f"★ {escape(BEST_MEANINGS[key])}: {who}")
        self.best_label.setText("<br>".join(lines))

    def _on_table_cell_clicked(self, row_: int, _col: int) -> None:
        if 0 <= row_ < len(self.members):
            self.run_requested.emit(self.members[row_])

    # -- the header ----------------------------------------------------------------------------
    def _update_header(self) -> None:
        members = self.members
        run = self.run
        active = sum(r.is_active for r in members)
        never = [r for r in members if never_started(r)]
        failed = sum(RunState(r.state) == RunState.FAILED and not never_started(r)
                     for r in members)
        ds = next((r.dataset for r in members if r.dataset is not None), None)
        parts = [f"<b>{escape(run.group)}</b>: {len(members)} members "
                 f"({run.model_label}, nz = {run.config.nz}, {run.config.epochs} epochs"
                 + (f", on {escape(ds.name)}" if ds is not None else "") + ")"]
        if active:
            epoch = max((r.epochs_done for r in members), default=0)
            parts.append(f"training: epoch {epoch}/{run.config.epochs} — the points move at "
                         "every epoch end")
        if never:
            why = never_started_reasons(never)
            parts.append(f"<span style='color:#d62728'>{escape(_shorten(why))}</span>")
        if failed:
            parts.append(f"<span style='color:#d62728'>{failed} failed (kept their last good "
                         "weights)</span>")
        acc = next((r.measures["judge_accuracy"] for r in members
                    if "judge_accuracy" in r.measures), None)
        if acc is not None:
            parts.append(f"judge of sample quality: {acc:.1%} test accuracy")
        elif not active and any(r.model is not None for r in members):
            # Only while something will be scored: with no member's weights, nothing will.
            parts.append("judge of sample quality: training… (the quality column fills in "
                         "when it is ready)")
        self.header.setText(" · ".join(parts))
        self.header.setToolTip(never_started_reasons(never) if never else "")

    # -- exports -------------------------------------------------------------------------------
    def save_plane_png(self, path: str | Path) -> Path | None:
        """The plane as drawn (a grab of the plot widget)."""
        if not self._points:
            return None
        p = Path(path)
        if not self.plot.grab().save(str(p), "PNG"):
            raise OSError(f"{p}: the image could not be written")
        return p

    def save_csv(self, path: str | Path) -> Path | None:
        """The table as the CLI's summary.csv (training.metrics.sweep_report.write_summary_csv)."""
        from latent_explorer.training.metrics.sweep_report import write_summary_csv

        if not self.members:
            return None
        return write_summary_csv(path, self.summary_rows())

    # The modal dialog lives in a method tests can replace, so a test never blocks on it.
    def ask_path(self, title: str, suggested: str, filter_: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, filter_)
        return path or None

    def _group_file_stem(self) -> str:
        g = self.run.group if self.run is not None else "sweep"
        return "".join(c if c.isalnum() or c in "-_=." else "_" for c in g).strip("_")

    def _on_save_plane_clicked(self) -> None:
        path = self.ask_path("Save the rate–distortion plane",
                              f"{self._group_file_stem()}_rate_distortion.png", "PNG images (*.png)")
        if path:
            self.save_plane_png(path if path.lower().endswith(".png") else path + ".png")

    def ask_save_path(self, suggested: str) -> str | None:
        return self.ask_path("Save the comparison grid", suggested, "PNG images (*.png)")

    def _on_save_csv_clicked(self) -> None:
        path = self.ask_path("Save the sweep's table", f"{self._group_file_stem()}_summary.csv",
                              "CSV files (*.csv)")
        if path:
            self.save_csv(path if path.lower().endswith(".csv") else path + ".csv")


__all__ = ["NONE", "SweepPanel", "never_started", "never_started_reasons"]
