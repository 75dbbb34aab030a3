"""explorer/session/jobs.py on its own: the worker's events, the job's run updates, the queue's policy.

The worker's work runs synchronously in the test thread (as superqt's tests do): its `event`
signal is then delivered directly, in order, and no thread is involved.
"""

from __future__ import annotations

import pytest

from helpers import train_config
from latent_explorer.explorer.session.datasets import DatasetCache
from latent_explorer.explorer.session.job_events import (
    DatasetLoaded,
    EpochEvent,
    MemberEvent,
    ReconstructionsReady,
    StateChanged,
    StepsEvent,
    TrainingEnded,
    TrainingStarted,
)
from latent_explorer.explorer.session.jobs import JobQueue, TrainingJob, TrainingWorker
from latent_explorer.training.record.run import Run, RunState


TWO_EPOCHS = dict(epochs=2)  # 20 steps on small_dataset


@pytest.fixture
def cache(small_dataset) -> DatasetCache:
    c = DatasetCache()
    c.put("mnist-sample", None, small_dataset)
    return c


def record(signal) -> list:
    seen: list = []
    signal.connect(lambda *args: seen.append(args if len(args) != 1 else args[0]))
    return seen


def test_worker_reports_one_event_stream_in_order(qtbot, cache):
    worker = TrainingWorker(train_config(TWO_EPOCHS), cache)
    events = record(worker.event)
    finished = record(worker.finished)
    worker.run()  # synchronously, in this thread
    # What concerns one member comes wrapped with its index: a single run is member 0.
    assert all(e.member == 0 for e in events if isinstance(e, MemberEvent))
    events = [e.event if isinstance(e, MemberEvent) else e for e in events]
    kinds = [type(e) for e in events]
    assert kinds[:2] == [DatasetLoaded, TrainingStarted]
    assert kinds[2] is ReconstructionsReady  # "before training"
    assert kinds[-1] is TrainingEnded and events[-1].result.state == "finished"
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.epoch for e in epochs] == [1, 2]
    steps = [e for e in events if isinstance(e, StepsEvent)]
    assert all(e.n_members == 1 for e in steps)
    assert sum(e.n_steps for e in steps) == events[-1].result.history.n == 20
    # Every epoch end is followed by its reconstructions.
    for i, e in enumerate(events):
        if isinstance(e, EpochEvent):
            assert isinstance(events[i + 1], ReconstructionsReady)
            assert events[i + 1].caption == f"after epoch {e.epoch}"
    assert finished == [()]  # once, after the last event


def test_worker_failure_before_the_loop_ends_with_the_error(qtbot, cache, tmp_path):
    worker = TrainingWorker(train_config(TWO_EPOCHS, dataset="folder", data_dir=str(tmp_path)), cache)
    events = record(worker.event)
    worker.run()
    assert [type(e) for e in events] == [TrainingEnded]
    assert events[0].result is None and "not found" in events[0].error


def test_job_updates_its_run_then_passes_each_event_on(qtbot, cache):
    run = Run("r", train_config(TWO_EPOCHS))
    job = TrainingJob(run, cache)
    seen = record(job.event)
    job.worker.run()  # the job's slot is called directly: same thread
    assert all(r is run for r, _ in seen)
    events = [e for _, e in seen]
    assert isinstance(events[0], DatasetLoaded) and run.dataset is events[0].dataset
    end = events.index(next(e for e in events if isinstance(e, TrainingEnded)))
    assert events[end - 1] == StateChanged(RunState.FINISHED)  # the state, then the result
    assert run.state == RunState.FINISHED and run.model is not None and len(run.history) == 20
    assert [e.epoch for e in run.history.epochs] == [1, 2] and run.metrics is not None


def test_a_failed_run_keeps_the_engines_message(qtbot, cache):
    run = Run("r", train_config(TWO_EPOCHS, lr=1e3, epochs=3))
    job = TrainingJob(run, cache)
    seen = record(job.event)
    job.worker.run()
    assert run.state == RunState.FAILED and "diverged" in run.error
    assert seen[-1][1].error == run.error


def test_queue_runs_one_job_at_a_time_and_cancels_queued_ones(qtbot, cache):
    queue = JobQueue()
    first = Run("first", train_config(TWO_EPOCHS, epochs=1000))
    second = Run("second", train_config(TWO_EPOCHS))
    queue.submit(TrainingJob(first, cache))
    queue.submit(TrainingJob(second, cache))
    assert first.state == RunState.RUNNING and second.state == RunState.QUEUED
    events = record(queue.event)
    with qtbot.waitSignal(queue.job_finished) as blocker:
        queue.stop(second)  # queued: the job ends itself, no thread ever started
    assert blocker.args[0].runs == [second]
    assert [(r.name, type(e)) for r, e in events] == [("second", StateChanged),
                                                     ("second", TrainingEnded)]
    assert second.state == RunState.STOPPED and second.model is None
    with qtbot.waitSignal(queue.event, check_params_cb=lambda r, e: isinstance(e, StepsEvent),
                          timeout=30_000):
        pass  # the first run is in its loop
    with qtbot.waitSignal(queue.job_finished, timeout=30_000):
        queue.stop(first)
    assert first.state == RunState.STOPPED and first.model is not None
    assert not queue.has_active


def test_the_next_job_starts_when_one_ends(qtbot, cache):
    queue = JobQueue()
    runs = [Run(f"r{i}", train_config(TWO_EPOCHS, epochs=1)) for i in range(2)]
    for r in runs:
        queue.submit(TrainingJob(r, cache))
    qtbot.waitUntil(lambda: all(r.state == RunState.FINISHED for r in runs), timeout=30_000)
    qtbot.waitUntil(lambda: not queue.has_active)
    assert queue.jobs == []


def test_shutdown_stops_running_and_queued_jobs_within_the_timeout(qtbot, cache):
    queue = JobQueue()
    a, b = Run("a", train_config(TWO_EPOCHS, epochs=1000)), Run("b", train_config(TWO_EPOCHS))
    queue.submit(TrainingJob(a, cache))
    queue.submit(TrainingJob(b, cache))
    qtbot.waitUntil(lambda: a.state == RunState.RUNNING)
    assert queue.shutdown(2000)
    assert a.state == RunState.STOPPED and b.state == RunState.STOPPED
