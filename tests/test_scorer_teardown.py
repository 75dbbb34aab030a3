"""The scorer's worker ends its life in the GUI thread, as the training and map workers do."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from latent_explorer.explorer.session.scorer import RunScorer


def test_shutdown_returns_the_worker_to_the_gui_thread_before_the_thread_ends(qtbot, runs,
                                                                               small_judge):
    scorer = RunScorer()
    with qtbot.waitSignal(scorer.scored, timeout=60_000):
        assert scorer.request(runs["vae"])
    worker = scorer.worker
    assert worker.thread() is not QCoreApplication.instance().thread()
    assert scorer.shutdown(10_000)
    assert worker.thread() is QCoreApplication.instance().thread()  # never deleted over there
    assert not scorer.is_running
