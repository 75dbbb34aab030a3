"""The run list: one row per run (name, sweep, kind, β, nz, epochs, state, progress, test
metrics, and the IW bound and sample quality once the background scorer has measured them).

A sweep's members are added together, so its rows stay together; the Sweep column names it.

A Qt model over the window's list of Run objects, a progress-bar delegate for running jobs and
a checkbox per row that shows or hides the run's curves. It keeps no copy of a run's state:
progress comes from its source (the session's `progress_of`) when a cell is drawn, and
`progress_changed(run)` repaints those cells at most PROGRESS_INTERVAL_MS apart. No torch at
import.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRect, Qt,
                            QTimer, Signal)
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

if TYPE_CHECKING:
    from latent_explorer.explorer.session.jobs import Progress
    from latent_explorer.training.record.run import Run

COLUMNS = ("Show", "Name", "Sweep", "Model", "β", "nz", "Epochs", "State", "Progress",
           "Test BCE/px", "Test −ELBO", "Test KL", "IW bound", "Quality", "File")
COL_SHOW, COL_NAME, COL_GROUP, COL_KIND, COL_BETA, COL_NZ, COL_EPOCHS, COL_STATE = range(8)
COL_PROGRESS, COL_BCE, COL_ELBO, COL_KL, COL_IW, COL_QUALITY, COL_FILE = range(8, 15)
# Progress next to State, where the run list shows it at the default window size (last, it
# was scrolled off to the right); File is last and stretches.
STATE_COLORS = {"failed": "#d62728", "running": "#31a354", "paused": "#e6550d",
                "queued": "#7f7f7f", "stopped": "#9467bd"}
Index = QModelIndex | QPersistentModelIndex
PROGRESS_INTERVAL_MS = 250  # progress cells repaint 4 times a second at most


def _no_progress(_run: Run) -> Progress | None:
    return None


class RunTableModel(QAbstractTableModel):
    """Rows of runs; the window owns the list and tells the model what changed."""

    rename_requested = Signal(object, str)  # Run, new name (the session renames it)
    visibility_toggled = Signal(object, bool)  # Run, visible
    progress_repainted = Signal()  # the throttled repaint of progress cells just happened

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.runs: list[Run] = []
        self.colors: dict[int, str] = {}
        self.visible: dict[int, bool] = {}
        # Where a run's job is: read when a cell is drawn, never copied (set_progress_source).
        self.progress_of: Callable[[Run], Progress | None] = _no_progress
        self._swatches: dict[str, QIcon] = {}
        self._moved: set[int] = set()  # ids of runs whose progress moved since the last repaint
        self._progress_timer = QTimer(self, singleShot=True, interval=PROGRESS_INTERVAL_MS)
        self._progress_timer.timeout.connect(self.repaint_progress)

    # -- editing the list ------------------------------------------------------------------------
    def add_run(self, run: Run, color: str) -> None:
        row = len(self.runs)
        self.beginInsertRows(QModelIndex(), row, row)
        self.runs.append(run)
        self.colors[run.id] = color
        self.visible.setdefault(run.id, True)
        self.endInsertRows()

    def remove_run(self, run: Run) -> None:
        row = self.row_of(run)
        if row < 0:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        self.runs.pop(row)
        self.colors.pop(run.id, None)
        self.visible.pop(run.id, None)
        self._moved.discard(run.id)
        self.endRemoveRows()

    def row_of(self, run: Run) -> int:
        return next((i for i, r in enumerate(self.runs) if r is run), -1)

    def run_at(self, row: int) -> Run | None:
        return self.runs[row] if 0 <= row < len(self.runs) else None

    def refresh(self, run: Run, columns: tuple[int, ...] | None = None) -> None:
        """Tell the view a run's row changed (all columns, or just those given)."""
        row = self.row_of(run)
        if row < 0:
            return
        if columns:
            for c in columns:
                i = self.index(row, c)
                self.dataChanged.emit(i, i)
        else:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    # -- sorting and filtering (the math is Qt-free: run_sort_key, run_matches) ----------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by `column` (a click on its header); runs added later go last.
        Selection and editors follow their runs (persistent indexes)."""
        self.layoutAboutToBeChanged.emit()
        old = list(self.runs)
        key = lambda r: run_sort_key(r, column, self)  # noqa: E731
        present = [r for r in old if not _missing(key(r))]
        missing = [r for r in old if _missing(key(r))]
        present.sort(key=key, reverse=order == Qt.SortOrder.DescendingOrder)
        self.runs = present + missing  # runs without the value stay last either way
        row_of = {id(r): i for i, r in enumerate(self.runs)}
        for idx in self.persistentIndexList():
            if idx.isValid():
                r = old[idx.row()]
                self.changePersistentIndex(idx, self.index(row_of[id(r)], idx.column()))
        self.layoutChanged.emit()

    # -- progress (the session's; a few repaints a second) ---------------------------------------
    def set_progress_source(self, progress_of: Callable[[Run], Progress | None]) -> None:
        """Read each run's progress from `progress_of` (the session's) from now on."""
        self.progress_of = progress_of
        if self.runs:
            self.dataChanged.emit(self.index(0, COL_PROGRESS),
                                  self.index(len(self.runs) - 1, COL_PROGRESS))

    def progress_changed(self, run: Run) -> None:
        """`run`'s progress moved: its cells repaint within PROGRESS_INTERVAL_MS (every
        repaint costs GUI time, and steps arrive ten times a second per run)."""
        self._moved.add(run.id)
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def repaint_progress(self) -> None:
        """Repaint the progress and epoch cells of the runs that moved, now."""
        self._progress_timer.stop()
        moved, self._moved = self._moved, set()
        for run in self.runs:
            if run.id in moved:
                self.refresh(run, (COL_PROGRESS, COL_EPOCHS))
        self.progress_repainted.emit()

    # -- Qt model API ----------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            from latent_explorer.explorer.session.scorer_text import IW_TOOLTIP, QUALITY_TOOLTIP

            return {COL_SHOW: "Show this run's curves in the plots",
                    COL_GROUP: "The β sweep this run is a member of (its Sweep tab compares them)",
                    COL_IW: IW_TOOLTIP, COL_QUALITY: QUALITY_TOOLTIP,
                    COL_BCE: "Mean per-pixel binary cross-entropy of test reconstructions",
                    COL_ELBO: "Negative ELBO on the test set, nats per image (β = 1)",
                    COL_KL: "KL(q(z|x) ‖ p(z)) on the test set, nats per image"}.get(section)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == COL_SHOW:
            f |= Qt.ItemFlag.ItemIsUserCheckable
        if index.column() == COL_NAME:
            f |= Qt.ItemFlag.ItemIsEditable
        return f

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        run = self.run_at(index.row())
        if run is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(run, col)
        if role == Qt.ItemDataRole.EditRole and col == COL_NAME:
            return run.name
        if role == Qt.ItemDataRole.CheckStateRole and col == COL_SHOW:
            return (Qt.CheckState.Checked if self.visible.get(run.id, True)
                    else Qt.CheckState.Unchecked)
        if role == Qt.ItemDataRole.DecorationRole and col == COL_SHOW:
            return self._swatch(self.colors.get(run.id, "#7f7f7f"))
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATE:
            c = STATE_COLORS.get(run.state)
            return QBrush(QColor(c)) if c else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_STATE and run.error:
                return run.error
            if col == COL_FILE and run.path:
                return str(run.path)
            if col == COL_PROGRESS and self.progress_of(run) is not None:
                return self.progress_text(run)
            if col == COL_NAME:
                factors = factor_tooltip(run)
                return run.name + (f"\n{factors}" if factors else "")
            if col == COL_KIND:
                return run.model_label
            target = getattr(run.config, "target_rate", None)
            if col == COL_BETA and target is not None and run.is_variational:
                return (f"* steered each step towards a rate of {target:g} nats, from "
                        f"β = {run.config.beta:g}; this is its latest β")
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_BETA, COL_NZ, COL_EPOCHS,
                                                                 COL_BCE, COL_ELBO, COL_KL,
                                                                 COL_IW, COL_QUALITY):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        run = self.run_at(index.row())
        if run is None:
            return False
        if index.column() == COL_NAME and role == Qt.ItemDataRole.EditRole:
            name = str(value).strip()
            if not name or name == run.name:
                return False
            self.rename_requested.emit(run, name)
            return True
        if index.column() == COL_SHOW and role == Qt.ItemDataRole.CheckStateRole:
            visible = Qt.CheckState(value) == Qt.CheckState.Checked
            self.visible[run.id] = visible
            self.dataChanged.emit(index, index)
            self.visibility_toggled.emit(run, visible)
            return True
        return False

    # -- helpers ---------------------------------------------------------------------------------
    def _display(self, run: Run, col: int) -> str | None:
        c = run.config
        m = run.metrics
        if col == COL_NAME:
            return run.name
        if col == COL_KIND:
            return run.model_label
        if col == COL_BETA:
            if not run.is_variational:
                return "—"
            if getattr(c, "target_rate", None) is not None:  # steered: the β it trains at now
                h = run.history
                beta = float(h.beta[-1]) if h.has_beta else c.beta
                return f"{beta:.2g}*"
            return f"{c.beta:g}"
        if col == COL_NZ:
            return str(c.nz)
        if col == COL_EPOCHS:
            return f"{run.epochs_done}/{c.epochs}"
        if col == COL_STATE:
            return f"{run.state}" + (" ⚠" if run.error else "")
        if col == COL_PROGRESS:  # an ended run's in short (the tooltip has it all)
            return self.progress_text(run, short=not run.is_active)
        if col == COL_BCE:
            return f"{m.bce:.4f}" if m else ""
        if col == COL_ELBO:
            return f"{m.neg_elbo:.1f}" if m and m.neg_elbo is not None else ""
        if col == COL_KL:
            return f"{m.kl:.1f}" if m and m.kl is not None else ""
        if col == COL_GROUP:
            return run.group
        if col == COL_IW:
            v = run.measures.get("iw_bound")
            return f"{v:.1f}" if v is not None else ""
        if col == COL_QUALITY:
            v = run.measures.get("quality")
            return f"{v:.0%}" if v is not None else ""
        if col == COL_FILE:
            if run.folder is not None:  # in the workspace: on disk from its first step
                return run.folder.name
            if run.model is None:
                return ""
            return run.path.name if run.saved and run.path else "unsaved"
        return None

    def progress_text(self, run: Run, short: bool = False) -> str:
        """'epoch 2/10 · step … · steps/s · ETA' while active; how far it got once ended."""
        p = self.progress_of(run)
        if p is None:
            if run.state == "queued":
                return "waiting for a free slot"
            n = len(run.history)  # a loaded run: how far its history got, as for the others
            return f"{run.state} · {n:,} steps" if n and not run.is_active else ""
        if run.is_active:
            return p.text(short, paused=run.state == "paused")  # paused: no ETA
        if short:
            return f"{run.state} · {p.step:,} steps"
        return f"{run.state} · epoch {p.epoch}/{p.epochs} · {p.step:,} steps"

    def _swatch(self, color: str) -> QIcon:
        icon = self._swatches.get(color)
        if icon is None:
            pm = QPixmap(12, 12)
            pm.fill(QColor(color))
            icon = self._swatches[color] = QIcon(pm)
        return icon


_MISSING = (1,)


def _missing(key) -> bool:
    return key == _MISSING


def run_sort_key(run: Run, column: int, model: RunTableModel | None = None):
    """What the run list sorts `run` by in `column`: numbers as numbers, text without case;
    `_MISSING` where the run has no value (sorted last)."""
    m, measures = run.metrics, run.measures
    numeric = {
        COL_BETA: run.beta if run.is_variational else None, COL_NZ: run.config.nz,
        COL_EPOCHS: run.epochs_done, COL_PROGRESS: run.epochs_done,
        COL_BCE: m.bce if m else None, COL_ELBO: m.neg_elbo if m else None,
        COL_KL: m.kl if m else None, COL_IW: measures.get("iw_bound"),
        COL_QUALITY: measures.get("quality"),
        COL_SHOW: int(model.visible.get(run.id, True)) if model is not None else None,
    }
    if column in numeric:
        v = numeric[column]
        return _MISSING if v is None else (0, float(v))
    text = {COL_NAME: run.name, COL_GROUP: run.group, COL_KIND: run.model_label,
            COL_STATE: str(run.state)}.get(column)
    if text is None and model is not None:
        text = model.data(model.index(model.row_of(run), column))
    return _MISSING if not text else (0, str(text).casefold())


def factor_tooltip(run: Run) -> str:
    """'MIG 0.21 (disentanglement_lib)' and the most informative dims, once the Factors tab's
    scorer has scored the run's weights ('' before, and for data without factors or labels).
    The scorer's module is asked only once loaded: until then nothing is scored (no torch)."""
    mod = sys.modules.get("latent_explorer.explorer.session.disentangle_runner")
    scores = mod.known_scores(run) if mod is not None else None
    return scores.tooltip() if scores is not None else ""


def run_words(run: Run) -> str:
    """What the run list's filter matches: name, kind, architecture, prior, dataset, state,
    sweep and β, lower-case."""
    c = run.config
    words = [run.name, run.model_label, c.kind, getattr(c, "arch", ""), getattr(c, "prior", ""),
             run.dataset.name if run.dataset is not None else c.dataset, str(run.state),
             run.group, f"β={run.beta:g} beta={run.beta:g}" if run.is_variational else "",
             f"nz={c.nz}"]
    return " ".join(w for w in words if w).casefold()


def run_matches(run: Run, text: str) -> bool:
    """Whether `run` shows under the filter `text`: every word of it appears (β=0.01, conv,
    interrupted, the sweep's name...); an empty filter shows every run."""
    hay = run_words(run)
    return all(word in hay for word in text.casefold().split())


class ProgressDelegate(QStyledItemDelegate):
    """Draws an active job's progress as a bar with epoch, step, steps/s and ETA."""

    def __init__(self, model: RunTableModel, parent=None) -> None:
        super().__init__(parent)
        self._model = model

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        run = self._model.run_at(index.row())
        p = self._model.progress_of(run) if run is not None else None
        if p is None or not run.is_active:  # an ended run: how far it got, as plain text
            super().paint(painter, option, index)
            return
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(option.rect.adjusted(2, 2, -2, -2))
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = 0 if math.isnan(p.fraction) else int(p.fraction * 1000)
        bar.text = self.bar_text(run, option.fontMetrics, option.rect.width() - 8)
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.palette = option.palette
        bar.fontMetrics = option.fontMetrics
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)

    def bar_text(self, run: Run, fm, width: int) -> str:
        """The bar's text within `width` px: in full, else short (the tooltip has it all), else
        elided at its end: centred text wider than the bar lost both its ends ('aused · …')."""
        text = self._model.progress_text(run)
        if fm.horizontalAdvance(text) > width:
            text = self._model.progress_text(run, short=True)
        return fm.elidedText(text, Qt.TextElideMode.ElideRight, width)


FROZEN_COLUMNS = (COL_SHOW, COL_NAME)  # stay in view while the others scroll sideways


class RunTable(QTableView):
    """The run list view: single selection, rename in place (F2 or double-click).

    Show and Name stay put while the other columns scroll sideways, as in Qt's "Frozen Column"
    example: a second view over the same model and selection (`frozen`) shows just those
    columns, laid over the table's left edge; widths, rows and scrolling are kept in step.
    """

    selected_run_changed = Signal(object)  # Run or None

    def __init__(self, model: RunTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.run_model = model
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setAlternatingRowColors(True)
        self.setItemDelegateForColumn(COL_PROGRESS, ProgressDelegate(model, self))
        self.verticalHeader().hide()
        self.setWordWrap(False)
        h = self.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setStretchLastSection(True)
        fm = self.fontMetrics()
        widths = {COL_SHOW: "Show  ", COL_NAME: "VAE β=0.005 nz=32 #10", COL_KIND: "VAE · Conv  ",
                  COL_GROUP: "sweep 1: VAE β×7", COL_IW: "IW bound ", COL_QUALITY: "Quality ",
                  COL_BETA: "0.00065* ", COL_NZ: "4096 ", COL_EPOCHS: "100/100  ",
                  COL_STATE: "finished ⚠ ",
                  COL_BCE: "Test BCE/px ", COL_ELBO: "Test −ELBO ", COL_KL: "Test KL  ",
                  COL_FILE: "unsaved  "}
        for col, sample in widths.items():
            self.setColumnWidth(col, fm.horizontalAdvance(sample) + 16)
        # File is last and stretches over what is left; below this it scrolls sideways.
        h.setMinimumSectionSize(fm.horizontalAdvance("Show") + 12)
        self.setColumnWidth(COL_PROGRESS, fm.horizontalAdvance("epoch 10/10 · step 9,380/9,380"))
        # Rows as tall as the text needs (the style's default is half as tall again): more
        # runs in view on a small screen.
        self.verticalHeader().setDefaultSectionSize(fm.height() + 8)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.frozen = self._frozen_view()
        self.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.setSortingEnabled(True)
        h.setSortIndicatorShown(False)  # until the user sorts: the order runs were added
        h.sortIndicatorChanged.connect(lambda *_: h.setSortIndicatorShown(True))
        self.filter_text = ""
        self._any_hidden = False
        for signal in (model.rowsInserted, model.layoutChanged, model.dataChanged,
                       model.modelReset):
            signal.connect(self._apply_filter)

    def set_filter(self, text: str) -> None:
        """Show only the runs every word of `text` matches (run_matches)."""
        self.filter_text = text
        self._apply_filter()

    def shown_runs(self) -> list[Run]:
        """The runs the list shows now, top to bottom."""
        return [r for i, r in enumerate(self.run_model.runs) if not self.isRowHidden(i)]

    def _apply_filter(self, *_args) -> None:
        text = self.filter_text
        if not text and not self._any_hidden:
            return  # no filter: nothing to do on each progress update
        any_hidden = False
        for row, run in enumerate(self.run_model.runs):
            hide = bool(text) and not run_matches(run, text)
            any_hidden |= hide
            if self.isRowHidden(row) != hide:
                self.setRowHidden(row, hide)
                self.frozen.setRowHidden(row, hide)
        self._any_hidden = any_hidden

    def selected_run(self) -> Run | None:
        rows = self.selectionModel().selectedRows()
        return self.run_model.run_at(rows[0].row()) if rows else None

    def select_run(self, run: Run | None) -> None:
        if run is None:
            self.clearSelection()
            return
        row = self.run_model.row_of(run)
        if row >= 0:
            self.selectRow(row)

    def _on_selection_changed(self, *_args) -> None:
        self.selected_run_changed.emit(self.selected_run())

    # -- the frozen columns ------------------------------------------------------------------------
    def _frozen_view(self) -> QTableView:
        f = QTableView(self)
        f.setObjectName("frozen run columns")
        f.setModel(self.model())
        f.setSelectionModel(self.selectionModel())
        f.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        f.setSelectionBehavior(self.selectionBehavior())
        f.setSelectionMode(self.selectionMode())
        f.setEditTriggers(self.editTriggers())
        f.setAlternatingRowColors(True)
        f.setWordWrap(False)
        f.setFrameShape(QFrame.Shape.NoFrame)
        f.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        f.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        f.verticalHeader().hide()
        f.verticalHeader().setDefaultSectionSize(self.verticalHeader().defaultSectionSize())
        f.horizontalHeader().setStretchLastSection(False)
        f.horizontalHeader().setMinimumSectionSize(self.horizontalHeader().minimumSectionSize())
        for col in range(self.model().columnCount()):
            f.setColumnHidden(col, col not in FROZEN_COLUMNS)
        for col in FROZEN_COLUMNS:
            f.setColumnWidth(col, self.columnWidth(col))
        self.viewport().stackUnder(f)
        # A line between the frozen columns and those scrolling under them.
        self._frozen_edge = QFrame(self)
        self._frozen_edge.setFrameShape(QFrame.Shape.VLine)
        self._frozen_edge.setFrameShadow(QFrame.Shadow.Plain)
        self._frozen_edge.setForegroundRole(QPalette.ColorRole.Mid)
        self._frozen_edge.setFixedWidth(1)
        self.horizontalHeader().sectionResized.connect(self._on_section_resized)
        f.horizontalHeader().sectionResized.connect(self._on_frozen_section_resized)
        f.verticalScrollBar().valueChanged.connect(self.verticalScrollBar().setValue)
        self.verticalScrollBar().valueChanged.connect(f.verticalScrollBar().setValue)
        f.show()
        return f

    def frozen_width(self) -> int:
        return sum(self.columnWidth(c) for c in FROZEN_COLUMNS if not self.isColumnHidden(c))

    def _update_frozen_geometry(self) -> None:
        vp = self.viewport().geometry()
        header = self.horizontalHeader()
        width = min(self.frozen_width(), vp.width())
        self.frozen.horizontalHeader().setFixedHeight(header.height())
        self.frozen.setGeometry(vp.left(), header.geometry().top(), width,
                                vp.bottom() - header.geometry().top() + 1)
        self._frozen_edge.setGeometry(vp.left() + width - 1, header.geometry().top(), 1,
                                      self.frozen.height())
        self._frozen_edge.raise_()

    def _on_section_resized(self, col: int, _old: int, new: int) -> None:
        if col in FROZEN_COLUMNS and self.frozen.columnWidth(col) != new:
            self.frozen.setColumnWidth(col, new)
        self._update_frozen_geometry()

    def _on_frozen_section_resized(self, col: int, _old: int, new: int) -> None:
        if self.columnWidth(col) != new:
            self.setColumnWidth(col, new)  # the user widened Name on the frozen header

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_frozen_geometry()

    def updateGeometries(self) -> None:
        super().updateGeometries()
        if hasattr(self, "frozen"):
            self._update_frozen_geometry()

    def edit(self, index, trigger=QAbstractItemView.EditTrigger.AllEditTriggers, event=None):
        """Rename in the frozen view, which lies over the table's own Name cells."""
        if index.isValid() and index.column() in FROZEN_COLUMNS and hasattr(self, "frozen"):
            if trigger in (QAbstractItemView.EditTrigger.AllEditTriggers,
                           QAbstractItemView.EditTrigger.EditKeyPressed):
                self.frozen.edit(index)
                return self.frozen.state() == QAbstractItemView.State.EditingState
            return False
        return super().edit(index, trigger, event)

    def scrollTo(self, index, hint=QAbstractItemView.ScrollHint.EnsureVisible) -> None:
        """Rows scroll into view; a frozen cell never scrolls the columns sideways, and another
        is brought out from under the frozen ones."""
        bar = self.horizontalScrollBar()
        before = bar.value()
        super().scrollTo(index, hint)
        if not index.isValid() or index.column() in FROZEN_COLUMNS:
            bar.setValue(before)
            return
        hidden = self.frozen_width() - self.columnViewportPosition(index.column())
        if hidden > 0:
            bar.setValue(bar.value() - hidden)
