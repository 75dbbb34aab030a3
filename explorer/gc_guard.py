"""Python's cyclic garbage collector, run only in the GUI thread at quiet moments.

Left to itself, the collector runs whenever allocations pass a threshold, in whatever thread
allocates: a training worker, the workspace scan or the GUI thread in the middle of a Qt call.
Collecting a cycle that holds Qt objects there destroys them in the wrong thread, or inside a
Qt call that holds one of Qt's pooled connection locks: the destructor then waits for that lock
for ever (seen: a test's window hung in ~QAction while pyqtgraph added an item). The usual
remedy for PyQt/PySide apps: turn automatic collection off and collect from a GUI timer,
generation by generation, as the thresholds would have.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


def collect_if_due() -> None:
    """Collect the generations whose counts passed gc's thresholds (what gc would have done)."""
    t0, t1, t2 = gc.get_threshold()
    c0, c1, c2 = gc.get_count()
    if c0 > t0:
        gen = 2 if c2 > t2 else 1 if c1 > t1 else 0
        gc.collect(gen)


class GarbageCollector(QObject):
    """Owns the collection for the life of the application (see the module)."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.setObjectName("garbage collection")
        self._timer.timeout.connect(collect_if_due)
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        if self._was_enabled:
            gc.enable()


__all__ = ["GarbageCollector", "collect_if_due"]
