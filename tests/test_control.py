"""Stop, pause and resume, from another thread and from an observer, for each way the loop
trains: one model (Trainer) and the stacked members of a β sweep (SweepTrainer).

What is checked is where the loop acts, counted in steps: a stop or a pause takes effect at the
next batch boundary. How soon that is in seconds is benchmarks/control_latency.py's figure.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from helpers import sweep_config, train_config, wait_until
from latent_explorer.training.engine.events import Observer
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.engine.sweep import SweepTrainer

STEPS_PER_EPOCH = 10  # small_dataset at batch 64


class Single:
    """One model: results and histories are lists of one."""

    def trainer(self, data, epochs, observers=(), **kw):
        return Trainer(train_config(epochs=epochs), data, list(observers), **kw)

    def histories(self, trainer):
        return [trainer.history]

    def results(self, result):
        return [result]


class Stacked:
    """A sweep of three β trained at once, as one stacked model."""

    def trainer(self, data, epochs, observers=(), **kw):
        return SweepTrainer(sweep_config(epochs=epochs), data, list(observers), **kw)

    def histories(self, trainer):
        return trainer.histories

    def results(self, result):
        return result.results


@pytest.fixture(params=[Single(), Stacked()], ids=["single model", "stacked sweep"])
def strategy(request):
    return request.param


class Recorder(Observer):
    """Every hook call in order; `seen` is the steps reported so far, `reached` is set once
    `at` steps are reported."""

    def __init__(self, at: int = 1) -> None:
        self.calls: list[tuple[str, object]] = []
        self.seen, self.at = 0, at
        self.reached = threading.Event()

    def on_train_start(self, trainer):
        self.calls.append(("on_train_start", trainer))

    def on_steps(self, event):
        self.calls.append(("on_steps", event))
        self.seen = event.last_step + 1
        if self.seen >= self.at:
            self.reached.set()

    def on_epoch_end(self, event):
        self.calls.append(("on_epoch_end", event))

    def on_member_failed(self, event):
        self.calls.append(("on_member_failed", event))

    def on_train_end(self, result):
        self.calls.append(("on_train_end", result))

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]

    def steps(self) -> list:
        return [e for n, e in self.calls if n == "on_steps"]


def assert_steps_cover_histories(events, histories, total_steps: int) -> None:
    """Consecutive events tile [0, steps taken) with no gap or overlap; each member's losses in
    them are its history."""
    nxt = 0
    for ev in events:
        assert ev.first_step == nxt and ev.n_steps >= 1 and ev.total_steps == total_steps
        assert ev.last_step == (ev.epoch - 1) * ev.steps_per_epoch + ev.step_in_epoch - 1
        nxt = ev.last_step + 1
    for m, h in enumerate(histories):
        assert nxt == len(h)
        np.testing.assert_array_equal(np.concatenate([e.total[m] for e in events]), h.total)


def assert_usable(results, data) -> None:
    """Every member's weights are finite, in eval mode, and reconstruct."""
    x = data.test.float_images(slice(0, 4))
    for r in results:
        assert all(bool(torch.isfinite(p).all()) for p in r.model.parameters())
        assert not r.model.training
        rec = r.model.reconstruct(x)
        assert torch.isfinite(rec).all() and rec.shape == (4, 1, 28, 28)


class BlockedSpy:
    """Sets `blocked` as the loop is about to block in its pause (waitable, unlike the
    `is_waiting` flag), and counts the loop's batch boundaries."""

    def __init__(self, trainer) -> None:
        self.blocked = threading.Event()
        self.boundaries = 0
        real = trainer.wait_while_paused

        def wait_while_paused():
            self.boundaries += 1
            if trainer.is_paused:
                self.blocked.set()
            return real()

        trainer.wait_while_paused = wait_while_paused


def run_in_thread(trainer):
    out: list = []
    worker = threading.Thread(target=lambda: out.append(trainer.run()), daemon=True)
    worker.start()
    return worker, out


def test_a_stop_from_another_thread_acts_at_the_next_batch_boundary(strategy, small_dataset):
    rec = Recorder(at=3)
    trainer = strategy.trainer(small_dataset, 500, [rec], notify_interval=0.0)
    worker, out = run_in_thread(trainer)
    try:
        assert rec.reached.wait(60)
        trainer.request_stop()
        seen = rec.seen  # steps reported once the stop is asked: the loop may be in one more
        worker.join(60)
        assert not worker.is_alive()
    finally:
        trainer.request_stop()
        worker.join(5)
    result = out[0]
    assert result.state == "stopped" and trainer.stop_requested
    results = strategy.results(result)
    lengths = {len(r.history) for r in results}
    assert len(lengths) == 1 and lengths.pop() in (seen, seen + 1)
    assert all(r.state == "stopped" and r.error is None for r in results)
    assert_usable(results, small_dataset)
    # The observers heard the end, once, and every step taken was reported.
    assert rec.names().count("on_train_end") == 1 and rec.names()[-1] == "on_train_end"
    told = rec.calls[-1][1].results
    assert len(told) == len(results) and all(a is b for a, b in zip(told, results))
    assert_steps_cover_histories(rec.steps(), [r.history for r in results],
                                 500 * STEPS_PER_EPOCH)


def test_a_stop_from_inside_an_observer_comes_before_the_next_step(strategy, small_dataset):
    class StopAtFirstSteps(Recorder):
        def on_train_start(self, trainer):
            super().on_train_start(trainer)
            self.trainer = trainer

        def on_steps(self, event):
            super().on_steps(event)
            self.trainer.request_stop()

    obs = StopAtFirstSteps()
    result = strategy.trainer(small_dataset, 5, [obs], notify_interval=0.0).run()
    assert result.state == "stopped"
    results = strategy.results(result)
    assert all(len(r.history) == 1 for r in results)  # the stop is seen before the next step
    assert all(r.metrics is None for r in results)  # no epoch finished
    assert_usable(results, small_dataset)
    assert obs.names() == ["on_train_start", "on_steps", "on_train_end"]


def test_pause_blocks_at_the_next_batch_boundary_and_resume_goes_on(strategy, small_dataset):
    started, go_on = threading.Event(), threading.Event()

    class HoldFirstSteps(Recorder):
        """Holds the worker in its first step event until the main thread has paused it."""

        def on_steps(self, event):
            super().on_steps(event)
            if not started.is_set():
                started.set()
                assert go_on.wait(60)

    rec = HoldFirstSteps()
    trainer = strategy.trainer(small_dataset, 4, [rec], notify_interval=0.0)
    spy = BlockedSpy(trainer)
    worker, out = run_in_thread(trainer)
    try:
        assert started.wait(60)
        trainer.pause()
        assert trainer.is_paused
        go_on.set()
        assert spy.blocked.wait(60), "the loop did not block in its pause"
        assert wait_until(lambda: trainer.is_waiting)  # set as it blocks, an instant later
        assert worker.is_alive()
        # Blocked at the boundary after its first step: no step was taken while paused.
        assert spy.boundaries == 2
        assert all(len(h) == 1 for h in strategy.histories(trainer))
        trainer.resume()
        assert not trainer.is_paused
        worker.join(60)
        assert not worker.is_alive()
    finally:
        go_on.set()
        trainer.request_stop()
        worker.join(5)
    assert out[0].state == "finished"
    results = strategy.results(out[0])
    assert all(len(r.history) == 4 * STEPS_PER_EPOCH for r in results)
    assert_steps_cover_histories(rec.steps(), [r.history for r in results], 4 * STEPS_PER_EPOCH)


def test_a_stop_while_paused_wakes_the_loop_before_its_first_step(strategy, small_dataset):
    trainer = strategy.trainer(small_dataset, 3)
    spy = BlockedSpy(trainer)
    trainer.pause()  # paused before the first step
    worker, out = run_in_thread(trainer)
    try:
        assert spy.blocked.wait(60)  # blocked at its first batch boundary
        assert worker.is_alive() and all(len(h) == 0 for h in strategy.histories(trainer))
        trainer.request_stop()  # how soon it returns: benchmarks/control_latency.py
        worker.join(60)
        assert not worker.is_alive()
    finally:
        trainer.request_stop()
        worker.join(5)
    assert out[0].state == "stopped" and spy.boundaries == 1
    results = strategy.results(out[0])
    assert all(len(r.history) == 0 for r in results)
    assert all(all(bool(torch.isfinite(p).all()) for p in r.model.parameters()) for r in results)
