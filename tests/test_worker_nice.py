"""A training worker yields to the GUI on a quiet machine, not to other programs on a busy one."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from latent_explorer.explorer.session import worker_threads


@pytest.mark.parametrize("busy, expected", [(False, worker_threads.WORKER_NICE), (True, 0)])
def test_the_worker_is_nicer_than_the_gui_only_when_the_machine_is_quiet(monkeypatch, busy,
                                                                         expected):
    from latent_explorer import cpu_policy

    monkeypatch.setattr(cpu_policy, "machine_is_busy", lambda: busy)
    assert worker_threads.worker_nice() == expected
    if not sys.platform.startswith("linux"):
        return
    seen = []

    def work():
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        worker_threads.lower_worker_priority()
        seen.append((before, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    (before, after), = seen
    assert after == min(19, before + expected)  # nice values stop at 19
