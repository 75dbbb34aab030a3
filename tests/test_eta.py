"""The ETA: a smoothed speed over training time only, and the evaluations still ahead."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latent_explorer.explorer.session.jobs import Progress
from latent_explorer.training.engine.eta import EtaEstimator, evaluations_left
from latent_explorer.training.engine.loop import StepsEvent


def chunks(rates, steps: int = 20):
    """(steps, steps/s) chunks as the loop sends them, ~10 a second."""
    return [(steps, float(r)) for r in rates]


def test_unknown_until_the_first_chunk():
    est = EtaEstimator()
    assert math.isnan(est.eta_seconds(100)) and est.steps_per_second == 0.0
    est.add_steps(0, 100.0)  # nothing trained: still unknown
    est.add_steps(10, 0.0)  # no rate: ignored
    est.add_steps(10, float("nan"))
    assert math.isnan(est.eta_seconds(100))
    est.add_steps(10, 200.0)
    assert est.steps_per_second == pytest.approx(200.0)
    assert est.eta_seconds(1000) == pytest.approx(5.0)


def test_a_swinging_rate_gives_a_steady_eta():
    """The loop's steps/s swinging 4x chunk to chunk (a busy 2-core machine) barely moves it."""
    rng = np.random.default_rng(0)
    rates = rng.choice([100.0, 400.0], size=600)  # a minute of chunks around 160 steps/s
    est = EtaEstimator()
    left = 50_000
    smoothed, naive = [], []
    for i, (n, r) in enumerate(chunks(rates)):
        est.add_steps(n, r)
        left -= n
        if est.training_seconds > 20:  # past the first time constant
            smoothed.append(est.eta_seconds(left) / left)
            naive.append(1 / r)
    assert max(naive) / min(naive) == pytest.approx(4.0)
    assert max(smoothed) / min(smoothed) < 1.25  # the raw figure swings 4x
    # Seconds per step averaged, not steps/s: the mean of 1/100 and 1/400 s per step.
    assert np.mean(smoothed) == pytest.approx((1 / 100 + 1 / 400) / 2, rel=0.1)


def test_a_lasting_change_of_speed_is_followed_within_a_minute_and_a_half():
    est = EtaEstimator()
    for n, r in chunks([400.0] * 200):
        est.add_steps(n, r)
    assert est.steps_per_second == pytest.approx(400.0)
    for n, r in chunks([100.0] * 450):  # 90 s of training at the new speed
        est.add_steps(n, r)
    assert est.steps_per_second == pytest.approx(100.0, rel=0.05)


def test_no_clock_is_read_so_pauses_never_count():
    """The same chunks give the same ETA however long the run was paused between them."""
    a, b = EtaEstimator(), EtaEstimator()
    for n, r in chunks([200.0] * 50):
        a.add_steps(n, r)
        b.add_steps(n, r)
    # b's run was paused here for an hour: the loop sends nothing while paused, and the
    # rate it sends after resuming excludes the pause (training/engine/loop.py), so b hears the same.
    for n, r in chunks([200.0] * 50):
        a.add_steps(n, r)
        b.add_steps(n, r)
    assert a.eta_seconds(4000, 3) == b.eta_seconds(4000, 3)


def test_the_evaluations_ahead_are_counted():
    est = EtaEstimator()
    est.add_steps(100, 100.0)
    assert est.eta_seconds(100, evaluations_left(1, 3)) == pytest.approx(1.0)  # none measured
    est.add_epoch(0.5)
    est.add_epoch(1.5)
    assert est.eval_seconds == pytest.approx(1.0)
    assert est.eta_seconds(100, evaluations_left(2, 3)) == pytest.approx(1.0 + 2 * 1.0)
    assert evaluations_left(3, 3) == 1 and evaluations_left(4, 3) == 0


def steps_event(first: int, n: int, rate: float, epoch: int = 1) -> StepsEvent:
    z = np.zeros((1, n), np.float32)
    return StepsEvent(first, z, z, z, epoch=epoch, step_in_epoch=first + n, steps_per_epoch=100,
                      total_steps=1000, steps_per_second=rate)


def test_progress_shows_the_smoothed_figures():
    est = EtaEstimator()
    est.add_steps(100, 100.0)
    ev = steps_event(100, 20, 1000.0)  # one fast chunk: the raw ETA would say 0:00:00.88
    est.add_steps(20, 1000.0)
    p = Progress.of(ev, 10, est)
    assert p.step == 120 and p.steps_per_second == pytest.approx(est.steps_per_second)
    assert p.eta_seconds == pytest.approx(est.eta_seconds(880, 10))
    assert p.eta_seconds > 5 * ev.eta_seconds
    assert p.eta_text in p.text() and p.eta_text in p.text(short=True)
    assert Progress.of(ev, 10).eta_seconds == pytest.approx(ev.eta_seconds)  # no estimator
    assert p.stopped().eta_text == "--"
