"""RunSession without a window: start, open, save, rename, remove, stop, shut down."""

from __future__ import annotations

import pytest

from helpers import train_config
from latent_explorer.explorer.session.datasets import DatasetCache
from latent_explorer.explorer.session.job_events import ReconstructionsReady, TrainingEnded
from latent_explorer.explorer.session.session import SHUTDOWN_MIN_MS, RunSession
from latent_explorer.training.record.checkpoint import CheckpointError
from latent_explorer.training.record.run import RunState

WAIT_MS = 30_000


@pytest.fixture
def session(qtbot, datasets):
    s = RunSession(datasets)
    yield s
    assert s.shutdown(2000)


def ended(session, run):
    return lambda: run.state in (RunState.FINISHED, RunState.STOPPED, RunState.FAILED) \
        and not session.has_active


def test_start_trains_and_reports_through_the_session(qtbot, session):
    added, changed, events = [], [], []
    session.run_added.connect(added.append)
    session.run_changed.connect(lambda r, what: changed.append(r))
    session.run_event.connect(lambda r, e: events.append(e))
    run = session.start(train_config())
    assert added == [run] and run.name.startswith("VAE")
    qtbot.waitUntil(ended(session, run), timeout=WAIT_MS)
    assert run.state == RunState.FINISHED and run in session.usable_runs()
    assert isinstance(events[-1], TrainingEnded) and run in changed
    assert run.id in session.reconstructions and session.progress[run.id].step == 10
    assert session.unsaved_runs() == [run]


def test_save_open_round_trip_and_rename(qtbot, session, tmp_path):
    run = session.start(train_config(kind="cvae"))
    qtbot.waitUntil(ended(session, run), timeout=WAIT_MS)
    session.rename(run, "  my cvae ")
    assert run.name == "my cvae"
    path = session.save(run, tmp_path / "c")
    assert path.name == "c.safetensors" and run.saved and session.unsaved_runs() == []
    with qtbot.waitSignal(session.run_event, check_params_cb=lambda r, e: isinstance(
            e, ReconstructionsReady), timeout=WAIT_MS):
        loaded = session.open(path)
    # Its saved name, told apart from the run still in the session under it.
    assert loaded.name == "my cvae (2)" and loaded.state == RunState.FINISHED and loaded.saved
    assert loaded.dataset is run.dataset and loaded in session.usable_runs()
    assert "as loaded from c.safetensors" in session.reconstructions[loaded.id][1]


def test_open_refuses_a_bad_file_and_keeps_the_runs(qtbot, session, tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"nope")
    with pytest.raises(CheckpointError, match="not a Latent Explorer checkpoint"):
        session.open(bad)
    assert session.runs == []


def test_removing_a_training_run_stops_it_and_drops_its_late_events(qtbot, session):
    run = session.start(train_config(epochs=1000))
    qtbot.waitUntil(lambda: session.progress.get(run.id) is not None, timeout=WAIT_MS)
    late = []
    session.run_event.connect(lambda r, e: late.append(r))
    removed = []
    session.run_removed.connect(removed.append)
    session.remove(run)
    assert removed == [run] and session.runs == []
    qtbot.waitUntil(lambda: not session.has_active, timeout=WAIT_MS)
    assert run.state == RunState.STOPPED and late == []


def test_pause_resume_and_stop(qtbot, session):
    run = session.start(train_config(epochs=1000))
    qtbot.waitUntil(lambda: session.progress.get(run.id) is not None, timeout=WAIT_MS)
    session.toggle_pause(run)
    assert run.state == RunState.PAUSED
    session.toggle_pause(run)
    assert run.state == RunState.RUNNING
    session.stop(run)
    qtbot.waitUntil(ended(session, run), timeout=WAIT_MS)
    assert run.state == RunState.STOPPED and run.is_usable


def test_shutdown_stops_everything_at_once_within_one_deadline(qtbot, small_dataset,
                                                               monkeypatch):
    """Each thread waited for in turn, a full timeout each, made quitting take 3.5 s."""
    from types import SimpleNamespace

    from latent_explorer.explorer.session import session as session_module

    clock = SimpleNamespace(now=100.0)  # the session's deadline clock, moved by the test
    monkeypatch.setattr(session_module, "time", SimpleNamespace(monotonic=lambda: clock.now))
    s = RunSession(DatasetCache(), score=True)
    calls: list[tuple[str, float]] = []
    real_queue_shutdown = s.queue.shutdown
    real_scorer_shutdown = s.scorer.shutdown

    def slow_queue(ms):  # a job whose thread takes 1.5 s to see its stop
        calls.append(("queue", ms))
        clock.now += 1.5
        return real_queue_shutdown(ms)

    monkeypatch.setattr(s.scorer, "request_stop",
                        lambda real=s.scorer.request_stop: (calls.append(("scorer stop", 0)),
                                                            real())[1])
    monkeypatch.setattr(s.queue, "shutdown", slow_queue)
    monkeypatch.setattr(s.scorer, "shutdown",
                        lambda ms: (calls.append(("scorer", ms)), real_scorer_shutdown(ms))[1])
    assert s.shutdown(2000)
    order = [c for c, _ in calls]
    assert order[:3] == ["scorer stop", "queue", "scorer"]  # asked to stop before any wait
    queue_ms, scorer_ms = calls[1][1], calls[2][1]
    assert queue_ms == 2000  # nothing spent yet
    assert scorer_ms == max(SHUTDOWN_MIN_MS, 500)  # what the 2 s left, not 2 s more
