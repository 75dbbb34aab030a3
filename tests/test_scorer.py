"""The background scorer yields to training: it measures only while no training job runs."""

from __future__ import annotations

from latent_explorer.explorer.session.scorer import RunScorer


def test_scoring_waits_while_a_job_trains_then_goes_on(qtbot, runs):
    scorer = RunScorer(iw_k=2)
    try:
        scorer.set_training(True)
        assert scorer.request(runs["vae"])
        with qtbot.assertNotEmitted(scorer.scored, wait=500):
            pass  # a training job holds the cores: nothing is measured meanwhile
        with qtbot.waitSignal(scorer.scored, timeout=30_000) as blocker:
            scorer.set_training(False)
        run_id, _token, measures = blocker.args
        assert run_id == runs["vae"].id and measures["iw_k"] == 2 and measures["iw_bound"] > 0
    finally:
        assert scorer.shutdown(5000)


def test_a_waiting_scorer_shuts_down_promptly(qtbot, runs):
    scorer = RunScorer(iw_k=2)
    scorer.set_training(True)
    assert scorer.request(runs["vae"])
    assert scorer.shutdown(2000)  # wakes from its wait and sees the stop
