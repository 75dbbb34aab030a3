"""Cycles are collected in the GUI thread, from a timer, never by allocation elsewhere."""

from __future__ import annotations

import gc
import threading
import weakref

from latent_explorer.explorer.gc_guard import GarbageCollector, collect_if_due


class Node:
    pass


def make_cycle() -> weakref.ref:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_a_worker_threads_allocations_collect_nothing_the_timer_does(qtbot):
    gc.enable()  # as in a fresh process (the suite itself runs with it off)
    collector = GarbageCollector(interval_ms=10)
    try:
        assert not gc.isenabled()  # the collector took collection over
        ref = make_cycle()
        garbage = [make_cycle() for _ in range(5000)]  # far past gen 0's threshold
        t = threading.Thread(target=lambda: [Node() for _ in range(50_000)])
        t.start()
        t.join()
        assert ref() is not None  # nothing collected it in the worker thread
        qtbot.waitUntil(lambda: ref() is None, timeout=5000)  # the GUI timer did
        assert all(r() is None for r in garbage)
    finally:
        collector.stop()
        assert gc.isenabled()  # given back as it was
        gc.disable()


def test_collect_if_due_waits_for_the_threshold():
    gc.collect()
    ref = make_cycle()
    collect_if_due()  # one allocation past a collection: not due
    assert ref() is not None
    for _ in range(gc.get_threshold()[0] + 1):
        Node.__new__(Node).x = [1]  # tracked allocations
    _ = [[] for _ in range(gc.get_threshold()[0] + 1)]
    collect_if_due()
    assert ref() is None
