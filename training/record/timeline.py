"""A training timeline: what a model made at log-spaced steps and at epoch ends, kept for replay.

Each snapshot holds the reconstructions of fixed test images, decodings of one fixed set of
prior codes, the 2-D PCA positions of ~1,000 fixed test codes and (at epoch ends) the test
metrics; images as uint8, so a 100-snapshot timeline is 2-3 MB. Qt-free: the loop records it
through `TimelineRecorder` (any trainer can: it only needs a model), checkpoints store it
(`timeline_to_tensors` / `timeline_from_tensors`), the GUI and the CLI replay it.

Why log-spaced: a model changes most in its first few hundred steps (the blurry mean digit,
then strokes, then classes), so evenly spaced snapshots would spend nearly all of the budget
on the slow end of training.
"""

from __future__ import annotations

import bisect
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.data.datasets import Split
from latent_explorer.training.metrics.evaluate import EvalMetrics
from latent_explorer.training.explore.panel_math import RECON_COUNT, Encoded, fixed_test_indices, latent_map, pick_indices
from latent_explorer.training.explore.render import make_grid, stack_grids, to_uint8

MAX_SNAPSHOTS = 100  # per timeline, whatever the run's length (see snapshot_schedule)
EPOCH_SHARE = 0.75  # at most this share of the budget goes to epoch ends (a 60-epoch run: all)
MAX_PER_OCTAVE = 16  # the densest log grid: 16 steps per doubling (every step up to ~23)
N_SAMPLES = 20  # prior samples for an AE/VAE; a CVAE gets one fixed z per class
N_CODES = 1000  # test codes placed on the latent map
TIMELINE_VERSION = 1
NEVER = sys.maxsize


# -- the schedule ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SnapshotSchedule:
    """When to record: after these step counts (0 = before training) and at these epochs' ends."""

    steps: np.ndarray  # int64, sorted; never an epoch end that `epochs` records
    epochs: np.ndarray  # int64, sorted, 1-based

    def __len__(self) -> int:
        return len(self.steps) + len(self.epochs)

    def wants_step(self, step: int) -> bool:
        i = int(np.searchsorted(self.steps, step))
        return i < len(self.steps) and int(self.steps[i]) == step

    def wants_epoch(self, epoch: int) -> bool:
        i = int(np.searchsorted(self.epochs, epoch))
        return i < len(self.epochs) and int(self.epochs[i]) == epoch

    def next_step_after(self, step: int) -> int:
        """The first scheduled mid-training step after `step`, or NEVER."""
        i = int(np.searchsorted(self.steps, step, side="right"))
        return int(self.steps[i]) if i < len(self.steps) else NEVER


def _log_grid(total: int, exp: int) -> np.ndarray:
    """round(2^(j / 2^exp)) for j = 0, 1, ... up to `total`, without repeats.

    Grids with a smaller `exp` are subsets of those with a larger one (j/2^exp is exact in
    floating point), which is what keeps the schedule nested when a run is extended.
    """
    if total < 1:
        return np.zeros(0, np.int64)
    per_octave = 2.0**exp
    j = np.arange(int(math.floor(math.log2(total) * per_octave)) + 2, dtype=np.float64)
    steps = np.unique(np.rint(np.exp2(j / per_octave)).astype(np.int64))
    return steps[steps <= total]


def snapshot_schedule(steps_per_epoch: int, epochs: int,
                      max_snapshots: int = MAX_SNAPSHOTS) -> SnapshotSchedule:
    """Step 0, every epoch end, and log-spaced steps between, at most `max_snapshots` in all.

    Epoch ends take up to EPOCH_SHARE of the budget; past that, every 2nd (4th, ...) epoch end
    and the last one. The rest goes to a log grid of 2^(j/m) steps with m the largest power of
    two (at most 16 per doubling) that fits.

    The bound across resumes: a resumed run plans the schedule of its new total, and
    `Timeline.retain` drops the snapshots recorded before that this schedule does not want, so
    a timeline never holds more than `max_snapshots`, however often a run is extended. Both
    thinning factors are powers of two, so what is dropped is a regular thinning (every other
    epoch end, or every other log step), never a stretch of training.
    """
    if steps_per_epoch < 1 or epochs < 1:
        raise ValueError(f"a schedule needs at least one step and one epoch, got "
                         f"{steps_per_epoch} steps per epoch and {epochs} epochs")
    if max_snapshots < 2:
        raise ValueError(f"max_snapshots must be at least 2, got {max_snapshots}")
    total = steps_per_epoch * epochs
    epoch_budget = max(1, int(EPOCH_SHARE * max_snapshots))
    every = 1
    while True:
        ends = sorted(set(range(every, epochs + 1, every)) | {epochs})
        if len(ends) <= epoch_budget:
            break
        every *= 2
    ends_arr = np.asarray(ends, np.int64)
    end_steps = ends_arr * steps_per_epoch
    room = max_snapshots - len(ends_arr) - 1  # 1: step 0, the untrained model
    grid = np.zeros(0, np.int64)
    for exp in range(int(math.log2(MAX_PER_OCTAVE)), -64, -1):
        g = _log_grid(total, exp)
        g = g[~np.isin(g, end_steps)]  # those are recorded at the epoch end, with metrics
        if len(g) <= room:
            grid = g
            break
    return SnapshotSchedule(np.concatenate([[0], grid]).astype(np.int64), ends_arr)


# -- the fixed inputs --------------------------------------------------------------------------
def fixed_code_indices(n_test: int, count: int = N_CODES, seed: int = 0) -> np.ndarray:
    """`count` test indices, drawn with a fixed seed (a sorted idx folder still mixes classes)."""
    return np.sort(pick_indices(n_test, count, shuffle=True, seed=seed))


# -- snapshots and the timeline ----------------------------------------------------------------
@dataclass(frozen=True, eq=False)  # compared by identity: its fields are arrays
class Snapshot:
    """What the model made after `step` optimizer steps (epoch may be fractional)."""

    step: int
    epoch: float
    reconstructions: np.ndarray  # (n, H, W) uint8: decode(posterior mean) of the fixed images
    samples: np.ndarray  # (m, H, W) uint8: decodings of the timeline's fixed prior codes
    coords: np.ndarray  # (k, 2) float16: this step's own PCA of the fixed codes (not aligned)
    explained: np.ndarray  # (2,) float32: share of the variance along each axis
    at_epoch_end: bool = False
    metrics: EvalMetrics | None = None  # the test metrics, at epoch ends


@dataclass(eq=False)
class Timeline:
    """A run's snapshots, oldest first, with the fixed inputs they were made from."""

    image_indices: np.ndarray  # (n,) int64 indices into the test split
    originals: np.ndarray  # (n, C, H, W) uint8 (files written before colour: (n, H, W))
    image_labels: np.ndarray  # (n,) int64
    sample_z: np.ndarray  # (m, nz) float32
    sample_labels: np.ndarray | None  # (m,) int64 for a CVAE, else None
    code_indices: np.ndarray  # (k,) int64 indices into the test split
    code_labels: np.ndarray  # (k,) int64
    snapshots: list[Snapshot] = field(default_factory=list)
    max_snapshots: int = MAX_SNAPSHOTS

    def __len__(self) -> int:
        return len(self.snapshots)

    @property
    def steps(self) -> np.ndarray:
        return np.array([s.step for s in self.snapshots], dtype=np.int64)

    def add(self, snap: Snapshot) -> int:
        """Insert in step order (an epoch end after a step snapshot of the same step); its index."""
        keys = [(s.step, s.at_epoch_end) for s in self.snapshots]
        i = bisect.bisect_right(keys, (snap.step, snap.at_epoch_end))
        self.snapshots.insert(i, snap)
        return i

    def position(self, snap: Snapshot) -> int:
        """The index of `snap` (the same object) in this timeline, newest first; -1 if absent."""
        for i in range(len(self.snapshots) - 1, -1, -1):
            if self.snapshots[i] is snap:
                return i
        return -1

    def retain(self, schedule: SnapshotSchedule, up_to_step: int | None = None) -> int:
        """Keep only snapshots `schedule` wants (and none after `up_to_step`); how many dropped."""
        keep = [s for s in self.snapshots
                if (schedule.wants_epoch(round(s.epoch)) if s.at_epoch_end
                    else schedule.wants_step(s.step))
                and (up_to_step is None or s.step <= up_to_step)]
        dropped = len(self.snapshots) - len(keep)
        self.snapshots = keep
        return dropped

    def index_at(self, step: int) -> int:
        """The last snapshot at or before `step` (the first when all are later); -1 when empty."""
        if not self.snapshots:
            return -1
        return max(0, int(np.searchsorted(self.steps, step, side="right")) - 1)

    def nearest(self, step: int) -> int:
        """The snapshot whose step is closest to `step` (the earlier on a tie); -1 when empty."""
        if not self.snapshots:
            return -1
        return int(np.argmin(np.abs(self.steps - int(step))))

    def aligned_coords(self) -> np.ndarray:
        """(S, k, 2) float32: each snapshot's map rotated/reflected onto the previous one."""
        return np.stack(align_coords([s.coords for s in self.snapshots])) if self.snapshots \
            else np.zeros((0, len(self.code_indices), 2), np.float32)

    def matches(self, test: Split, nz: int) -> bool:
        """Whether this timeline's fixed inputs come from `test` and fit a model with `nz` codes."""
        n = len(test)
        if self.sample_z.shape[1] != nz:
            return False
        for idx in (self.image_indices, self.code_indices):
            if len(idx) and (idx.min() < 0 or idx.max() >= n):
                return False
        imgs = _take(test.images, self.image_indices)
        labs = _take(test.labels, self.code_indices)
        return bool(np.array_equal(imgs, self.originals) and np.array_equal(labs, self.code_labels))


def _take(t: Tensor, idx: np.ndarray) -> np.ndarray:
    """Rows `idx` of a tensor on any device, as a CPU numpy array."""
    return t.index_select(0, torch.from_numpy(idx).to(t.device)).cpu().numpy()


def new_timeline(model: LatentModel, test: Split, n_images: int = RECON_COUNT,
                 n_samples: int | None = None, n_codes: int = N_CODES, seed: int = 0,
                 max_snapshots: int = MAX_SNAPSHOTS) -> Timeline:
    """An empty timeline with its fixed inputs: strip images, seeded prior codes, map codes."""
    cfg = model.config
    labels = test.labels.cpu().numpy()
    img_idx = fixed_test_indices(labels, n_images)
    code_idx = fixed_code_indices(len(test), n_codes, seed)
    if n_samples is None:
        n_samples = cfg.n_classes if cfg.is_conditional else N_SAMPLES
    # A CPU generator: the same seed gives the same codes on every device.
    z = torch.randn(n_samples, cfg.nz, generator=torch.Generator().manual_seed(seed))
    sample_labels = (np.arange(n_samples, dtype=np.int64) % cfg.n_classes
                     if cfg.is_conditional else None)
    return Timeline(
        image_indices=img_idx,
        originals=_take(test.images, img_idx).astype(np.uint8),
        image_labels=labels[img_idx].astype(np.int64),
        sample_z=z.numpy().astype(np.float32),
        sample_labels=sample_labels,
        code_indices=code_idx,
        code_labels=labels[code_idx].astype(np.int64),
        max_snapshots=max_snapshots,
    )


@dataclass(frozen=True)
class FixedInputs:
    """A timeline's fixed inputs as tensors on the model's device, prepared once per run."""

    images: Tensor  # (n, P) float in [0, 1]
    image_labels: Tensor | None
    z: Tensor  # (m, nz)
    sample_labels: Tensor | None
    codes: Tensor  # (k, P) float in [0, 1]
    code_labels: Tensor | None
    code_labels_np: np.ndarray

    @classmethod
    def from_timeline(cls, timeline: Timeline, test: Split, model: LatentModel) -> "FixedInputs":
        dev = model.device
        cond = model.config.is_conditional

        def pick(idx: np.ndarray) -> tuple[Tensor, Tensor | None]:
            i = torch.from_numpy(idx).to(test.images.device)
            x = test.images.index_select(0, i).to(dev).float().div_(255.0).flatten(1)
            y = test.labels.index_select(0, i).to(dev) if cond else None
            return x, y

        x, y = pick(timeline.image_indices)
        codes, code_y = pick(timeline.code_indices)
        sl = (torch.from_numpy(timeline.sample_labels).to(dev)
              if cond and timeline.sample_labels is not None else None)
        return cls(x, y, torch.from_numpy(timeline.sample_z).to(dev), sl, codes, code_y,
                   timeline.code_labels)


F16_MAX = float(np.finfo(np.float16).max)


def _to_float16(a: np.ndarray) -> np.ndarray:
    """float16, clipped: a model about to diverge can place codes beyond its range (65,504)."""
    return np.clip(np.nan_to_num(a, nan=0.0), -F16_MAX, F16_MAX).astype(np.float16)


@torch.no_grad()
def take_snapshot(model: LatentModel, inputs: FixedInputs, step: int, epoch: float,
                  metrics: EvalMetrics | None = None, at_epoch_end: bool = False) -> Snapshot:
    """One snapshot of `model` (in eval mode; its train/eval mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        rec = model.decode(model.encode(inputs.images, inputs.image_labels).mean,
                           inputs.image_labels)
        samples = model.decode(model.prior_codes(inputs.z), inputs.sample_labels)
        means = model.encode(inputs.codes, inputs.code_labels).mean.float().cpu()
    finally:
        model.train(was_training)
    # A model about to diverge (the loop notices at its next step) must not break recording.
    rec, samples = (torch.nan_to_num(t, nan=0.0) for t in (rec, samples))
    means = torch.nan_to_num(means, nan=0.0).clamp_(-F16_MAX, F16_MAX)
    lm = latent_map(Encoded(means, None, inputs.code_labels_np))
    return Snapshot(
        step=int(step), epoch=float(epoch),
        reconstructions=to_uint8(rec.cpu().numpy()),
        samples=to_uint8(samples.cpu().numpy()),
        coords=_to_float16(lm.coords),
        explained=lm.explained.astype(np.float32),
        at_epoch_end=at_epoch_end, metrics=metrics,
    )


class TimelineRecorder:
    """Records a Timeline while a model trains; any loop can drive it.

    Call `begin` once before the first step, `record_step` whenever the step count reaches
    `next_step` (one integer compare per step: the loop keeps `next_step` in a local), and
    `record_epoch_end` after each epoch's test metrics. Each returns the snapshots it recorded.
    """

    def __init__(self, timeline: Timeline | None = None, *, n_images: int = RECON_COUNT,
                 n_samples: int | None = None, n_codes: int = N_CODES, seed: int = 0,
                 max_snapshots: int = MAX_SNAPSHOTS) -> None:
        self.timeline = timeline
        self._options: dict[str, Any] = dict(n_images=n_images, n_samples=n_samples,
                                             n_codes=n_codes, seed=seed,
                                             max_snapshots=max_snapshots)
        self.schedule: SnapshotSchedule | None = None
        self.next_step = NEVER
        self.seconds = 0.0  # time spent recording, for the benchmarks
        self.notices: list[str] = []
        self._inputs: FixedInputs | None = None

    def begin(self, model: LatentModel, test: Split, steps_per_epoch: int, epochs: int,
              start_step: int = 0) -> list[Snapshot]:
        """Plan the schedule for `epochs` in total; continue the timeline from `start_step`."""
        t0 = time.perf_counter()
        tl = self.timeline
        if tl is not None and not tl.matches(test, model.config.nz):
            self.notices.append("the timeline was recorded on other test images; it starts "
                                "again from this step")
            tl = None
        if tl is None:
            tl = self.timeline = new_timeline(model, test, **self._options)
        self.schedule = snapshot_schedule(steps_per_epoch, epochs, tl.max_snapshots)
        tl.retain(self.schedule, up_to_step=start_step)
        self._inputs = FixedInputs.from_timeline(tl, test, model)
        out = []
        if start_step == 0 and not any(s.step == 0 for s in tl.snapshots):
            out.append(self._record(model, 0, 0.0))
        self.next_step = self.schedule.next_step_after(start_step)
        self.seconds += time.perf_counter() - t0
        return out

    def record_step(self, model: LatentModel, step: int, epoch: float) -> list[Snapshot]:
        """A snapshot when `step` is a scheduled step; moves `next_step` on either way."""
        if self.schedule is None:
            return []
        t0 = time.perf_counter()
        out = [self._record(model, step, epoch)] if self.schedule.wants_step(step) else []
        self.next_step = self.schedule.next_step_after(step)
        self.seconds += time.perf_counter() - t0
        return out

    def record_epoch_end(self, model: LatentModel, epoch: int, step: int,
                         metrics: EvalMetrics | None) -> list[Snapshot]:
        """A snapshot with the test metrics when the schedule records this epoch's end."""
        if self.schedule is None or not self.schedule.wants_epoch(epoch):
            return []
        t0 = time.perf_counter()
        out = [self._record(model, step, float(epoch), metrics, at_epoch_end=True)]
        self.seconds += time.perf_counter() - t0
        return out

    def _record(self, model: LatentModel, step: int, epoch: float,
                metrics: EvalMetrics | None = None, at_epoch_end: bool = False) -> Snapshot:
        assert self.timeline is not None and self._inputs is not None
        snap = take_snapshot(model, self._inputs, step, epoch, metrics, at_epoch_end)
        self.timeline.add(snap)
        return snap


# -- replay alignment ----------------------------------------------------------------------------
def procrustes_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The orthogonal 2x2 R (rotation or reflection) minimising ||source·R − target||.

    Orthogonal Procrustes (Schönemann 1966): with U S Vᵀ the SVD of sourceᵀ target, R = U Vᵀ.
    No scaling or shift: PCA coordinates are already centred, and a map that spreads out as
    the model learns should be seen spreading.
    """
    a = np.asarray(source, np.float64)
    b = np.asarray(target, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"coordinates must have the same (n, d) shape, got {a.shape} and "
                         f"{b.shape}")
    if len(a) == 0:
        return np.eye(a.shape[1])
    u, _, vt = np.linalg.svd(a.T @ b)
    return u @ vt


def align_coords(coords: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each 2-D projection rotated/reflected onto the previous (aligned) one, float32.

    Successive PCAs of a changing model can swap, flip or rotate their axes; without this the
    replayed map would jump between snapshots. The first projection is kept as it is.
    """
    out: list[np.ndarray] = []
    for c in coords:
        c = np.asarray(c, np.float64)
        if out:
            c = c @ procrustes_rotation(c, out[-1])
        out.append(c)
    return [c.astype(np.float32) for c in out]


# -- checkpoint storage ----------------------------------------------------------------------------
PREFIX = "timeline."


def timeline_to_tensors(tl: Timeline) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The tensors (all under 'timeline.') and the metadata entry that store `tl`."""
    s = tl.snapshots
    shape = tuple(tl.originals.shape[1:]) if tl.originals.ndim >= 3 else (1, 28, 28)
    n, m, k = len(tl.image_indices), len(tl.sample_z), len(tl.code_indices)

    def stack(arrays: list[np.ndarray], shape: tuple[int, ...], dtype) -> Tensor:
        a = np.stack(arrays).astype(dtype) if arrays else np.zeros((0, *shape), dtype)
        return torch.from_numpy(np.ascontiguousarray(a))

    t = {
        "image_indices": torch.from_numpy(tl.image_indices.astype(np.int64)),
        "originals": torch.from_numpy(np.ascontiguousarray(tl.originals.astype(np.uint8))),
        "image_labels": torch.from_numpy(tl.image_labels.astype(np.int64)),
        "sample_z": torch.from_numpy(tl.sample_z.astype(np.float32)),
        "code_indices": torch.from_numpy(tl.code_indices.astype(np.int64)),
        "code_labels": torch.from_numpy(tl.code_labels.astype(np.int64)),
        "steps": torch.tensor([x.step for x in s], dtype=torch.int64),
        "epochs": torch.tensor([x.epoch for x in s], dtype=torch.float64),
        "epoch_end": torch.tensor([x.at_epoch_end for x in s], dtype=torch.uint8),
        "reconstructions": stack([x.reconstructions for x in s], (n, *shape), np.uint8),
        "samples": stack([x.samples for x in s], (m, *shape), np.uint8),
        "coords": stack([x.coords for x in s], (k, 2), np.float16),
        "explained": stack([x.explained for x in s], (2,), np.float32),
    }
    if tl.sample_labels is not None:
        t["sample_labels"] = torch.from_numpy(tl.sample_labels.astype(np.int64))
    meta = {"version": TIMELINE_VERSION, "max_snapshots": tl.max_snapshots,
            "metrics": [x.metrics.to_dict() if x.metrics else None for x in s]}
    return {PREFIX + k: v.contiguous() for k, v in t.items()}, {"timeline": json.dumps(meta)}


def timeline_from_tensors(tensors: dict[str, Tensor], meta: dict[str, str]) -> Timeline | None:
    """The Timeline stored by `timeline_to_tensors`; None when there is none; ValueError if bad."""
    if "timeline" not in meta:
        return None
    info = json.loads(meta["timeline"])
    if not isinstance(info, dict):
        raise ValueError("timeline metadata is not an object")
    if int(info.get("version", 0)) > TIMELINE_VERSION:
        raise ValueError(f"timeline version {info.get('version')} is newer than this code reads")

    def get(name: str) -> np.ndarray:
        key = PREFIX + name
        if key not in tensors:
            raise ValueError(f"timeline tensor {name!r} missing")
        return tensors[key].numpy()

    steps, epochs, ends = get("steps"), get("epochs"), get("epoch_end")
    recs, samples, coords, explained = (get("reconstructions"), get("samples"), get("coords"),
                                        get("explained"))
    originals, img_idx, sample_z, code_idx = (get("originals"), get("image_indices"),
                                              get("sample_z"), get("code_indices"))
    if originals.ndim == 3:  # written before colour: grey (n, H, W) images, one channel added
        originals, recs, samples = originals[:, None], recs[:, :, None], samples[:, :, None]
    metrics = info.get("metrics", [])
    n_snap = len(steps)
    if not (len(epochs) == len(ends) == len(recs) == len(samples) == len(coords)
            == len(explained) == len(metrics) == n_snap):
        raise ValueError("timeline arrays disagree on the number of snapshots")
    if (recs.ndim != 5 or recs.shape[1:] != originals.shape or samples.ndim != 5
            or samples.shape[1] != len(sample_z) or coords.shape[1:] != (len(code_idx), 2)
            or explained.shape[1:] != (2,) or originals.shape[0] != len(img_idx)):
        raise ValueError("timeline arrays have inconsistent shapes")
    snaps = [
        Snapshot(int(steps[i]), float(epochs[i]), recs[i].copy(), samples[i].copy(),
                 coords[i].copy(), explained[i].copy(), bool(ends[i]),
                 EvalMetrics.from_dict(metrics[i]) if metrics[i] else None)
        for i in range(n_snap)
    ]
    key = PREFIX + "sample_labels"
    return Timeline(
        image_indices=img_idx.astype(np.int64), originals=originals.astype(np.uint8),
        image_labels=get("image_labels").astype(np.int64), sample_z=sample_z.astype(np.float32),
        sample_labels=tensors[key].numpy().astype(np.int64) if key in tensors else None,
        code_indices=code_idx.astype(np.int64), code_labels=get("code_labels").astype(np.int64),
        snapshots=snaps, max_snapshots=int(info.get("max_snapshots", MAX_SNAPSHOTS)),
    )


# -- pictures: frames, GIF, contact sheet ----------------------------------------------------------
def snapshot_caption(snap: Snapshot) -> str:
    """'step 1,234  epoch 3.25' (plus the test BCE at an epoch end)."""
    text = f"step {snap.step:,}  epoch {snap.epoch:.2f}"
    if snap.metrics is not None:
        text += f"  test BCE {snap.metrics.bce:.4f}"
    return text


def snapshot_grid(tl: Timeline, index: int) -> np.ndarray:
    """Originals, their reconstructions, then the prior samples: one [0, 1] grid."""
    snap = tl.snapshots[index]
    cols = len(tl.originals)
    top = make_grid(np.concatenate([tl.originals, snap.reconstructions]).astype(np.float32) / 255,
                    ncols=cols)
    bottom = make_grid(snap.samples.astype(np.float32) / 255, ncols=cols)
    return stack_grids([top, bottom], gap=2, pad_value=1.0)  # a white gap: samples below


def pick_snapshots(tl: Timeline, steps: Sequence[int] | None = None, count: int = 8) -> list[int]:
    """Indices of the snapshots nearest `steps`, or of `count` evenly spread ones (first, last)."""
    if not tl.snapshots:
        return []
    if steps:
        out: list[int] = []
        for s in steps:
            i = tl.nearest(int(s))
            if i not in out:
                out.append(i)
        return out
    n = len(tl.snapshots)
    return sorted(set(np.rint(np.linspace(0, n - 1, max(1, min(count, n)))).astype(int).tolist()))


def _with_caption(grid: np.ndarray, text: str, scale: int):
    """A PIL image: the upscaled grid under a band with `text` in it."""
    from PIL import Image, ImageDraw, ImageFont  # imported late: start-up stays fast

    img = to_uint8(grid)
    img = img.repeat(scale, axis=0).repeat(scale, axis=1)
    font = ImageFont.load_default()
    band = 14 + 2 * scale
    mode = "RGB" if img.ndim == 3 else "L"
    out = Image.new(mode, (img.shape[1], img.shape[0] + band), "white")
    out.paste(Image.fromarray(img), (0, band))
    ImageDraw.Draw(out).text((4, (band - 10) // 2), text, fill=0, font=font)
    return out


def write_gif(tl: Timeline, path: str | Path, indices: Sequence[int] | None = None,
              frame_ms: int = 150, hold_last_ms: int = 1500, scale: int = 2) -> Path:
    """An animated GIF: one frame per snapshot (or per index), its step written on it."""
    if not tl.snapshots:
        raise ValueError("the timeline has no snapshots")
    idx = list(range(len(tl.snapshots))) if indices is None else list(indices)
    frames = [_with_caption(snapshot_grid(tl, i), snapshot_caption(tl.snapshots[i]), scale)
              for i in idx]
    durations = [frame_ms] * len(frames)
    durations[-1] = max(frame_ms, hold_last_ms)
    path = Path(path)
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:],
                   duration=durations, loop=0)
    return path


def write_contact_sheet(tl: Timeline, path: str | Path, indices: Sequence[int],
                        scale: int = 2) -> Path:
    """A PNG: the chosen snapshots' grids one under another, each with its step."""
    from PIL import Image

    if not indices:
        raise ValueError("no snapshots chosen")
    tiles = [_with_caption(snapshot_grid(tl, i), snapshot_caption(tl.snapshots[i]), scale)
             for i in indices]
    gap = 4 * scale
    width = max(t.width for t in tiles)
    sheet = Image.new(tiles[0].mode, (width, sum(t.height for t in tiles) + gap * (len(tiles) - 1)),
                      "white")
    y = 0
    for t in tiles:
        sheet.paste(t, (0, y))
        y += t.height + gap
    path = Path(path)
    sheet.save(path, format="PNG")
    return path


__all__ = [
    "FixedInputs", "MAX_SNAPSHOTS", "Snapshot", "SnapshotSchedule", "Timeline",
    "TimelineRecorder", "align_coords", "fixed_code_indices", "fixed_test_indices",
    "new_timeline", "pick_snapshots", "procrustes_rotation", "snapshot_caption",
    "snapshot_grid", "snapshot_schedule", "take_snapshot", "timeline_from_tensors",
    "timeline_to_tensors", "write_contact_sheet", "write_gif",
]
