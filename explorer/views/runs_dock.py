"""The Runs dock: the run list, a line about the selected run, and the buttons acting on it."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from latent_explorer.explorer.views.run_table import RunTable, RunTableModel
from latent_explorer.explorer.widgets.flow_layout import FlowLayout

MIN_ROWS = 2  # the run list's least height, in rows

if TYPE_CHECKING:
    from latent_explorer.training.record.run import Run


def details_html(run: Run | None, n_runs: int) -> str:
    """The selected run's state, error, metrics, data and file; or what to do first."""
    if run is None:
        if n_runs:
            return "Select a run to explore it in the panel tabs."
        return ("No runs yet: set the hyper-parameters on the left and press Train, or open a "
                "checkpoint (Ctrl+O).")
    parts = [f"<b>{escape(run.name)}</b>: {run.state}"]
    if run.error:
        parts.append(f"<span style='color:#d62728'>{escape(run.error)}</span>")
    if run.metrics is not None:
        parts.append(escape(run.metrics.summary()))
    if run.dataset is not None:
        parts.append(escape(run.dataset.description))
    if run.path is not None:
        parts.append(("saved to " if run.saved else "from ") + escape(str(run.path)))
    elif run.model is not None and not run.is_active:
        parts.append("not saved yet")
    parts.extend(f"<i>{escape(n)}</i>" for n in run.notices)
    return " · ".join(parts)


class RunsPanel(QWidget):
    """Run list + details line + Pause / Stop / Save / Open / Remove buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = RunTableModel(self)
        self.table = RunTable(self.model)
        # Room for two runs at the least (a short screen gives the tabs the height); the window
        # first opens it taller where the screen has room.
        t = self.table
        t.setMinimumHeight(t.horizontalHeader().sizeHint().height()
                           + MIN_ROWS * t.verticalHeader().defaultSectionSize()
                           + t.horizontalScrollBar().sizeHint().height() + 2 * t.frameWidth())
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter runs: words such as vae conv beta=0.01 finished")
        self.filter.setClearButtonEnabled(True)
        self.filter.setToolTip("Show only the runs whose name, kind, architecture, prior, "
                               "dataset, state, sweep or β contain every word typed. Click a "
                               "column's header to sort by it.")
        self.filter.textChanged.connect(self.table.set_filter)
        self.details = QLabel()
        self.details.setWordWrap(True)
        # Two lines' room, so that a longer line never pushes the buttons out of the dock.
        self.details.setMinimumHeight(2 * self.details.fontMetrics().lineSpacing())
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pause_button = QPushButton("&Pause")
        self.stop_button = QPushButton("St&op")
        self.continue_button = QPushButton("Contin&ue…")
        self.save_button = QPushButton("&Save…")
        self.save_sweep_button = QPushButton("Save s&weep…")
        self.open_button = QPushButton("Open checkpoint…")
        self.remove_button = QPushButton("&Remove")
        self.pause_button.setToolTip("Pause or resume the selected run (Ctrl+P)")
        self.stop_button.setToolTip("Stop the selected run; a queued run leaves the queue (Ctrl+.)")
        self.continue_button.setToolTip("Train the selected finished, stopped or loaded run "
                                        "further: it keeps its name, curves and timeline")
        self.save_button.setToolTip("Save the selected run as a checkpoint file (Ctrl+S)")
        self.open_button.setToolTip("Load a checkpoint file as a run (Ctrl+O)")
        self.remove_button.setToolTip("Remove the selected run from the list (Delete)")
        buttons = FlowLayout()  # a second row of buttons rather than a wider window
        self.filter.setMinimumWidth(self.filter.fontMetrics().horizontalAdvance("x" * 24))
        buttons.addWidget(self.filter)  # beside the buttons: no row of its own on a low screen
        for b in self.buttons:
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(buttons)

    @property
    def buttons(self) -> tuple[QPushButton, ...]:
        return (self.pause_button, self.stop_button, self.continue_button, self.save_button,
                self.save_sweep_button, self.open_button, self.remove_button)

    def update_details(self, run: Run | None) -> None:
        self.details.setText(details_html(run, len(self.model.runs)))
