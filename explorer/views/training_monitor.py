"""The Training tab: every run's live loss curves above the watched run's reconstruction strip
and the selected run's timeline (explorer/views/timeline_view.py), whose step is marked on the curves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from latent_explorer.explorer.views.loss_plot import LossPlot
from latent_explorer.explorer.views.recon_strip import ReconStrip
from latent_explorer.explorer.views.timeline_view import TimelineView
from latent_explorer.explorer.widgets.page_scroll import PageScroll

if TYPE_CHECKING:
    from latent_explorer.training.record.run import Run

# Shown above the plots on the very first launch, until dismissed (explorer/window_settings.py).
FIRST_RUN_HINT = (
    "<b>New here?</b> Pick a model and press <b>Train</b> (the form on the left); its losses "
    "are drawn here as it learns, and the run list below follows every run. From the end of "
    "its first epoch the other tabs explore it: reconstructions, samples from the prior, "
    "interpolations, a map of its latent space and your own drawings. "
    "<b>Help → User guide</b> (F1) explains the rest.")


class TrainingMonitor(QWidget):
    """Draws runs' losses and reconstructions; the window forwards it the session's events."""

    hint_dismissed = Signal()  # the user closed the first launch's hint

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = LossPlot()
        self.recon_strip = ReconStrip()
        self.timeline = TimelineView()
        self.timeline.step_selected.connect(self.loss_plot.set_step_marker)
        # A plain notice above the plots (e.g. the full dataset was unavailable), until dismissed.
        self.notice = QWidget()
        self.notice.setStyleSheet("background: #fff3cd; color: #533f03; border-radius: 3px;")
        self.notice_label = QLabel()
        self.notice_label.setWordWrap(True)
        self.notice_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice_close = QPushButton("Dismiss")
        bar = QHBoxLayout(self.notice)
        bar.setContentsMargins(6, 3, 6, 3)
        bar.addWidget(self.notice_label, 1)
        bar.addWidget(self.notice_close)
        self.notice.hide()
        self.notice_close.clicked.connect(self.notice.hide)
        # A new user's first launch: what to do first, until dismissed (then never again).
        self.hint = QWidget()
        self.hint.setStyleSheet("background: #e3effa; color: #0b3558; border-radius: 3px;")
        self.hint_label = QLabel(FIRST_RUN_HINT)
        self.hint_label.setWordWrap(True)
        self.hint_label.setAccessibleName("First-run hint")
        self.hint_close = QPushButton("Got it")
        self.hint_close.setToolTip("Hide this hint (it is not shown again)")
        hint_bar = QHBoxLayout(self.hint)
        hint_bar.setContentsMargins(6, 3, 6, 3)
        hint_bar.addWidget(self.hint_label, 1)
        hint_bar.addWidget(self.hint_close)
        self.hint.hide()
        self.hint_close.clicked.connect(self._on_hint_close_clicked)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.hint)
        layout.addWidget(self.notice)
        layout.addWidget(self.loss_plot, 1)
        layout.addWidget(self.recon_strip)
        layout.addWidget(self.timeline)
        # A window too small for the tab scrolls it rather than grow past the screen.
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.page = PageScroll(body)
        outer.addWidget(self.page)

    def show_first_run_hint(self) -> None:
        self.hint.show()

    def _on_hint_close_clicked(self) -> None:
        self.hint.hide()
        self.hint_dismissed.emit()

    def show_notice(self, text: str) -> None:
        self.notice_label.setText(text)
        self.notice.show()

    def add_run(self, run: Run, color: str) -> None:
        self.loss_plot.add_run(run, color)

    def set_selected_run(self, run: Run | None) -> None:
        """The run whose timeline the strip replays."""
        self.timeline.set_run(run)

    def shutdown(self) -> None:
        """The window is closing: no more redraws or playback ticks."""
        self.timeline.stop()
        self.loss_plot.stop_redrawing()

    def remove_run(self, run: Run) -> None:
        if self.timeline.run is run:
            self.timeline.set_run(None)
        self.loss_plot.remove_run(run.id)
        if self.recon_strip.run_id == run.id:
            self.recon_strip.clear("The run shown here was removed.")

    def on_run_event(self, run: Run, ev) -> None:
        """Draw what a job reported (the loop's steps and epochs; a run's end)."""
        from latent_explorer.explorer.session.job_events import EpochEvent, SnapshotRecorded, StepsEvent, TrainingEnded

        match ev:
            case StepsEvent():
                self.loss_plot.append_steps(run.id, ev.first_step, ev.recon[0], ev.kl[0],
                                            ev.total[0],
                                            ev.beta[0] if ev.beta is not None else None)
            case EpochEvent():
                self.loss_plot.add_epoch_marker(run.id, ev.step, ev.metrics[0])
            case SnapshotRecorded():
                self.timeline.timeline_changed(run)
            case TrainingEnded(result=result):
                if result is not None:
                    self.loss_plot.set_history(run)
                self.timeline.timeline_changed(run)

    def show_reconstructions(self, reconstructions: dict, selected: Run | None,
                             reporting: Run | None = None) -> None:
        """The selected run's latest strip; else the strip of the run that just reported."""
        if selected is not None and selected.id in reconstructions:
            rid = selected.id
        elif reporting is not None and reporting.id in reconstructions:
            rid = reporting.id
        else:
            return
        if reporting is not None and rid != reporting.id:
            return  # another run reported: keep showing the selected one
        grid, caption = reconstructions[rid]
        self.recon_strip.show_grid(rid, grid, caption)
