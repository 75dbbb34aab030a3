"""UMAP and t-SNE maps, and placing points on them, off the GUI thread.

`MapRunner.fit(...)` fits one map in its own QThread (training/explore/latent_methods.py does
the work) and reports `progressed(fraction, text)` at most ~30 times a second, then one of
`fitted(FittedMap)`, `failed(str)` or `cancelled()`. `cancel()` sets a flag the fit checks
between UMAP epochs and t-SNE iterations; a new fit cancels the one before. `place(...)` runs a
method's transform for one code in a second thread, latest request wins (a stroke on the Draw
tab supersedes the last one's), and reports `placed(token, xy, seconds)` or `place_failed(token, message)`.

`LatentMaps` is what the Latent map and Draw tabs share: fitted maps in memory (per run, method,
parameters and the codes they map, so a training snapshot has its own) and the map each run is
shown on now (`shown_changed(run_id)`).

Threads: one QThread per job (explorer/session/worker_thread.py): `started` runs the work; the
worker's `ended` moves it back to the GUI thread and quits the thread; the runner drops the
worker (in the GUI thread) once the thread has finished. Never terminate(), never a Python
QObject destroyed in a worker thread.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from latent_explorer.explorer.session.worker_thread import WorkerThread
from latent_explorer.explorer.session.worker_threads import lower_worker_priority
from latent_explorer.training.explore import latent_methods as lm

PROGRESS_INTERVAL_S = 1 / 30  # at most ~30 progress signals a second cross threads


class _Worker(QObject):
    """One job in a worker thread: fit a map, warm a cached map's transform, or place codes."""

    # Each carries the job's id: the runner (GUI thread) drops what an older job says.
    progressed = Signal(int, float, str)
    done = Signal(int, object)  # FittedMap, or (xy, seconds) for a placement
    failed = Signal(int, str)
    cancelled = Signal(int)
    ended = Signal()  # always last: back to the GUI thread, and the thread quits (WorkerThread)

    def __init__(self, job_id: int, job: str, codes: np.ndarray, method: str, params: lm.MapParams,
                 fitted: lm.FittedMap | None, stop: threading.Event,
                 z: np.ndarray | None = None) -> None:
        super().__init__()
        self.job_id = job_id
        self.job, self.codes, self.method, self.params = job, codes, method, params
        self.fitted, self.z, self._stop = fitted, z, stop
        self._last_emit = 0.0

    def _progress(self, fraction: float, text: str) -> None:
        now = time.monotonic()
        if now - self._last_emit >= PROGRESS_INTERVAL_S or fraction >= 0.99:
            self._last_emit = now
            self.progressed.emit(self.job_id, float(fraction), text)

    @Slot()
    def run(self) -> None:
        lower_worker_priority()  # the GUI thread gets the CPU whenever it wants it
        _one_numba_thread()
        try:
            if self.job == "fit":
                result = lm.fit_map(self.codes, self.method, self.params, self._progress,
                                    self._stop.is_set)
            elif self.job == "warm":
                result = lm.warm_placer(self.codes, self.fitted)
            else:  # place
                t0 = time.perf_counter()
                xy = self.fitted.place(self.z, self.codes)
                result = (xy, time.perf_counter() - t0)
        except lm.MapCancelled:
            self.cancelled.emit(self.job_id)
        except Exception as e:  # noqa: BLE001 - a map that cannot be made is said, not raised
            self.failed.emit(self.job_id, f"{type(e).__name__}: {e}")
        else:
            if self._stop.is_set() and self.job == "fit":
                self.cancelled.emit(self.job_id)
            else:
                self.done.emit(self.job_id, result)
        self.ended.emit()


def _one_numba_thread() -> None:
    """numba's parallel loops (pynndescent) in this thread use one core: the other is the GUI's.
    numba's compile cache goes to the user's cache folder: set before numba is imported."""
    try:
        lm.use_numba_cache()
        import numba

        numba.set_num_threads(1)
    except Exception:  # noqa: BLE001 - no numba (PCA only) or a threading layer that refuses
        pass


class MapRunner(QObject):
    """Fits one map at a time and places points, each in a worker thread."""

    progressed = Signal(float, str)
    fitted = Signal(object)  # FittedMap (fit or warm)
    failed = Signal(str)
    cancelled = Signal()
    placed = Signal(object, object, float)  # token, (n, 2) coords, seconds
    place_failed = Signal(object, str)  # token, why the transform could not place the codes

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._fit_id: int | None = None
        self._fit_stop = threading.Event()
        self._place_id: int | None = None
        self._place_token: object = None
        self._pending_place: tuple | None = None
        self._jobs: list[WorkerThread] = []  # started jobs, kept referenced until they end
        self._closed = False

    @property
    def is_fitting(self) -> bool:
        return self._fit_id is not None

    def fit(self, codes: np.ndarray, method: str, params: lm.MapParams) -> None:
        """Fit `method`'s map of `codes` in the background (cancelling a fit under way)."""
        self._start_fit("fit", codes, method, params, None)

    def warm(self, codes: np.ndarray, fitted: lm.FittedMap) -> None:
        """Rebuild a cached map's transform in the background; `fitted` comes back with it."""
        self._start_fit("warm", codes, fitted.method, fitted.params, fitted)

    def _start(self, worker: _Worker) -> None:
        self._jobs = [j for j in self._jobs if j.is_running]
        j = WorkerThread(worker, f"map-{worker.job}", worker.ended, work=worker.run,
                         request_stop=worker._stop.set)
        j.connect(worker.progressed, self._on_worker_progressed)
        j.connect(worker.done, self._on_worker_done)
        j.connect(worker.failed, self._on_worker_failed)
        j.connect(worker.cancelled, self._on_worker_cancelled)
        self._jobs.append(j)
        j.start()

    def _start_fit(self, job: str, codes, method, params, fitted) -> None:
        if self._closed:
            return
        self.cancel()
        self._fit_stop = threading.Event()
        self._fit_id = next(self._ids)
        self._start(_Worker(self._fit_id, job, np.asarray(codes, np.float32), method, params,
                            fitted, self._fit_stop))

    def cancel(self) -> None:
        """Stop the fit under way at its next check; `cancelled` follows (nothing if none)."""
        self._fit_stop.set()

    def place(self, token: object, fitted: lm.FittedMap, z: np.ndarray, codes: np.ndarray) -> None:
        """Place codes `z` on `fitted` by its transform, in the background; the latest wins."""
        if self._closed:
            return
        if self._place_id is not None:
            self._pending_place = (token, fitted, z, codes)
            return
        self._place_id, self._place_token = next(self._ids), token
        self._start(_Worker(self._place_id, "place", codes, fitted.method, fitted.params, fitted,
                            threading.Event(), z=np.asarray(z, np.float32)))

    @Slot(int, float, str)
    def _on_worker_progressed(self, job_id: int, fraction: float, text: str) -> None:
        if job_id == self._fit_id and not self._closed:
            self.progressed.emit(fraction, text)

    @Slot(int, object)
    def _on_worker_done(self, job_id: int, result) -> None:
        if self._closed:
            return
        if job_id == self._fit_id:
            self._fit_id = None
            self.fitted.emit(result)
        elif job_id == self._place_id:
            self._place_done(result)

    @Slot(int, str)
    def _on_worker_failed(self, job_id: int, message: str) -> None:
        if self._closed:
            return
        if job_id == self._fit_id:
            self._fit_id = None
            self.failed.emit(message)
        elif job_id == self._place_id:
            self._place_done(None, message)

    @Slot(int)
    def _on_worker_cancelled(self, job_id: int) -> None:
        if job_id == self._fit_id and not self._closed:
            self._fit_id = None
            self.cancelled.emit()

    def _place_done(self, result, failure: str = "") -> None:
        token = self._place_token
        self._place_id = self._place_token = None
        pending, self._pending_place = self._pending_place, None
        if pending is not None:  # a newer request came meanwhile: that one counts, not this
            self.place(*pending)
            return
        if result is not None:
            self.placed.emit(token, result[0], float(result[1]))
        else:
            self.place_failed.emit(token, failure)

    @property
    def is_running(self) -> bool:
        return any(j.is_running for j in self._jobs)

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Cancel, drop late results, wait for the threads (bounded); True when all ended."""
        self._closed = True
        self._fit_stop.set()
        self._pending_place = None
        deadline = time.monotonic() + timeout_ms / 1000
        ok = True
        for j in list(self._jobs):
            left = max(1, int((deadline - time.monotonic()) * 1000))
            ok = j.stop(left) and ok
        return ok


class LatentMaps(QObject):
    """The maps the tabs share: fitted ones in memory, and which one each run is shown on."""

    shown_changed = Signal(int)  # run id

    MAX_IN_MEMORY = 24

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._maps: OrderedDict[tuple[int, str], lm.FittedMap] = OrderedDict()
        self._shown: dict[int, lm.FittedMap] = {}

    def get(self, run_id: int, method: str, params: lm.MapParams, codes_key: str) -> lm.FittedMap | None:
        m = self._maps.get((run_id, lm.map_key(method, params, codes_key)))
        if m is not None:
            self._maps.move_to_end((run_id, m.key))
        return m

    def put(self, run_id: int, fitted: lm.FittedMap) -> None:
        self._maps[(run_id, fitted.key)] = fitted
        self._maps.move_to_end((run_id, fitted.key))
        while len(self._maps) > self.MAX_IN_MEMORY:
            self._maps.popitem(last=False)

    def shown(self, run_id: int) -> lm.FittedMap | None:
        """The map the Latent map tab shows this run on (None: not computed; PCA then)."""
        return self._shown.get(run_id)

    def set_shown(self, run_id: int, fitted: lm.FittedMap | None) -> None:
        if self._shown.get(run_id) is fitted:
            return
        if fitted is None:
            self._shown.pop(run_id, None)
        else:
            self._shown[run_id] = fitted
        self.shown_changed.emit(run_id)


_SHARED: LatentMaps | None = None


def shared_maps() -> LatentMaps:
    """The one LatentMaps of this process (the panels are made without arguments)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = LatentMaps()
    return _SHARED


__all__ = ["LatentMaps", "MapRunner", "shared_maps"]
