"""The Factors tab: what each latent dimension encodes, against the dataset's known factors.

A heat map of the mutual information between each latent dimension (rows, sorted by their
largest MI or grouped by factor: `sorted_dimensions`) and each generative factor (columns),
every row labelled with the factor it carries most about; each cell says the MI in nats and is
coloured by MI / H(factor), the share of the factor's entropy the dimension carries (the
normalisation MIG uses), so a two-value factor fully captured is as bright as a 32-value one; beside it MIG overall
and per factor and DCI's disentanglement, completeness and informativeness, with the
convention they follow in one line underneath (disentanglement_lib's, so the numbers compare
with its tables).

Scores come from the background scorer (explorer/session/disentangle_runner.py): this tab owns
it, queues every ended run it is given that has factors (the sprites sources) or class labels
(the label as the one factor "class"), and redraws when the selected run's scores arrive. The
scores land in the process's shared store, where the Latent map's sliders, the run list's
tooltip and the Sweep tab read them too. It follows training (`follows_training`): a run still
training can be scored on demand from its epoch-end weights; timeline snapshots cannot (they
keep no codes or weights), which the tab says.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from latent_explorer.explorer.panels.base import Panel, row, run_caption
from latent_explorer.explorer.session.disentangle_runner import (
    DCI_CONVENTION,
    MIG_CONVENTION,
    SNAPSHOT_NOTE,
    DisentangleRunner,
    FactorScores,
    factor_source,
    no_factors_reason,
    shared_factor_scores,
    token_of,
)
from latent_explorer.training.metrics.disentanglement import sorted_dimensions
from latent_explorer.training.record.run import Run

ORDERS = (("largest MI first", "mi"), ("grouped by factor", "factor"))
FACTOR_COLUMNS = ("factor", "H (nats)", "top dim", "MI (nats)", "MIG", "DCI C", "DCI I")
MAX_CELL_TEXTS = 400  # cells written with their MI; a bigger map is colour only
COLOR_MAP = "viridis"


def _fmt(v: float | None, digits: int = 2) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


class FactorsPanel(Panel):
    """The selected run's MI heat map (latent dims × factors), MIG and DCI."""

    title = "Factors"
    follows_training = True  # given every run: it queues ended ones and waits while any trains

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = shared_factor_scores()
        self.runner = DisentangleRunner(self.store, parent=self)
        self.scores: FactorScores | None = None  # what is drawn
        self.rows: np.ndarray = np.zeros(0, np.int64)  # the heat map's dims, top row first
        self._drawn_key: tuple | None = None
        self._cell_texts: list[pg.TextItem] = []
        self._row_texts: list[str] = []
        self._col_texts: list[str] = []

        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.order_box = QComboBox()
        for text, _key in ORDERS:
            self.order_box.addItem(text)
        self.order_box.setToolTip("Order of the heat map's rows (training.metrics."
                                  "disentanglement.sorted_dimensions)")
        self.order_box.currentIndexChanged.connect(lambda _i: self._redraw(force=True))
        self.score_button = QPushButton("Score these weights")
        self.score_button.setToolTip("Score the copy of the weights taken at the last epoch end "
                                     "now, while the run trains on")
        self.score_button.clicked.connect(self._on_score_clicked)
        self.save_button.setText("Save heat map PNG…")
        self.save_button.setToolTip("Save the heat map as drawn, as a PNG")

        # -- the heat map --
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumSize(300, 240)
        pi = self.plot.getPlotItem()
        pi.setMenuEnabled(False)
        pi.hideButtons()
        pi.vb.setMouseEnabled(False, False)
        pi.vb.invertY(True)  # the first row at the top
        pi.setLabel("bottom", "generative factor")
        pi.setLabel("left", "latent dimension")
        for side in ("left", "bottom"):  # named ticks: no "(x0.001)" scale in the axis label
            pi.getAxis(side).enableAutoSIPrefix(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(COLOR_MAP))
        pi.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(COLOR_MAP),
                                        label="MI / H(factor)", interactive=False, width=14)
        self.colorbar.setImageItem(self.image, insert_in=pi)

        # -- the scores --
        self.mig_label = QLabel()
        self.mig_label.setTextFormat(Qt.TextFormat.RichText)
        self.mig_label.setWordWrap(True)
        self.dci_label = QLabel()
        self.dci_label.setTextFormat(Qt.TextFormat.RichText)
        self.dci_label.setWordWrap(True)
        self.table = QTableWidget(0, len(FACTOR_COLUMNS))
        self.table.setHorizontalHeaderLabels(FACTOR_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        tips = {1: "Entropy of the factor's values in the scored test images",
                2: "The latent dimension with the largest MI about this factor",
                4: "(top MI − second MI) / H(factor)",
                5: "DCI completeness of this factor: 1 − entropy of its importance over dims",
                6: "Held-out accuracy of predicting this factor from the codes"}
        for c, tip in tips.items():
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.convention = QLabel(f"<small>{escape(MIG_CONVENTION)}<br>{escape(DCI_CONVENTION)}"
                                 "</small>")
        self.convention.setWordWrap(True)
        self.convention.setTextFormat(Qt.TextFormat.RichText)
        self.snapshot_note = QLabel(f"<small>{escape(SNAPSHOT_NOTE)}</small>")
        self.snapshot_note.setWordWrap(True)
        self.snapshot_note.setTextFormat(Qt.TextFormat.RichText)
        scores_box = QWidget()
        sl = QVBoxLayout(scores_box)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.mig_label)
        sl.addWidget(self.dci_label)
        sl.addWidget(self.table, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.plot)
        split.addWidget(scores_box)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([560, 480])  # the table's seven columns readable beside the map
        layout = QVBoxLayout(self.content)
        layout.addWidget(self.caption)
        layout.addLayout(row("Rows:", self.order_box, self.score_button, self.save_button))
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        layout.addWidget(self.convention)
        layout.addWidget(self.snapshot_note)

        self.store.changed.connect(self._on_store_changed)

    # -- the contract ----------------------------------------------------------------------------
    def set_runs(self, runs: list[Run]) -> None:
        """Every run (this tab follows training): queue the ended ones that can be scored, and
        let scoring wait while a run trains here (not for a run another process trains in the
        workspace and nobody looks at: that would hold every score back for as long as it
        trains)."""
        super().set_runs(runs)
        # A run another process trains is listed without its model until it is shown.
        self.runner.set_training(any(r.is_active and r.model is not None for r in runs))
        self.runner.request_all(runs)

    def unusable_reason(self, run: Run | None) -> str | None:
        reason = super().unusable_reason(run)
        if reason or run is None:
            return reason
        if factor_source(run.dataset) is None:
            return escape(no_factors_reason(run.dataset, run.name))
        return None

    def shutdown(self) -> None:
        self.runner.shutdown()

    def _update_run(self) -> None:
        run = self.run
        if run is not None and not run.is_active:
            self.runner.request(run)  # not queued yet (it has just ended, or was just loaded)
        self._redraw()

    def _clear(self) -> None:
        self._drawn_key = None
        self._show_scores(None)

    # -- what tests and tools read ---------------------------------------------------------------
    @property
    def order(self) -> str:
        return ORDERS[self.order_box.currentIndex()][1]

    def row_labels(self) -> list[str]:
        """The heat map's row labels as drawn, top row first ('z7 ≈ x', or 'z7')."""
        return list(self._row_texts)

    def column_labels(self) -> list[str]:
        """The heat map's column labels as drawn: the factor names."""
        return list(self._col_texts)

    def heat_map(self) -> np.ndarray | None:
        """The MI matrix as shown: (rows, factors) in nats, rows in `rows` order (the colours
        are these over each factor's entropy)."""
        return None if self.scores is None else self.scores.mi[self.rows]

    # -- drawing ---------------------------------------------------------------------------------
    def _on_store_changed(self, run_id: int) -> None:
        if self.run is not None and run_id == self.run.id and not self.is_showing_hint:
            self._redraw()

    def _redraw(self, force: bool = False) -> None:
        run = self.run
        if run is None or self.is_showing_hint:
            return
        entry = self.store.entry(run)
        key = (run.id, token_of(run), id(entry), entry.state if entry else None,
               self.order, str(run.state), run.snapshot_epoch)
        if key == self._drawn_key and not force:
            return
        self._drawn_key = key
        weights = (f"its weights as of epoch {run.snapshot_epoch}"
                   if run.is_active and run.snapshot_epoch is not None else "")
        self.caption.setText(run_caption(run))
        self.snapshot_note.setVisible(run.timeline is not None)
        self.score_button.setVisible(run.is_active)
        self.score_button.setEnabled(entry is None or entry.state == "failed")
        if entry is not None and entry.state == "scoring":
            self.status.setText(f"Scoring {entry.n_codes:,} codes… (posterior means of test "
                                "images, in the background)")
            self._show_scores(None)
        elif entry is not None and entry.state == "failed":
            self.status.setText(f"<span style='color:#d62728'>Scoring failed: "
                                f"{escape(entry.error)}</span>")
            self._show_scores(None)
        elif entry is None or entry.scores is None:
            if run.is_active:
                self.status.setText(f"{escape(run.name)} is training: it is scored when it ends. "
                                    f"<b>Score these weights</b> scores {weights or 'its weights'} "
                                    "now.")
            else:
                self.status.setText("Not scored yet: queued behind the runs before it.")
            self._show_scores(None)
        else:
            s = entry.scores
            of = f" of {escape(s.what)}" if s.what else ""
            against = ("the class label as the one factor" if s.kind == "labels"
                       else f"{len(s.factor_names)} known factors")
            self.status.setText(f"{s.n_codes:,} test codes{of} scored against {against} "
                                f"in {s.seconds:.1f} s.")
            self._show_scores(s)

    def _show_scores(self, s: FactorScores | None) -> None:
        self.scores = s
        pi = self.plot.getPlotItem()
        for t in self._cell_texts:
            t.setVisible(False)
        if s is None:
            self.rows = np.zeros(0, np.int64)
            self.image.clear()
            self._row_texts, self._col_texts = [], []
            pi.getAxis("left").setTicks([[]])
            pi.getAxis("bottom").setTicks([[]])
            self.mig_label.setText("")
            self.dci_label.setText("")
            self.table.setRowCount(0)
            return
        mi = s.mi
        self.rows = (s.order if self.order == "factor" and len(s.order) == len(mi)
                     else sorted_dimensions(mi, by=self.order))
        shown = mi[self.rows]
        entropy = np.asarray(s.mig.entropy, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(entropy > 0, shown / entropy, 0.0)
        self.image.setImage(np.clip(share, 0.0, 1.0), levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(0, 0, shown.shape[1], shown.shape[0])
        self.colorbar.setLevels((0.0, 1.0))
        self._row_texts = [s.labels[int(d)].short for d in self.rows]
        self._col_texts = list(s.factor_names)
        pi.getAxis("left").setTicks([[(i + 0.5, t) for i, t in enumerate(self._row_texts)]])
        pi.getAxis("bottom").setTicks([[(k + 0.5, t) for k, t in enumerate(self._col_texts)]])
        pi.vb.setRange(xRange=(0, shown.shape[1]), yRange=(0, shown.shape[0]), padding=0.0)
        self._write_cells(shown, share)
        self._fill_scores(s)

    def _write_cells(self, shown: np.ndarray, share: np.ndarray) -> None:
        """Each cell's MI in nats in its middle, dark on bright cells (maps up to
        MAX_CELL_TEXTS cells)."""
        if shown.size > MAX_CELL_TEXTS:
            return
        pi = self.plot.getPlotItem()
        while len(self._cell_texts) < shown.size:
            t = pg.TextItem(anchor=(0.5, 0.5))
            t.setZValue(5)
            pi.addItem(t)
            self._cell_texts.append(t)
        for n, (i, k) in enumerate(np.ndindex(*shown.shape)):
            t = self._cell_texts[n]
            v = float(shown[i, k])
            t.setText(f"{v:.2f}")
            t.setColor("#111111" if share[i, k] > 0.6 else "#f0f0f0")
            t.setPos(k + 0.5, i + 0.5)
            t.setVisible(True)

    def _fill_scores(self, s: FactorScores) -> None:
        m, d = s.mig, s.dci
        varied = int(np.isfinite(m.per_factor).sum())
        self.mig_label.setText(f"<b>MIG {_fmt(m.score, 3)}</b> (disentanglement_lib): the mean "
                               f"of the MIG column over {varied} factor"
                               f"{'' if varied == 1 else 's'} that vary")
        if d is None:
            self.dci_label.setText(f"DCI: not computed ({escape(s.dci_problem)})")
        else:
            self.dci_label.setText(f"<b>DCI</b>: disentanglement {_fmt(d.disentanglement, 3)}, "
                                   f"completeness {_fmt(d.completeness, 3)}, informativeness "
                                   f"{_fmt(d.informativeness, 3)} (held-out accuracy)")
        t = self.table
        t.setRowCount(len(s.factor_names))
        for k, name in enumerate(s.factor_names):
            dim = int(m.top_dims[k])
            cells = (name, _fmt(float(m.entropy[k])), f"z{dim}", _fmt(float(m.mi[dim, k])),
                     _fmt(float(m.per_factor[k]), 3),
                     _fmt(float(d.per_factor[k]), 3) if d is not None else "—",
                     _fmt(float(d.informativeness_per_factor[k]), 3) if d is not None else "—")
            for c, text in enumerate(cells):
                item = t.item(k, c)
                if item is None:
                    item = QTableWidgetItem()
                    t.setItem(k, c, item)
                item.setText(text)
                if c > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)

    # -- actions ---------------------------------------------------------------------------------
    def _on_score_clicked(self) -> None:
        if self.run is not None and self.runner.request(self.run, force=True):
            self._redraw()

    def save_png(self, path: str | Path) -> Path | None:
        """The heat map as drawn (a grab of the plot)."""
        if self.scores is None:
            return None
        p = Path(path)
        if not self.plot.grab().save(str(p), "PNG"):
            raise OSError(f"{p}: the image could not be written")
        return p

    def default_file_name(self) -> str:
        return "factors_heat_map.png"


__all__ = ["FactorsPanel"]
