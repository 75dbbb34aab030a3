"""The exploration tabs: creates the registered panels and feeds them runs and the selection.

Every tab is given the selected run, usable or not: an unusable one shows the panel's hint,
which says why (still queued, not through its first epoch, failed before it trained…). A run
that trains is explored from a copy of its weights taken at epoch ends; when a new copy
arrives only the tab in front redraws, and the others when they are next shown.

A panel's bug must not lose the user's runs, so every call into a panel is guarded: the error
goes to `sys.excepthook` (printed in the app; under pytest-qt it fails the test, so a broken
panel cannot hide) and to the status bar, and the window goes on.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QTabWidget
from latent_explorer.explorer.session.throttle import LazyThrottled

if TYPE_CHECKING:
    from latent_explorer.explorer.panels.base import Panel
    from latent_explorer.training.record.run import Run


class PanelHost(QObject):
    """Panels as tabs of `tabs`, each told `set_runs(usable)` and `set_run(selected)`."""

    failed = Signal(str)  # a one-line message: a panel raised
    tab_requested = Signal(object)  # a panel to bring to the front (it was sent an image)
    run_requested = Signal(object)  # Run: a panel asked for it to be selected
    export_requested = Signal(object)  # Panel: its Export button asks to write its data

    def __init__(self, tabs: QTabWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tabs = tabs
        self.panels: list[Panel] = []
        self._sent_runs: list[tuple[int, str]] | None = None
        self._sent_run: Run | None = None
        self._usable: list[Run] = []
        self._selected: Run | None = None  # the selected run, whether or not it is usable
        self._sent_selection: tuple | None = None  # what the panels were last told about it
        self._sent_look: tuple | None = None  # (id of the selected run's model, its state) drawn
        self._stale: set[int] = set()  # ids of panels to redraw when shown (newer weights)
        self._all: list[Run] = []
        self._selected_any: Run | None = None
        self._sent_all: list | None = None
        self._sent_any: Run | None = None
        self._follow_runs_changed = self._follow_run_changed = False
        self._update_followers_later = LazyThrottled(self._update_followers, timeout=0,
                                                     leading=False, parent=self)
        tabs.currentChanged.connect(self._on_tab_changed)

    @Slot(int)
    def _on_tab_changed(self, _index: int) -> None:
        panel = self.tabs.currentWidget()
        if panel is not None and id(panel) in self._stale:
            self._stale.discard(id(panel))
            self.call(panel, "set_run", self._selected)

    def create_registered(self) -> None:
        """One tab per panel in explorer.panels.PANELS."""
        try:
            from latent_explorer.explorer.panels import create_panels

            panels = create_panels()
        except Exception as e:  # noqa: BLE001 - the training tab still works without them
            self._report(e, "Exploration panels unavailable")
            return
        for panel in panels:
            self.add(panel)

    def add(self, panel: Panel) -> None:
        """Add a panel as a tab and give it the current runs and selection."""
        self.panels.append(panel)
        self.tabs.addTab(panel, panel.title)
        panel.sent.connect(partial(self.send, panel))
        panel.run_requested.connect(self.run_requested)
        panel.data_export_requested.connect(partial(self.export_requested.emit, panel))
        if panel.follows_training:
            self.call(panel, "set_runs", self._all)
            self.call(panel, "set_run", self._selected_any)
        else:
            self.call(panel, "set_runs", self._usable)
            self.call(panel, "set_run", self._selected)

    def update(self, usable: list[Run], selected: Run | None, all_runs: list[Run] | None = None,
               ) -> None:
        """Feed every panel the usable runs and the selection, when either changed; panels that
        follow training get `all_runs` and the selection even while it trains, again whenever a
        run progressed."""
        selected_any = selected
        key = [(r.id, r.name) for r in usable]
        runs_changed = key != self._sent_runs
        # What the panels show of the selection: a usable run is redrawn when it is another run
        # (all tabs) or has newer weights (the tab in front; the others are marked stale); an
        # unusable one's hint is rewritten whenever what it says may have changed.
        if selected is None:
            selection = None
        elif selected in usable:
            selection = ("usable", selected.id)
        else:
            selection = ("hint", selected.id, str(selected.state), id(selected.model),
                         selected.dataset is not None, selected.error, selected.epochs_done)
        run_changed = selection != self._sent_selection
        # Newer weights, or the same ones now paused, resumed or ended (the caption says which).
        look = (id(selected.model), str(selected.state)) if selected is not None else None
        weights_changed = (not run_changed and selection is not None
                           and selection[0] == "usable" and self._sent_look != look)
        self._usable, self._selected = list(usable), selected
        self._sent_runs, self._sent_run = key, selected
        self._sent_selection = selection
        self._sent_look = look
        all_runs = list(all_runs) if all_runs is not None else list(usable)
        all_key = [(r.id, r.name, str(r.state), r.epochs_done, id(r.model), len(r.measures),
                    r.dataset is not None) for r in all_runs]
        all_changed = all_key != self._sent_all
        any_changed = selected_any is not self._sent_any
        self._all, self._selected_any = all_runs, selected_any
        self._sent_all, self._sent_any = all_key, selected_any
        # Panels that follow training hear about it once per event-loop turn: a sweep's epoch end
        # changes every member's run one after another, and redrawing such a panel per member
        # held the GUI thread for 100+ ms (benchmarks/gui_responsiveness.py --sweep).
        self._follow_runs_changed |= all_changed
        self._follow_run_changed |= all_changed or any_changed
        if any_changed:
            self.flush()  # the user chose another run: show it now
        elif self._follow_runs_changed or self._follow_run_changed:
            self._update_followers_later()
        front = self.tabs.currentWidget()
        if run_changed:
            self._stale.clear()
        for panel in self.panels:
            if panel.follows_training:
                continue
            if runs_changed:
                self.call(panel, "set_runs", usable)
            if run_changed or (weights_changed and panel is front):
                self.call(panel, "set_run", selected)
            elif weights_changed:
                self._stale.add(id(panel))

    def _update_followers(self) -> None:
        runs_changed, run_changed = self._follow_runs_changed, self._follow_run_changed
        self._follow_runs_changed = self._follow_run_changed = False
        for panel in self.panels:
            if panel.follows_training:
                if runs_changed:
                    self.call(panel, "set_runs", self._all)
                if run_changed:
                    self.call(panel, "set_run", self._selected_any)

    def flush(self) -> None:
        """Bring the panels that follow training up to date now (not at the next turn)."""
        self._update_followers_later.cancel()
        self._update_followers()

    def send(self, source: Panel, target: str, image) -> Panel | None:
        """Give `image` to the first other panel that accepts `target` and ask for its tab."""
        for panel in self.panels:
            try:
                takes = panel is not source and panel.accepts(target)
            except Exception as e:  # noqa: BLE001 - as in call()
                self._report(e, panel.title)
                continue
            if takes:
                self.call(panel, "receive_image", target, image)
                self.tab_requested.emit(panel)
                return panel
        self.failed.emit(f"No tab takes an image for {target!r}")
        return None

    def call(self, panel: Panel, method: str, *args) -> None:
        try:
            getattr(panel, method)(*args)
        except Exception as e:  # noqa: BLE001 - a panel's bug must not lose the user's runs
            self._report(e, panel.title)

    def shutdown(self) -> None:
        self._update_followers_later.cancel()
        for panel in self.panels:
            self.call(panel, "shutdown")

    def _report(self, e: Exception, where: str) -> None:
        sys.excepthook(type(e), e, e.__traceback__)
        self.failed.emit(f"{where}: {e}")
