"""The training timeline: its schedule, recording at exact steps, replay alignment, storage."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load

from helpers import train_config
from latent_explorer.models import build_model
from latent_explorer.training.record.checkpoint import checkpoint_bytes
from latent_explorer.training.record.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_of,
    load_checkpoint,
    save_checkpoint,
)
from latent_explorer.training.data.datasets import Split
from latent_explorer.training.engine.loop import SnapshotEvent, Trainer, TrainingObserver
from latent_explorer.training.record.timeline import (
    FixedInputs,
    SnapshotSchedule,
    TimelineRecorder,
    align_coords,
    fixed_test_indices,
    new_timeline,
    pick_snapshots,
    procrustes_rotation,
    snapshot_schedule,
    take_snapshot,
)

pytestmark = pytest.mark.numerics  # compares code paths: `make test-numerics`


TIMELINE = dict(nz=8, hidden=(64, 32), epochs=3, lr=3e-3, seed=2)  # 30 steps on small_dataset


class Snaps(TrainingObserver):
    def __init__(self) -> None:
        self.events: list[SnapshotEvent] = []

    def on_snapshot(self, event: SnapshotEvent) -> None:
        self.events.append(event)


@pytest.fixture(scope="module")
def recorded(small_dataset):
    """A 3-epoch VAE run (10 steps per epoch) with a timeline and its snapshot events."""
    obs = Snaps()
    trainer = Trainer(train_config(TIMELINE), small_dataset, [obs], timeline=TimelineRecorder(n_codes=150))
    result = trainer.run()
    assert result.state == "finished", result.error
    return trainer, result, obs


# -- the schedule ------------------------------------------------------------------------------
@pytest.mark.parametrize("spe,epochs", [(1, 1), (10, 1), (10, 4), (71, 60), (71, 61), (71, 100),
                                        (938, 10), (938, 1000), (5, 100_000), (100_000, 3)])
def test_schedule_is_bounded_sorted_and_covers_start_and_end(spe, epochs):
    s = snapshot_schedule(spe, epochs)
    assert len(s) <= 100
    assert s.steps[0] == 0 and np.all(np.diff(s.steps) > 0) and np.all(np.diff(s.epochs) > 0)
    assert s.epochs[-1] == epochs and s.steps[-1] <= spe * epochs
    # no step is recorded twice: an epoch end the schedule keeps is not also a plain step
    assert not np.isin(s.steps, s.epochs * spe).any()


def test_sixty_epoch_run_keeps_every_epoch_end_and_is_dense_early():
    s = snapshot_schedule(71, 60)  # the bundled sample at batch 64: ~4,300 steps
    assert s.epochs.tolist() == list(range(1, 61))
    assert s.steps[:5].tolist() == [0, 1, 2, 3, 4]
    ratios = s.steps[3:] / s.steps[2:-1]  # from step 2 on (2/1 is the only ratio of 2)
    assert ratios.max() <= 1.5 + 1e-9  # at most √2 (then rounding) between log steps
    first_epoch = (s.steps > 0) & (s.steps < 71)
    assert first_epoch.sum() >= (s.steps > 71).sum()  # 1.6 % of the steps, half the log grid


def test_long_runs_thin_epoch_ends_by_powers_of_two():
    s = snapshot_schedule(10, 300)
    every = s.epochs[0]
    assert every in (2, 4, 8) and np.all(s.epochs[:-1] % every == 0)
    assert len(s.epochs) <= 75


def test_short_runs_snapshot_every_early_step():
    s = snapshot_schedule(10, 2)
    assert set(s.steps.tolist()) | set((s.epochs * 10).tolist()) == set(range(0, 21))


def test_schedule_queries():
    s = SnapshotSchedule(np.array([0, 1, 5, 9]), np.array([1, 2]))
    assert s.wants_step(5) and not s.wants_step(6) and s.wants_epoch(2) and not s.wants_epoch(3)
    assert s.next_step_after(0) == 1 and s.next_step_after(5) == 9
    assert s.next_step_after(9) > 10**15


@pytest.mark.parametrize("args", [(0, 3), (10, 0), (10, 3, 1)])
def test_schedule_refuses_nonsense(args):
    with pytest.raises(ValueError):
        snapshot_schedule(*args)


def test_extended_schedule_keeps_the_bound_after_retain(small_dataset):
    model = build_model(train_config(TIMELINE).model_config())
    tl = new_timeline(model, small_dataset.test, n_codes=20)
    one = take_snapshot(model, FixedInputs.from_timeline(tl, small_dataset.test, model), 0, 0.0)
    first = snapshot_schedule(10, 60)
    for st in first.steps:
        tl.add(replace(one, step=int(st), epoch=st / 10))
    for e in first.epochs:
        tl.add(replace(one, step=int(e) * 10, epoch=float(e), at_epoch_end=True))
    assert len(tl) == len(first)
    longer = snapshot_schedule(10, 600)
    dropped = tl.retain(longer, up_to_step=600)
    assert dropped > 0
    later = (longer.steps > 600).sum() + (longer.epochs > 60).sum()
    assert len(tl) + later <= 100
    assert all(s.step % 20 == 0 for s in tl.snapshots if s.at_epoch_end)  # every 2nd epoch kept


# -- fixed inputs ------------------------------------------------------------------------------
def test_fixed_images_are_the_live_strips(small_dataset):
    from latent_explorer.explorer.session.jobs import fixed_test_indices as gui_indices

    labels = small_dataset.test.labels.numpy()
    for count in (4, 10, 16):
        assert fixed_test_indices(labels, count).tolist() == gui_indices(labels, count).tolist()
    idx = fixed_test_indices(labels)
    assert sorted(labels[idx].tolist()) == list(range(10))


def test_new_timeline_fixes_seeded_codes(small_dataset):
    model = build_model(train_config(TIMELINE, kind="cvae").model_config())
    a = new_timeline(model, small_dataset.test, seed=5)
    b = new_timeline(model, small_dataset.test, seed=5)
    c = new_timeline(model, small_dataset.test, seed=6)
    assert np.array_equal(a.sample_z, b.sample_z) and not np.array_equal(a.sample_z, c.sample_z)
    assert a.sample_labels.tolist() == list(range(10))  # a CVAE: one fixed z per class
    assert len(a.code_indices) == len(small_dataset.test)  # 200 < 1,000: all of them
    vae = new_timeline(build_model(train_config(TIMELINE).model_config()), small_dataset.test)
    assert vae.sample_labels is None and len(vae.sample_z) == 20


# -- recording in the loop ---------------------------------------------------------------------
def test_snapshots_land_on_exactly_the_scheduled_steps(recorded):
    trainer, result, _ = recorded
    tl = trainer.timeline_recorder.timeline
    s = snapshot_schedule(10, 3)
    expected = sorted(s.steps.tolist() + (s.epochs * 10).tolist())
    assert tl.steps.tolist() == expected
    ends = [x for x in tl.snapshots if x.at_epoch_end]
    assert [x.step for x in ends] == [10, 20, 30]
    assert [x.metrics for x in ends] == [e.metrics for e in result.history.epochs]
    mid = [x for x in tl.snapshots if not x.at_epoch_end and x.step > 0]
    assert all(x.metrics is None for x in mid)
    assert all(abs(x.epoch - x.step / 10) < 1e-9 for x in tl.snapshots)


def test_snapshot_contents(recorded, small_dataset):
    trainer, _, _ = recorded
    tl = trainer.timeline_recorder.timeline
    snap = tl.snapshots[-1]
    assert snap.reconstructions.dtype == np.uint8 and snap.reconstructions.shape == (10, 1, 28, 28)
    assert snap.samples.dtype == np.uint8 and snap.samples.shape == (20, 1, 28, 28)
    assert snap.coords.shape == (150, 2) and np.isfinite(snap.coords).all()
    assert 0 < snap.explained.sum() <= 1
    # the final snapshot is the final model's, recomputed independently
    model = trainer.model
    x = small_dataset.test.float_images(torch.from_numpy(tl.image_indices))
    rec = (model.reconstruct(x).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(rec, snap.reconstructions)
    # the model learned between the first and last snapshot
    first, last = tl.snapshots[0], tl.snapshots[-1]
    err0 = np.abs(first.reconstructions.astype(int) - tl.originals).mean()
    err1 = np.abs(last.reconstructions.astype(int) - tl.originals).mean()
    assert err1 < err0 * 0.8


def test_step_zero_is_the_untrained_model(recorded, small_dataset):
    trainer, _, _ = recorded
    tl = trainer.timeline_recorder.timeline
    fresh = build_model(train_config(TIMELINE).model_config(), torch.Generator().manual_seed(train_config(TIMELINE).seed))
    again = take_snapshot(fresh, FixedInputs.from_timeline(tl, small_dataset.test, fresh), 0, 0.0)
    assert tl.snapshots[0].step == 0
    assert np.array_equal(again.reconstructions, tl.snapshots[0].reconstructions)
    assert np.array_equal(again.samples, tl.snapshots[0].samples)


def test_observer_hears_each_snapshot(recorded):
    trainer, _, obs = recorded
    tl = trainer.timeline_recorder.timeline
    assert [e.snapshot.step for e in obs.events] == tl.steps.tolist()
    assert [e.index for e in obs.events] == list(range(len(tl)))
    assert obs.events[-1].count == len(tl)


def test_an_observer_missing_a_hook_is_refused_before_training(small_dataset):
    class Old:  # duck-typed, written before on_snapshot existed
        def on_train_start(self, trainer): ...
        def on_steps(self, event): ...
        def on_epoch_end(self, event): ...
        def on_train_end(self, result): ...

    with pytest.raises(TypeError, match="on_snapshot"):
        Trainer(train_config(TIMELINE, epochs=1), small_dataset, [Old()], timeline=TimelineRecorder(n_codes=20))


def test_recording_leaves_training_unchanged(small_dataset):
    plain = Trainer(train_config(TIMELINE, epochs=2), small_dataset).run()
    with_tl = Trainer(train_config(TIMELINE, epochs=2), small_dataset, timeline=TimelineRecorder(n_codes=50)).run()
    for a, b in zip(plain.model.parameters(), with_tl.model.parameters()):
        assert torch.equal(a, b)


# -- replay alignment ------------------------------------------------------------------------
def _rotation(theta: float, flip: bool) -> np.ndarray:
    r = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return r @ np.diag([1.0, -1.0]) if flip else r


@pytest.mark.parametrize("theta,flip", [(0.0, True), (0.7, False), (2.5, True), (np.pi, False)])
def test_alignment_undoes_a_rotation_or_flip(theta, flip):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2)) * [3.0, 1.0]
    y = x @ _rotation(theta, flip)
    r = procrustes_rotation(y, x)
    assert np.allclose(r @ r.T, np.eye(2), atol=1e-12)
    aligned = align_coords([x, y])
    assert np.abs(aligned[1] - x).max() < 1e-5
    assert np.abs(aligned[0] - x).max() < 1e-5  # the first is kept as it is


def test_aligned_replay_moves_smoothly():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(200, 2)) * [2.0, 1.0]
    frames = []
    for _ in range(10):  # a slowly drifting map whose PCA axes flip and turn at random
        points = points + 0.02 * rng.normal(size=points.shape)
        frames.append(points @ _rotation(rng.uniform(0, 2 * np.pi), bool(rng.integers(2))))
    raw_jumps = [np.abs(b - a).mean() for a, b in zip(frames, frames[1:])]
    aligned = align_coords(frames)
    jumps = [np.abs(b - a).mean() for a, b in zip(aligned, aligned[1:])]
    assert max(jumps) < 0.1 < min(raw_jumps)


def test_alignment_refuses_mismatched_shapes():
    with pytest.raises(ValueError):
        procrustes_rotation(np.zeros((3, 2)), np.zeros((4, 2)))


# -- storage -----------------------------------------------------------------------------------
def test_timeline_round_trips_through_a_checkpoint(recorded, tmp_path):
    trainer, result, _ = recorded
    path = save_checkpoint(tmp_path / "run.safetensors", checkpoint_of(trainer, result, "run"))
    loaded = load_checkpoint(path).timeline
    tl = trainer.timeline_recorder.timeline
    assert loaded is not None and loaded.steps.tolist() == tl.steps.tolist()
    for a, b in zip(tl.snapshots, loaded.snapshots):
        assert a.step == b.step and a.epoch == b.epoch and a.at_epoch_end == b.at_epoch_end
        assert a.metrics == b.metrics
        for f in ("reconstructions", "samples", "coords", "explained"):
            x, y = getattr(a, f), getattr(b, f)
            assert np.array_equal(x, y) and x.dtype == y.dtype
    for f in ("image_indices", "originals", "image_labels", "sample_z", "code_indices",
              "code_labels"):
        assert np.array_equal(getattr(tl, f), getattr(loaded, f))
    assert np.allclose(loaded.aligned_coords(), tl.aligned_coords())


def test_an_empty_timeline_round_trips(small_dataset, tmp_path):
    model = build_model(train_config(TIMELINE, kind="cvae").model_config())
    tl = new_timeline(model, small_dataset.test, n_codes=30)
    path = save_checkpoint(tmp_path / "e.safetensors",
                           Checkpoint(model, train_config(TIMELINE, kind="cvae"), timeline=tl))
    loaded = load_checkpoint(path).timeline
    assert loaded is not None and len(loaded) == 0
    assert loaded.sample_labels.tolist() == tl.sample_labels.tolist()
    assert loaded.aligned_coords().shape == (0, 30, 2) and loaded.index_at(5) == -1


def test_checkpoint_without_timeline_opens_with_none(recorded, tmp_path):
    _, result, _ = recorded
    path = save_checkpoint(tmp_path / "old.safetensors",
                           Checkpoint(result.model, train_config(TIMELINE), result.history, result.metrics))
    ck = load_checkpoint(path)
    assert ck.timeline is None and ck.resume is None


@pytest.mark.parametrize("damage", ["drop_tensor", "bad_meta", "wrong_count"])
def test_damaged_timeline_is_refused(recorded, tmp_path, damage):
    trainer, result, _ = recorded
    path = save_checkpoint(tmp_path / "run.safetensors", checkpoint_of(trainer, result, "run"))
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    tensors = st_load(raw)
    if damage == "drop_tensor":
        del tensors["timeline.samples"]
    elif damage == "bad_meta":
        meta["timeline"] = "[1, 2"
    else:
        tensors["timeline.steps"] = tensors["timeline.steps"][:-1].clone()
    path.write_bytes(checkpoint_bytes(tensors, meta))  # re-checksummed: the inner checks
    with pytest.raises(CheckpointError, match="timeline"):
        load_checkpoint(path)


def test_slider_lookups(recorded):
    tl = recorded[0].timeline_recorder.timeline
    steps = tl.steps
    assert tl.index_at(steps[3]) == 3 and tl.index_at(steps[3] + 0) == 3
    assert tl.index_at(10**9) == len(tl) - 1
    assert tl.nearest(steps[-1] + 1000) == len(tl) - 1
    assert pick_snapshots(tl, count=4)[0] == 0 and pick_snapshots(tl, count=4)[-1] == len(tl) - 1
    assert len(pick_snapshots(tl, count=4)) == 4
    assert pick_snapshots(tl, steps=[0, 1, 1]) == [0, 1]


def test_recorder_restarts_a_timeline_from_other_test_images(recorded, small_dataset):
    tl = recorded[0].timeline_recorder.timeline
    te = small_dataset.test
    other = Split(te.images.flip(0), te.labels.flip(0))
    assert tl.matches(te, 8) and not tl.matches(other, 8) and not tl.matches(te, 9)
    rec = TimelineRecorder(tl)
    rec.begin(recorded[0].model, other, 10, 4, start_step=30)
    assert rec.timeline is not tl and len(rec.timeline) == 0 and rec.notices


def test_an_ae_timeline(small_dataset):
    rec = TimelineRecorder(n_codes=40)
    r = Trainer(train_config(TIMELINE, epochs=1, kind="ae"), small_dataset, timeline=rec).run()
    assert r.state == "finished"
    last = rec.timeline.snapshots[-1]
    assert last.at_epoch_end and last.metrics.neg_elbo is None and last.coords.shape == (40, 2)
