"""Datasets shared by runs: an in-memory cache, and a loader thread for opened checkpoints."""

from __future__ import annotations

import os
import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot

from latent_explorer.explorer.session.worker_thread import WorkerThread
from latent_explorer.training.data.datasets import DataError, Dataset
from latent_explorer.training.data.sources import load_dataset


class DatasetCache:
    """Datasets loaded once per (source, data_dir, image_size, channels) and shared by runs;
    thread-safe. A folder read at 8×8 grey is another dataset than the same folder as its
    files are: each has its own entry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple, Dataset] = {}

    @staticmethod
    def key(source: str, data_dir: str | None, image_size: int | None = None,
            channels: int | None = None) -> tuple:
        """(source, absolute data_dir or None), then the image options when any is set."""
        k: tuple = (source, os.path.abspath(os.path.expanduser(data_dir)) if data_dir else None)
        return k if image_size is None and channels is None else (*k, image_size, channels)

    def put(self, source: str, data_dir: str | None, dataset: Dataset,
            image_size: int | None = None, channels: int | None = None) -> None:
        with self._lock:
            self._data[self.key(source, data_dir, image_size, channels)] = dataset

    def get(self, source: str, data_dir: str | None = None, notify=None,
            allow_download: bool = True, image_size: int | None = None,
            channels: int | None = None) -> Dataset:
        """The cached dataset, loading it (in the calling thread) the first time; `image_size`
        and `channels` as `load_dataset` takes them (a TrainConfig's `load_options`)."""
        k = self.key(source, data_dir, image_size, channels)
        # One lock around the load: two jobs on the same data never read it twice.
        with self._lock:
            ds = self._data.get(k)
            if ds is None:
                ds = load_dataset(source, data_dir, notify=notify, allow_download=allow_download,
                                  image_size=image_size, channels=channels)
                self._data[k] = ds
            return ds


class DatasetLoader(QObject):
    """Loads one dataset in a QThread (for opened checkpoints); never raises, reports instead."""

    loaded = Signal(object, object, str)  # token, Dataset or None, a status message ('' if none)
    finished = Signal()  # always last: it moves back to the GUI thread and its thread quits

    def __init__(self, datasets: DatasetCache, candidates: list[tuple[str, str | None]],
                 fallback: str = "mnist-sample", token: object = None) -> None:
        super().__init__()
        self.token = token  # handed back with the result (the run it is for)
        self._datasets = datasets
        self._candidates = candidates
        self._fallback = fallback
        # A run's images as it trained on them: an image folder (or a source) read at the size
        # and channels its config names (`TrainConfig.load_options`; the token is the run).
        config = getattr(token, "config", None)
        self._options: dict = dict(getattr(config, "load_options", None) or {})
        self.thread: QThread | None = None
        self._worker_thread: WorkerThread | None = None

    @Slot()
    def run(self) -> None:
        """Try each (source, data_dir) without downloading; else the fallback, saying why."""
        notes: list[str] = []
        ds = None
        try:
            for source, data_dir in self._candidates:
                try:
                    ds = self._datasets.get(source, data_dir, notify=notes.append,
                                            allow_download=False, **self._options)
                    break
                except (DataError, OSError, ValueError) as e:
                    notes.append(str(e))
            if ds is None:
                ds = self._datasets.get(self._fallback, None)
                tried = ", ".join(d or s for s, d in self._candidates) or "none recorded"
                notes.append(f"the run's dataset ({tried}) is not available; showing it on "
                             f"{ds.name} instead")
        except Exception as e:  # noqa: BLE001 - even the fallback failed: say so, keep going
            notes.append(f"no dataset could be loaded ({e})")
        self.loaded.emit(self.token, ds, " ".join(notes))
        self.finished.emit()

    def start(self) -> None:
        """Load in its own thread (explorer/session/worker_thread.py)."""
        wt = WorkerThread(self, "dataset loader", self.finished, work=self.run)
        self._worker_thread, self.thread = wt, wt.thread
        wt.start()

    @property
    def is_finished(self) -> bool:
        return self._worker_thread is None or self._worker_thread.is_finished

    def wait(self, ms: int) -> bool:
        """quit() and a bounded wait(); True when the thread is finished."""
        return self._worker_thread is None or self._worker_thread.wait(ms)
