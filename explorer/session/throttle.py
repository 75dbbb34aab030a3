"""superqt's `qthrottled`, made on first use: the window need not import superqt to show itself.

superqt's package import loads every one of its widgets (~0.1 s on the 2-core VMs), and the
throttles of the Training tab and the panel host only fire once runs exist, after the window
is on screen (benchmarks/launch_time.py).
"""

from __future__ import annotations

from typing import Any, Callable


class LazyThrottled:
    """`qthrottled(func, **kwargs)` created at its first call; `cancel()` before that is a no-op."""

    def __init__(self, func: Callable[..., Any], **kwargs: Any) -> None:
        self._func = func
        self._kwargs = kwargs
        self._throttled = None

    def __call__(self, *args: Any) -> None:
        if self._throttled is None:
            from superqt.utils import qthrottled

            self._throttled = qthrottled(self._func, **self._kwargs)
        self._throttled(*args)

    def cancel(self) -> None:
        if self._throttled is not None:
            self._throttled.cancel()
