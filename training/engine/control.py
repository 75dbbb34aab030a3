"""Pause, resume and stop for a training loop, safe from any thread; checked at every batch."""

from __future__ import annotations

import threading
import time


class LoopControl:
    """Pause, resume and stop flags a loop checks at the top of every batch.

    The loop calls `wait_while_paused()` at the top of each batch: it blocks while paused
    (`is_waiting` is then True) and returns the seconds it waited, which count neither as slow
    steps nor as epoch time. `stop_requested` is read right after.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._waiting = False
        self._running = threading.Event()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused loop so it can see the stop

    @property
    def is_paused(self) -> bool:
        return not self._running.is_set()

    @property
    def is_waiting(self) -> bool:
        """Paused and blocked at a batch boundary: no step runs, nothing more is reported."""
        return self._waiting

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self) -> float:
        """Block while paused; the seconds spent blocked (0.0 when running)."""
        if self._running.is_set():
            return 0.0
        paused_at = time.perf_counter()
        self._waiting = True  # the loop itself is blocked now (is_waiting)
        self._running.wait()
        self._waiting = False
        return time.perf_counter() - paused_at


__all__ = ["LoopControl"]
