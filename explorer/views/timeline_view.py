"""The Training tab's timeline strip: a step slider with play/pause over a run's snapshots.

It shows the selected run's reconstructions of the fixed test images and its decodings of the
fixed prior codes as they were at one snapshot (training.record.timeline.snapshot_grid), and says
which step that was (`step_selected`: the Training tab puts a marker there on the loss curves).

Following: while a run trains, the strip shows the newest snapshot as it arrives, until the
user moves the slider; moving it to the end, or pressing "Follow", follows again. Play steps
through the snapshots with a timer: from the first when the newest is shown (following stops
meanwhile), else from the one shown; it takes in the snapshots recorded as it plays, and at
the newest it stops and follows again. The timer also stops on hide and in `stop()`.
The caption under the images is two lines high whatever it says (ElidedLabel), so the loss
plots above never move when it gets longer.
No torch here: training.record.timeline's pictures are numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from latent_explorer.explorer.session.throttle import LazyThrottled
from latent_explorer.explorer.widgets.elided_label import ElidedLabel
from latent_explorer.explorer.widgets.image_view import ImageView

if TYPE_CHECKING:
    from latent_explorer.training.record.run import Run
    from latent_explorer.training.record.timeline import Timeline

PLAY_INTERVAL_MS = 150  # the CLI's GIF frame time: ~7 snapshots a second
# While a run trains, snapshots arrive in bursts (dozens a second early on). Following them
# redraws this strip and moves the marker on the loss plots, whose repaint costs tens of ms of
# the GUI thread (and the GIL) each time, so a live run's new snapshots are shown at most this
# often (newest wins). benchmarks/gui_responsiveness.py measured training at about half its
# headless speed when every snapshot was drawn.
LIVE_REFRESH_MS = 500


class TimelineView(QWidget):
    """One run's timeline: slider, play/pause, follow, and the snapshot's images."""

    step_selected = Signal(object)  # the shown snapshot's step (int), or None: nothing shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Run | None = None
        self._following = True
        self._setting = False  # the slider is being moved by this widget, not the user
        self._shown: tuple[int, int] | None = None  # (id of the timeline, index) drawn

        self.title = QLabel("<b>Timeline</b>")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("Training step")
        self.slider.setToolTip("The snapshot to show: log-spaced steps early in training, then "
                               "every epoch end. Drag to go back; the end follows the newest.")
        self.slider.setPageStep(5)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Step through the snapshots from the first (or from here)")
        self.follow_button = QPushButton("Follow")
        self.follow_button.setCheckable(True)
        self.follow_button.setToolTip("Show the newest snapshot as the run records it")
        self.step_label = QLabel()
        self.step_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("step 000,000 · "
                                                                             "epoch 000.00"))
        self.caption = ElidedLabel(lines=2)  # fixed height: the plots above never jump
        self.view = ImageView(min_height=0)
        line = self.fontMetrics().height()
        self.view.set_height_range(5 * line, 11 * line)
        bar = QHBoxLayout()
        bar.addWidget(self.title)
        bar.addWidget(self.play_button)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.step_label)
        bar.addWidget(self.follow_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        layout.addWidget(self.caption)

        self._refresh_later = LazyThrottled(self._refresh, timeout=LIVE_REFRESH_MS,
                                            leading=True, parent=self)
        self._timer = QTimer(self)
        self._timer.setObjectName("timeline playback")
        self._timer.setInterval(PLAY_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.play_button.clicked.connect(self._on_play_button_clicked)
        self.follow_button.clicked.connect(self._on_follow_button_clicked)
        self._apply_palette()
        self._refresh()

    # -- public API ------------------------------------------------------------------------------
    @property
    def timeline(self) -> Timeline | None:
        return self.run.timeline if self.run is not None else None

    @property
    def count(self) -> int:
        tl = self.timeline
        return len(tl) if tl is not None else 0

    @property
    def index(self) -> int:
        """The snapshot shown (its index in the timeline), -1 when none is."""
        return self.slider.value() if self.count else -1

    @property
    def is_following(self) -> bool:
        return self._following

    @property
    def is_playing(self) -> bool:
        return self._timer.isActive()

    def set_run(self, run: Run | None) -> None:
        """Show `run`'s timeline from its newest snapshot, following it."""
        if run is self.run:
            return
        self.pause()
        self.run = run
        self._shown = None
        self._set_following(True)
        self._refresh()

    def timeline_changed(self, run: Run) -> None:
        """`run` recorded a snapshot or ended: follow it if it is the one shown."""
        if run is not self.run:
            return
        if run.is_active:
            self._refresh_later()  # at most every LIVE_REFRESH_MS while it trains
        else:
            self._refresh_later.cancel()
            self._refresh()

    def show_index(self, i: int) -> None:
        """Show snapshot i (as the program, not the user: following is left as it is)."""
        self._set_slider(i)

    def play(self) -> None:
        """Step through the snapshots: from the first when the slider's last one is shown (the
        newest the user has seen), else from the one shown."""
        if self.count < 2:
            self.play_button.setChecked(False)
            return
        # While a run trains the strip is redrawn at most every LIVE_REFRESH_MS, so the slider
        # may end before the newest snapshots. Judged by the count instead, the last one shown
        # was not "the newest", and Play crept along behind the run as following does.
        from_start = self.index >= self.slider.maximum()
        self._extend_range()
        if from_start:
            self._set_slider(0)
        self._set_following(False)
        self._timer.start()
        self.play_button.setChecked(True)
        self.play_button.setText("Pause")

    def pause(self) -> None:
        self._timer.stop()
        self.play_button.setChecked(False)
        self.play_button.setText("Play")

    def stop(self) -> None:
        """The window is closing: no more ticks."""
        self.pause()
        self._refresh_later.cancel()

    # -- internals -------------------------------------------------------------------------------
    def _set_following(self, on: bool) -> None:
        self._following = on
        self.follow_button.setChecked(on)

    def _set_slider(self, i: int) -> None:
        self._setting = True
        try:
            self.slider.setValue(i)
        finally:
            self._setting = False
        self._draw()

    def _extend_range(self) -> None:
        """The slider reaches the newest snapshot (recorded since the last redraw)."""
        if self.slider.maximum() < self.count - 1:
            self._setting = True
            try:
                self.slider.setMaximum(self.count - 1)
            finally:
                self._setting = False

    def _refresh(self) -> None:
        """Range, enabled state and the snapshot shown, after the run or its timeline changed."""
        n = self.count
        usable = n > 0
        for w in (self.slider, self.follow_button, self.step_label):
            w.setEnabled(usable)
        self.play_button.setEnabled(n > 1)
        self._setting = True
        try:
            self.slider.setRange(0, max(0, n - 1))
            if usable and self._following:
                self.slider.setValue(n - 1)
        finally:
            self._setting = False
        if not usable:
            self.pause()
            self._shown = None
            self.view.clear_images()
            self.step_label.setText("")
            self.caption.setText(self._empty_text())
            self.step_selected.emit(None)
            return
        self._draw()

    def _empty_text(self) -> str:
        from latent_explorer.training.record.run_state import no_timeline_reason  # torch-free

        run = self.run
        if run is None:
            return "Select a run to replay how it learned."
        return no_timeline_reason(run.name, group=run.group, state=run.state,
                                  trained=run.model is not None)

    def _draw(self) -> None:
        from latent_explorer.training.record.timeline import snapshot_caption, snapshot_grid

        tl = self.timeline
        if tl is None or not tl.snapshots:
            return
        i = min(max(self.slider.value(), 0), len(tl) - 1)
        key = (id(tl), i)
        snap = tl.snapshots[i]
        if key != self._shown:
            self._shown = key
            self.view.set_grid(snapshot_grid(tl, i), cell=tl.originals.shape[-2:])
        self.step_label.setText(f"step {snap.step:,} · epoch {snap.epoch:.2f}")
        self.caption.setText(
            f"{self.run.name} at {snapshot_caption(snap)} (snapshot {i + 1} of {len(tl)}). "
            f"Top: fixed test images above their reconstructions; below: decodings of "
            f"{len(tl.sample_z)} fixed prior codes"
            + (" (one per class)" if tl.sample_labels is not None else "") + ".")
        self.step_selected.emit(snap.step)

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        if self._setting:
            return
        # The user moved it: follow again only at the end.
        self._set_following(value >= self.count - 1)
        self._draw()

    @Slot()
    def _on_timer_timeout(self) -> None:
        self._extend_range()  # snapshots recorded while playing are played too
        if self.index >= self.count - 1:
            self.pause()
            self._set_following(True)  # played to the newest: go on with it
            return
        self._set_slider(self.index + 1)

    @Slot(bool)
    def _on_play_button_clicked(self, checked: bool) -> None:
        if checked:
            self.play()
        else:
            self.pause()

    @Slot(bool)
    def _on_follow_button_clicked(self, checked: bool) -> None:
        self._set_following(checked)
        if checked:
            self.pause()
            self._refresh()

    def hideEvent(self, event) -> None:
        self.pause()
        super().hideEvent(event)

    def closeEvent(self, event) -> None:
        self.stop()
        super().closeEvent(event)

    def _apply_palette(self) -> None:
        self.view.setBackground(self.palette().color(QPalette.ColorRole.Base))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)
