"""One owner of run state: jobs never write a Run, the session applies their events in one
place (explorer/session/run_owner.py), a run keeps one History, and the run list draws progress
from the session without a copy of its own."""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from helpers import train_config
from latent_explorer.explorer.session.job_events import StateChanged, StepsEvent, TrainingEnded
from latent_explorer.explorer.session.run_owner import append_steps, apply_event, same_steps
from latent_explorer.training.record.history import History
from latent_explorer.training.record.run import Run, RunState

WAIT_MS = 30_000
OWNER = "run_owner.py"


@pytest.fixture
def session(qtbot, datasets):
    from latent_explorer.explorer.session.session import RunSession

    s = RunSession(datasets, score=False)
    yield s
    assert s.shutdown(2000)


@pytest.fixture
def writes(monkeypatch):
    """Every attribute set on a Run from now on: (name, thread id, file of the code setting it)."""
    seen: list[tuple[str, int, str]] = []
    real = object.__setattr__

    def hook(self, name, value):
        seen.append((name, threading.get_ident(), Path(sys._getframe(1).f_code.co_filename).name))
        real(self, name, value)

    monkeypatch.setattr(Run, "__setattr__", hook)
    return seen


def steps_event(first: int, losses: list[float], epoch: int = 1, per_epoch: int = 10,
                total: int = 100) -> StepsEvent:
    """A one-member StepsEvent of `losses` (recon = loss, kl = loss / 10, total = their sum)."""
    r = np.array([losses], dtype=np.float32)
    return StepsEvent(first, r, r / 10, r * 1.1, epoch, (first + len(losses)) % per_epoch,
                      per_epoch, total, 50.0)


def test_a_training_run_is_written_only_by_the_reducer_and_only_in_the_gui_thread(
        qtbot, session, writes):
    run = session.start(train_config(epochs=2))
    before = len(writes)  # the session's own set-up (its name, its folder) came first
    qtbot.waitUntil(lambda: run.state == RunState.FINISHED and not session.has_active,
                    timeout=WAIT_MS)
    during = writes[before:]
    names = {name for name, _, _ in during}
    assert {"state", "dataset", "metrics", "model", "timeline", "saved"} <= names
    assert "history" not in names  # its one History grew; it was never swapped for the loop's
    assert {ident for _, ident, _ in during} == {threading.main_thread().ident}
    assert {where for _, _, where in during} == {OWNER}  # not jobs.py, not a worker thread
    assert run.model is not None and len(run.history) == 20


def test_a_training_run_keeps_one_history_that_holds_the_loops_steps(qtbot, session):
    ended = []
    session.run_event.connect(lambda r, e: ended.append(e) if isinstance(e, TrainingEnded)
                              else None)
    run = session.start(train_config(epochs=2))
    history = run.history
    qtbot.waitUntil(lambda: bool(ended) and not session.has_active, timeout=WAIT_MS)
    loops = ended[-1].result.history
    assert run.history is history and loops is not history  # the run's own, streamed
    assert len(history) == len(loops) == 20 and same_steps(history, loops)
    np.testing.assert_array_equal(history.total, loops.total)
    assert [(e.epoch, e.step) for e in history.epochs] == [(1, 10), (2, 20)]


def test_steps_go_in_at_their_step_numbers_and_a_redone_stretch_replaces_its_steps():
    h = History()
    append_steps(h, steps_event(0, [1.0, 2.0, 3.0, 4.0]))
    h.add_epoch(1, 2, None)
    h.add_epoch(2, 4, None)
    append_steps(h, steps_event(4, [5.0, 6.0]))
    assert len(h) == 6
    np.testing.assert_allclose(h.recon, [1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(h.total, np.float32([1, 2, 3, 4, 5, 6]) * np.float32(1.1))
    assert np.isnan(h.beta).all()  # β was fixed
    # Continued from the checkpoint at step 2 (the end of epoch 1): steps 2.. are redone.
    append_steps(h, steps_event(2, [30.0, 40.0, 50.0]))
    np.testing.assert_allclose(h.recon, [1, 2, 30, 40, 50])
    assert [e.epoch for e in h.epochs] == [1]
    # A gap (steps never told) keeps later steps at their numbers.
    append_steps(h, steps_event(7, [8.0]))
    assert len(h) == 8 and np.isnan(h.recon[5:7]).all() and h.recon[7] == 8.0


def test_the_reducer_is_the_only_thing_a_state_change_goes_through():
    run = Run("r", train_config())
    run.measures["quality"] = 0.5
    apply_event(run, StateChanged(RunState.RUNNING))
    assert run.state == RunState.RUNNING and run.measures == {}  # figures of old weights gone
    run.snapshot_epoch = 3
    apply_event(run, StateChanged(RunState.FAILED, "diverged at step 7"))
    assert run.state == RunState.FAILED and run.error == "diverged at step 7"
    assert run.snapshot_epoch is None
    apply_event(run, StateChanged(RunState.FAILED))  # no error given: the reason stays
    assert run.error == "diverged at step 7"
    with pytest.raises(TypeError, match="unknown job event"):
        apply_event(run, object())


def test_the_run_lists_progress_follows_run_changed_without_a_copy(qtbot, session):
    from latent_explorer.explorer.views.run_table import COL_PROGRESS, RunTableModel

    model = RunTableModel()
    model.set_progress_source(session.progress_of)
    session.run_changed.connect(lambda r, what: model.progress_changed(r)
                                if what == "progress" else None)
    run = session.add(Run("r", train_config(epochs=10)))
    model.add_run(run, "#000000")
    painted: list = []
    model.dataChanged.connect(lambda a, b: painted.append((a.row(), a.column(), b.column())))

    def tell(ev) -> None:  # as the queue does with a job's (run, event) pair
        session.queue.owner(run, ev)
        session.queue.event.emit(run, ev)

    cell = model.index(0, COL_PROGRESS)
    tell(StateChanged(RunState.RUNNING))
    assert model.data(cell) == ""  # no step yet
    with qtbot.waitSignal(model.progress_repainted, timeout=2000):
        tell(steps_event(0, [0.5] * 5))
    assert (0, COL_PROGRESS, COL_PROGRESS) in painted
    assert "epoch 1/10 · step 5/100 · " in model.data(cell)
    painted.clear()
    with qtbot.waitSignal(model.progress_repainted, timeout=2000):
        tell(steps_event(5, [0.4] * 3))
        tell(steps_event(8, [0.3] * 4, epoch=2))  # both within one throttled repaint
    assert painted.count((0, COL_PROGRESS, COL_PROGRESS)) == 1
    assert "epoch 2/10 · step 12/100 · " in model.data(cell)
    assert model.data(cell) == session.progress_of(run).text()
    assert len(run.history) == 12  # the session appended the steps to the run's own history
    assert not hasattr(model, "progress")  # the table reads the session's; it keeps none


@pytest.mark.parametrize("capacity", [1, 5, 1024])
def test_extend_holds_what_step_by_step_appends_hold(capacity):
    # The window's event handler appends a whole StepsEvent at once: the same buffer as one
    # append per step, past the capacity too.
    rng = np.random.default_rng(0)
    one, many = History(capacity), History(capacity)
    for n, with_beta in [(3, False), (7, True), (1, True), (40, False)]:
        recon, kl, total = rng.normal(size=(3, n))
        beta = rng.uniform(size=n) if with_beta else None
        for i in range(n):
            one.append(recon[i], kl[i], total[i], beta[i] if with_beta else math.nan)
        many.extend(recon, kl, total, beta)
    assert len(many) == len(one) == 51
    for a, b in ((one.recon, many.recon), (one.kl, many.kl), (one.total, many.total),
                 (one.beta, many.beta)):
        np.testing.assert_array_equal(a, b)
