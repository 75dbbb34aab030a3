"""One worker object in its own QThread, started and ended one way (superqt's `new_worker_qthread`).

`WorkerThread(worker, name, ended, work=..., request_stop=...)` makes a named QThread, moves
the worker into it and wires it:

- `thread.started` runs `work` (a slot of the worker: it runs in the new thread);
- the worker's `ended` signal, emitted as its last act, moves the worker back to the GUI thread
  and quits the thread, both directly in the worker's thread (see `_on_worker_ended`);
- the thread's `finished` `deleteLater`s the thread.

The worker is then dropped by its owner, in the GUI thread. Destroyed in its own thread
(deleteLater), a Python QObject's destructor waits for the GIL while holding Qt's connection
lock, and a GUI thread that holds the GIL and connects a signal meanwhile (a new pyqtgraph plot)
deadlocks: so no worker ends its life over there.

Closing (STYLE item 5): `stop(timeout_ms)` requests stop (the owner's callable), disconnects
the owner's slots (those made with `connect`), quits and waits, bounded. Never terminate(): a
thread that outlives the wait is reported (False) and must stay referenced by its owner.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, SignalInstance


class WorkerThread:
    """A worker moved into its own named QThread; see the module docstring."""

    def __init__(self, worker: QObject, name: str, ended: SignalInstance,
                 work: Callable[[], None] | None = None,
                 request_stop: Callable[[], None] | None = None) -> None:
        """`ended`: the worker's signal it emits last, in its thread. `work`: run when the thread
        starts (None: a long-lived worker that is driven by queued signals)."""
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(name)
        self._request_stop = request_stop
        self._connections: list[tuple[SignalInstance, Callable]] = []
        worker.moveToThread(self.thread)
        if work is not None:
            self.thread.started.connect(work)  # the worker lives in the thread: runs there
        # Direct: it must happen in the worker's thread (only it can push the worker away), and
        # quit() reaches the thread even while the GUI thread is blocked in wait() on close.
        ended.connect(self._on_worker_ended, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self.thread.deleteLater)

    def connect(self, signal: SignalInstance, slot: Callable) -> None:
        """Connect one of the owner's slots, to be disconnected by `stop` / `disconnect`."""
        signal.connect(slot)
        self._connections.append((signal, slot))

    def start(self) -> None:
        self.thread.start()

    def _on_worker_ended(self) -> None:
        """In the worker's thread, its last act: back to the GUI thread, then end this one."""
        self.worker.moveToThread(QCoreApplication.instance().thread())
        QThread.currentThread().quit()

    # -- state -----------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        try:
            return self.thread.isRunning()
        except RuntimeError:  # the C++ QThread is deleted: it had finished
            return False

    @property
    def is_finished(self) -> bool:
        try:
            return self.thread.isFinished()
        except RuntimeError:  # the C++ QThread is deleted: it had finished
            return True

    # -- closing (GUI thread) --------------------------------------------------------------------
    def request_stop(self) -> None:
        if self._request_stop is not None:
            self._request_stop()

    def disconnect(self) -> None:
        """Drop the owner's slots made with `connect`: no late result reaches them."""
        for signal, slot in self._connections:
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):  # already gone
                pass
        self._connections.clear()

    def wait(self, timeout_ms: int) -> bool:
        """quit() and a bounded wait(); True when the thread has finished (or never started)."""
        try:
            if not self.thread.isRunning():
                return True
            self.thread.quit()
            return self.thread.wait(max(0, timeout_ms))
        except RuntimeError:  # the C++ QThread is deleted: it had finished
            return True

    def stop(self, timeout_ms: int) -> bool:
        """Request stop, disconnect the owner's slots, quit, bounded wait; never terminate()."""
        self.request_stop()
        self.disconnect()
        return self.wait(timeout_ms)


__all__ = ["WorkerThread"]
