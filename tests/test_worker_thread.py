"""The one way a worker gets its QThread: work in the thread, end in the GUI thread, bounded stop."""

from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from latent_explorer.explorer.session.worker_thread import WorkerThread


class _Worker(QObject):
    """Works until told to stop (or at once); `ignore_stop`: it goes on past the request."""

    result = Signal(object, object)  # the thread it worked in, the thread it ended in
    ended = Signal()

    def __init__(self, ignore_stop: bool = False) -> None:
        super().__init__()
        self.stop = threading.Event()
        self.release = threading.Event()  # lets an ignoring worker end after the test
        self.ignore_stop = ignore_stop
        self.started = threading.Event()

    def request_stop(self) -> None:
        self.stop.set()

    @Slot()
    def run(self) -> None:
        worked_in = QThread.currentThread()
        self.started.set()
        flag = self.release if self.ignore_stop else self.stop
        flag.wait(10)
        self.result.emit(worked_in, self.thread())
        self.ended.emit()


class _Receiver(QObject):
    """The owner's side, in the GUI thread: what the worker reported."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[QThread, QThread]] = []

    @Slot(object, object)
    def on_result(self, worked_in: QThread, lived_in: QThread) -> None:
        self.seen.append((worked_in, lived_in))


def _gui_thread() -> QThread:
    return QCoreApplication.instance().thread()


def test_the_work_runs_in_the_thread_and_the_worker_ends_in_the_gui_thread(qtbot):
    worker = _Worker()
    wt = WorkerThread(worker, "test worker", worker.ended, work=worker.run)
    assert wt.thread.objectName() == "test worker"
    assert worker.thread() is wt.thread
    receiver = _Receiver()
    wt.connect(worker.result, receiver.on_result)
    wt.start()
    worker.stop.set()
    qtbot.waitUntil(lambda: len(receiver.seen) == 1 and wt.is_finished, timeout=5000)
    worked_in, lived_in = receiver.seen[0]
    assert worked_in is not _gui_thread()
    assert lived_in is not _gui_thread()  # while working it lived in its own thread
    assert worker.thread() is _gui_thread()  # back before the thread ended
    assert wt.is_finished and not wt.is_running


def test_stop_requests_stop_disconnects_and_returns_within_its_timeout(qtbot):
    worker = _Worker()
    wt = WorkerThread(worker, "test worker", worker.ended, work=worker.run,
                      request_stop=worker.request_stop)
    receiver = _Receiver()
    wt.connect(worker.result, receiver.on_result)
    wt.start()
    assert worker.started.wait(5)
    assert wt.stop(5000)
    assert worker.stop.is_set()
    assert wt.is_finished
    assert worker.thread() is _gui_thread()
    qtbot.wait(50)  # a queued result would arrive now: the slot was disconnected first
    assert receiver.seen == []


def test_a_worker_that_ignores_stop_makes_stop_return_false_without_terminate(qtbot,
                                                                              monkeypatch):
    terminated = []
    monkeypatch.setattr(QThread, "terminate", lambda self: terminated.append(self))
    worker = _Worker(ignore_stop=True)
    wt = WorkerThread(worker, "stubborn worker", worker.ended, work=worker.run,
                      request_stop=worker.request_stop)
    wt.start()
    assert worker.started.wait(5)
    assert not wt.stop(200)
    assert worker.stop.is_set() and wt.is_running
    assert terminated == []
    worker.release.set()  # let it end, so no thread outlives the test
    assert wt.wait(5000)
    assert worker.thread() is _gui_thread()


def test_stop_before_start_is_immediate(qtbot):
    worker = _Worker()
    wt = WorkerThread(worker, "never started", worker.ended, work=worker.run)
    assert wt.stop(0)
