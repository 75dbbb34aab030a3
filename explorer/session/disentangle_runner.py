"""What each latent dimension encodes, scored off the GUI thread: MI matrix, MIG and DCI per run.

For every ended run whose dataset knows its generative factors (`dataset.factor_names`: the
sprites sources) or has class labels (the label is then the one factor, named "class"), the
Factors tab asks `DisentangleRunner.request(run)`. A worker thread encodes (up to) 10,000 test
images of a copy of the run's model (made in the GUI thread, as the IW scorer does) to their
posterior means and scores them with training/metrics/disentanglement.py (disentanglement_lib's
conventions; its docstring says which). `score_codes` is that scoring, Qt-free: tests and tools
give it codes directly.

Results live in one `FactorScoreStore` per process (`shared_factor_scores()`, as the latent maps'
`shared_maps()`): per run, the scores of one set of weights (`token`: the model object, which
continuing or a new epoch-end copy replaces). The Factors tab, the Latent map's traversal
sliders, the run list's tooltip and the Sweep tab read it and redraw on `changed(run_id)`.

Timeline snapshots cannot be scored: a snapshot keeps reconstructions, samples and 2-D map
positions of fixed test codes (training/record/timeline.py), not the codes or the weights.
A run still training can be scored on demand from the copy of its weights taken at its last
epoch end (`request(run, force=True)`).

Threads: one QThread per burst of requests (explorer/session/worker_thread.py): its `work`
drains the queue and ends; a request that arrives as it ends starts the next one. Scoring waits
while a training job runs (`set_training`), as the IW scorer does. `shutdown()` sets a stop flag
(checked between code batches and between runs), disconnects and waits, bounded; never
terminate().
"""

from __future__ import annotations

import copy
import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from latent_explorer.explorer.session.worker_thread import WorkerThread
from latent_explorer.explorer.session.worker_threads import lower_worker_priority
from latent_explorer.training.metrics.disentanglement import (
    MAX_POINTS,
    DCIResult,
    DimensionLabel,
    MIGResult,
    dci,
    describe_dimensions,
    mig,
    mutual_info_matrix,
    sample_index,
    sorted_dimensions,
)

if TYPE_CHECKING:
    from latent_explorer.training.data.datasets import Dataset, Split
    from latent_explorer.training.record.run import Run

CODE_BATCH = 500  # images per encoder pass: a stop request waits at most one batch
LABEL_FACTOR = "class"  # the one factor of a labelled dataset without known factors
MIG_CONVENTION = ("MIG as in disentanglement_lib: posterior means of up to 10,000 test images, "
                  "each dimension in 20 equal-width bins, MI in nats against each factor's "
                  "values; per factor (top MI − second MI) / H(factor), averaged over factors "
                  "(not Chen et al. 2018's sampled estimate: same ranking, other values).")
DCI_CONVENTION = ("DCI (Eastwood & Williams 2018) from 10 extra-trees per factor on 2/3 of the "
                  "codes: D and C from their feature importances, I = accuracy on the other "
                  "third (disentanglement_lib fits gradient-boosted trees: compare DCI only "
                  "between runs scored here).")
SNAPSHOT_NOTE = ("Timeline snapshots keep reconstructions, samples and 2-D map positions of "
                 "fixed test codes, not the codes or the weights, so a snapshot cannot be "
                 "scored: these scores are of the weights shown here.")


class ScoringCancelled(Exception):
    """The runner is shutting down: the job was dropped."""


# -- what a dataset is scored against ----------------------------------------------------------
@dataclass(frozen=True)
class FactorSource:
    """The test split's factor values (N, F) and names; `kind` 'factors' or 'labels'."""

    names: tuple[str, ...]
    values: np.ndarray
    kind: str


_SOURCES: list[tuple[Dataset, FactorSource | None]] = []  # the last few datasets asked about
_SOURCES_KEPT = 4


def factor_source(dataset: Dataset | None) -> FactorSource | None:
    """What `dataset`'s codes are scored against: its known factors, else its class label when
    it has more than one class in its test split; None when it has neither. The Factors tab
    asks for every run at every epoch end: the last few answers are kept (by identity)."""
    if dataset is None or dataset.test is None or len(dataset.test) == 0:
        return None
    for ds, source in _SOURCES:
        if ds is dataset:
            return source
    source = _factor_source(dataset)
    _SOURCES.insert(0, (dataset, source))
    del _SOURCES[_SOURCES_KEPT:]
    return source


def _factor_source(dataset: Dataset) -> FactorSource | None:
    test = dataset.test
    if dataset.factor_names and test.factors is not None:
        values = np.asarray(test.factors.cpu().numpy(), dtype=np.float64)
        if values.ndim == 2 and values.shape[1] == len(dataset.factor_names):
            return FactorSource(tuple(dataset.factor_names), values, "factors")
    labels = test.labels.cpu().numpy()
    if dataset.n_classes > 1 and len(np.unique(labels)) > 1:
        return FactorSource((LABEL_FACTOR,), labels.astype(np.float64)[:, None], "labels")
    return None


def no_factors_reason(dataset: Dataset | None, name: str = "") -> str:
    """A sentence for a run whose dataset has nothing to score against (plain text)."""
    who = f"{name}'s dataset" if name else "This dataset"
    what = f" ({dataset.name})" if dataset is not None else ""
    return (f"{who}{what} has no known generative factors and no class labels, so there is "
            "nothing to measure the latent dimensions against. The sprites sources (dSprites' "
            "shape, scale, orientation, x, y) and labelled datasets (the label as one factor) "
            "can be scored.")


# -- the scores --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FactorScores:
    """One set of weights scored against its dataset's factors.

    mig: MIGResult (score, per_factor, top_dims, mi (D, F) in nats, entropy (F,));
    dci: DCIResult, or None with `dci_problem` saying why; labels: one DimensionLabel per dim;
    order: the heat map's rows (sorted_dimensions by factor).
    """

    factor_names: tuple[str, ...]
    kind: str  # 'factors' or 'labels'
    n_codes: int
    mig: MIGResult
    dci: DCIResult | None
    labels: tuple[DimensionLabel, ...]
    order: np.ndarray
    seconds: float = 0.0
    dci_problem: str = ""
    what: str = ""  # whose weights, in words ("its weights as of epoch 3"), '' for the final

    @property
    def mi(self) -> np.ndarray:
        return self.mig.mi

    @property
    def score(self) -> float:
        return self.mig.score

    def mig_text(self) -> str:
        """'MIG 0.21 (disentanglement_lib)', or why there is none."""
        if not math.isfinite(self.mig.score):
            return "MIG — (no factor varies)"
        return f"MIG {self.mig.score:.2f} (disentanglement_lib)"

    def top_dimensions(self, n: int = 3) -> list[DimensionLabel]:
        """The `n` informative dims with the largest MI, largest first."""
        informative = [lab for lab in self.labels if lab.informative]
        return sorted(informative, key=lambda lab: -lab.mi)[:n]

    def label_of(self, dim: int) -> DimensionLabel | None:
        return self.labels[dim] if 0 <= dim < len(self.labels) else None

    def tooltip(self) -> str:
        """Two lines for the run list: MIG and the most informative dimensions."""
        lines = [self.mig_text() + (f" against {self.factor_names[0]}"
                                    if self.kind == "labels" else "")]
        top = self.top_dimensions()
        if top:
            lines.append("top dims: " + "; ".join(lab.text for lab in top))
        return "\n".join(lines)


def score_codes(codes: np.ndarray, factors: np.ndarray, factor_names: Sequence[str],
                kind: str = "factors", what: str = "",
                estimator: str = "trees") -> FactorScores:
    """Score codes (N, D) against factor values (N, F): MI matrix, MIG, DCI and labels.

    The worker's own scoring, given the codes; DCI is left out (with the reason) when there
    are too few codes to hold a third out.
    """
    t0 = time.perf_counter()
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim == 1:
        factors = factors[:, None]
    names = tuple(str(n) for n in factor_names)
    mi = mutual_info_matrix(codes, factors)
    m = mig(codes, factors, mi=mi)
    d: DCIResult | None = None
    problem = ""
    try:
        d = dci(codes, factors, estimator=estimator)
    except ValueError as e:  # too few codes to split a test third off
        problem = str(e)
    labels = tuple(describe_dimensions(mi, names))
    order = sorted_dimensions(mi, by="factor")
    return FactorScores(names, kind, len(codes), m, d, labels, order,
                        time.perf_counter() - t0, problem, what)


def weights_words(run: Run) -> str:
    """Whose weights a score is of: '' for an ended run, the epoch-end copy's for one training."""
    if run.is_active and run.snapshot_epoch is not None:
        return f"its weights as of epoch {run.snapshot_epoch}"
    return ""


# -- the store the tabs share ------------------------------------------------------------------
@dataclass
class ScoreEntry:
    """One run's scoring: for the weights `token`, 'scoring', 'done' or 'failed'."""

    token: int
    state: str
    n_codes: int = 0
    scores: FactorScores | None = None
    error: str = ""


def token_of(run: Run) -> int:
    """Which weights a score belongs to: the model object (continuing replaces it)."""
    return id(run.model)


class FactorScoreStore(QObject):
    """Scores per run, for the weights they were made from; `changed(run_id)` on any change."""

    changed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._entries: dict[int, ScoreEntry] = {}

    def entry(self, run: Run | None) -> ScoreEntry | None:
        """`run`'s entry for its current weights (None: never asked, or other weights)."""
        if run is None or run.model is None:
            return None
        e = self._entries.get(run.id)
        return e if e is not None and e.token == token_of(run) else None

    def scores(self, run: Run | None) -> FactorScores | None:
        """`run`'s scores for its current weights, if scored."""
        e = self.entry(run)
        return e.scores if e is not None and e.state == "done" else None

    def is_scoring(self, run: Run | None) -> bool:
        e = self.entry(run)
        return e is not None and e.state == "scoring"

    def set(self, run_id: int, entry: ScoreEntry) -> None:
        self._entries[run_id] = entry
        self.changed.emit(run_id)

    def put(self, run: Run, scores: FactorScores) -> None:
        """Record scores of `run`'s current weights (tests and tools give them directly)."""
        self.set(run.id, ScoreEntry(token_of(run), "done", scores.n_codes, scores))

    def forget(self, run_id: int, token: int | None = None, state: str | None = None) -> None:
        """Drop `run_id`'s entry (only one of weights `token` in `state`, when given)."""
        e = self._entries.get(run_id)
        if e is None or (token is not None and e.token != token) \
                or (state is not None and e.state != state):
            return
        del self._entries[run_id]
        self.changed.emit(run_id)


_SHARED: FactorScoreStore | None = None


def shared_factor_scores() -> FactorScoreStore:
    """The one FactorScoreStore of this process (panels are made without arguments)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = FactorScoreStore()
    return _SHARED


def known_scores(run: Run) -> FactorScores | None:
    """`run`'s scores if any were made this session (never creates the store: the run list
    asks on every tooltip)."""
    return _SHARED.scores(run) if _SHARED is not None else None


# -- the worker --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FactorJob:
    """Score this copy of a run's model on `index` of `split` against `factors` (rows of index)."""

    run_id: int
    token: int
    model: Any
    split: Split
    index: np.ndarray
    conditional: bool
    source: FactorSource
    what: str = ""


def codes_in_batches(model: Any, split: Split, index: np.ndarray, conditional: bool,
                     should_stop: Callable[[], bool] = lambda: False,
                     batch: int = CODE_BATCH) -> np.ndarray:
    """Posterior means (n, nz) of the test images at `index` (the true label for a CVAE), a
    batch at a time so a stop request is seen between batches (disentanglement.codes_of)."""
    import torch

    from latent_explorer.training.metrics.disentanglement import codes_of

    out = []
    idx = torch.as_tensor(np.asarray(index, dtype=np.int64))
    for start in range(0, len(idx), batch):
        if should_stop():
            raise ScoringCancelled("stopped")
        part = idx[start:start + batch]
        images = split.images[part]
        labels = split.labels[part] if conditional else None
        out.append(codes_of(model, images, labels, batch=batch))
    if not out:
        return np.zeros((0, 0))
    return np.concatenate(out)


def run_job(job: FactorJob, should_stop: Callable[[], bool] = lambda: False) -> FactorScores:
    """The worker's whole job: codes of the copy, then `score_codes`."""
    codes = codes_in_batches(job.model, job.split, job.index, job.conditional, should_stop)
    if should_stop():
        raise ScoringCancelled("stopped")
    factors = job.source.values[job.index]
    return score_codes(codes, factors, job.source.names, job.source.kind, job.what)


class _Worker(QObject):
    """In a worker thread: score queued jobs until the queues are empty or a stop is asked.

    Jobs asked for by the user (`urgent`: a training run's epoch-end weights) go first and do
    not wait; the others wait while a training job runs, as the IW scorer does.
    """

    scored = Signal(object, object)  # FactorJob, FactorScores
    failed = Signal(object, str)  # FactorJob, why
    ended = Signal()  # always last: back to the GUI thread, and the thread quits (WorkerThread)

    def __init__(self, urgent: queue.SimpleQueue, jobs: queue.SimpleQueue,
                 stop: threading.Event, idle: threading.Event) -> None:
        super().__init__()
        self._urgent, self._jobs, self._stop, self._idle = urgent, jobs, stop, idle

    def _next(self) -> FactorJob | None:
        """The next job: an urgent one at once, another once no training runs; None when both
        queues are empty or a stop was asked."""
        while not self._stop.is_set():
            try:
                return self._urgent.get_nowait()
            except queue.Empty:
                pass
            if self._jobs.empty():
                return None
            if self._idle.is_set():
                try:
                    return self._jobs.get_nowait()
                except queue.Empty:
                    return None
            self._idle.wait(0.2)  # wakes on set(); the timeout re-checks stop and urgent jobs
        return None

    @Slot()
    def work(self) -> None:
        lower_worker_priority()  # the GUI thread gets the CPU whenever it wants it
        try:
            while (job := self._next()) is not None:
                try:
                    result = run_job(job, self._stop.is_set)
                except ScoringCancelled:
                    break
                except Exception as e:  # noqa: BLE001 - a score that cannot be made is said
                    self.failed.emit(job, f"{type(e).__name__}: {e}")
                else:
                    self.scored.emit(job, result)
        finally:
            self.ended.emit()


class DisentangleRunner(QObject):
    """Queues runs for scoring and starts a worker thread while there are any; results go into
    `store` (the shared one by default)."""

    def __init__(self, store: FactorScoreStore | None = None, max_points: int = MAX_POINTS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store if store is not None else shared_factor_scores()
        self.max_points = max_points
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._urgent: queue.SimpleQueue = queue.SimpleQueue()  # asked for by the user
        self._queued = 0  # jobs put in and not yet answered (GUI thread's count)
        self._asked: dict[int, int] = {}  # run id -> token of the weights this runner queued
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._threads: list[WorkerThread] = []  # kept referenced until they have finished
        self._closed = False

    @staticmethod
    def wants(run: Run | None, force: bool = False) -> bool:
        """Whether `run` can be scored now: trained weights, its data, factors or labels, and
        ended (or `force`: the epoch-end copy of a run still training)."""
        return (run is not None and run.model is not None and run.is_usable
                and (force or not run.is_active) and factor_source(run.dataset) is not None)

    def request(self, run: Run, force: bool = False) -> bool:
        """Queue `run`'s current weights for scoring (a copy of its model); False when it cannot
        be scored or these weights are already scored or queued. `force`: the user asked (a
        run still training is scored from its epoch-end copy, ahead of the queue, at once)."""
        if self._closed:
            return False
        known = self.store.entry(run)
        if known is not None and known.state in ("scoring", "done"):
            return False
        if not self.wants(run, force):
            return False
        source = factor_source(run.dataset)
        assert source is not None and run.dataset is not None and run.model is not None
        index = sample_index(len(run.dataset.test), self.max_points)
        job = FactorJob(run.id, token_of(run), copy.deepcopy(run.model), run.dataset.test,
                        index, bool(run.is_conditional), source, weights_words(run))
        self.store.set(run.id, ScoreEntry(job.token, "scoring", len(index)))
        (self._urgent if force else self._jobs).put(job)
        self._asked[run.id] = job.token
        self._queued += 1
        if not any(t.is_running for t in self._threads):
            self._start_thread()
        return True

    def request_all(self, runs: Sequence[Run]) -> int:
        """Queue every ended run of `runs` that can be scored; how many were queued."""
        return sum(self.request(r) for r in runs)

    def _start_thread(self) -> None:
        self._threads = [t for t in self._threads if t.is_running]
        worker = _Worker(self._urgent, self._jobs, self._stop, self._idle)
        wt = WorkerThread(worker, "factor-scores", worker.ended, work=worker.work,
                          request_stop=self._stop.set)
        wt.connect(worker.scored, self._on_worker_scored)
        wt.connect(worker.failed, self._on_worker_failed)
        wt.connect(worker.ended, self._on_worker_ended)
        self._threads.append(wt)
        wt.start()

    @Slot(object, object)
    def _on_worker_scored(self, job: FactorJob, scores: FactorScores) -> None:
        self._queued -= 1
        if not self._closed:
            self.store.set(job.run_id, ScoreEntry(job.token, "done", scores.n_codes, scores))

    @Slot(object, str)
    def _on_worker_failed(self, job: FactorJob, error: str) -> None:
        self._queued -= 1
        if not self._closed:
            self.store.set(job.run_id, ScoreEntry(job.token, "failed", len(job.index),
                                                  error=error))

    @Slot()
    def _on_worker_ended(self) -> None:
        """A worker found the queue empty (or stopped): one that came meanwhile starts anew."""
        if not self._closed and self._queued > 0 and not (self._jobs.empty()
                                                          and self._urgent.empty()):
            self._start_thread()

    def set_training(self, training: bool) -> None:
        """A training job runs (scoring waits before its next run) or none does."""
        if training:
            self._idle.clear()
        else:
            self._idle.set()

    @property
    def is_running(self) -> bool:
        return any(t.is_running for t in self._threads)

    @property
    def pending(self) -> int:
        """Jobs queued or under way, not answered yet."""
        return self._queued

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop (between batches), drop late results, wait for the threads (bounded); True
        when all have ended."""
        self._closed = True
        self._stop.set()
        self._idle.set()  # wake a waiting worker so it sees the stop
        deadline = time.monotonic() + timeout_ms / 1000
        ok = True
        for t in list(self._threads):
            left = max(1, int((deadline - time.monotonic()) * 1000))
            ok = t.stop(left) and ok
        # The store forgets what this runner left unscored: another may score it again.
        for run_id, token in self._asked.items():
            self.store.forget(run_id, token, "scoring")
        self._asked.clear()
        return ok


__all__ = ["DCI_CONVENTION", "LABEL_FACTOR", "MIG_CONVENTION", "SNAPSHOT_NOTE",
           "DisentangleRunner", "FactorJob", "FactorScoreStore", "FactorScores", "FactorSource",
           "ScoreEntry", "codes_in_batches", "factor_source", "known_scores", "no_factors_reason",
           "run_job", "score_codes", "shared_factor_scores", "token_of", "weights_words"]
