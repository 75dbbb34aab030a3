"""Watch a workspace folder from a background thread: new runs, changed run files, new metrics.

A `QTimer` in the GUI thread asks for a scan every `POLL_MS`; the scan runs in a plain Python
thread (one at a time; a tick while one runs is skipped), reads only what changed (run files by
modification time, metrics logs from their last offset), and hands a `Scan` back through a
queued signal, so the GUI thread never touches the disk. File-system watchers are not used:
`QFileSystemWatcher` stops watching a file replaced by rename and sees nothing on network
mounts (TensorBoard and trackio poll too).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from latent_explorer.training.record.workspace import (RUN_FILE, MetricsReader, RunRecord,
                                                       Workspace, read_run)

POLL_MS = 1000  # runs of other processes appear, and their curves grow, within about 1 s


@dataclass
class Scan:
    """What changed since the last scan: run records that are new or changed, and for each
    followed folder the metrics records written since."""

    records: list[RunRecord] = field(default_factory=list)
    metrics: dict[Path, list[dict]] = field(default_factory=dict)
    first: bool = False  # the scan that listed the workspace at launch


class WorkspaceWatcher(QObject):
    """Polls one workspace; `scanned(Scan)` in the GUI thread."""

    scanned = Signal(object)

    def __init__(self, workspace: Workspace, parent: QObject | None = None,
                 interval_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.setObjectName("workspace poll")
        self._timer.timeout.connect(self.scan_now)
        self._thread: threading.Thread | None = None
        self._mtimes: dict[Path, int] = {}
        self._readers: dict[Path, MetricsReader] = {}
        self._follow: set[Path] = set()  # folders whose metrics the session shows
        self._lock = threading.Lock()
        self._first = True
        self._closed = False

    def start(self) -> None:
        self.scan_now()
        self._timer.start()

    def follow(self, folder: Path, offset: int = 0) -> None:
        """Read `folder`'s metrics from `offset` on, from the next scan (any thread)."""
        with self._lock:
            reader = self._readers.setdefault(folder, MetricsReader(folder))
            reader.offset = max(reader.offset, offset)
            self._follow.add(folder)

    def unfollow(self, folder: Path) -> None:
        with self._lock:
            self._follow.discard(folder)

    def scan_now(self) -> None:
        """Start a scan unless one is running."""
        if self._closed or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._scan, name="workspace scan", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop polling; wait a bounded time for a scan in progress (its result is dropped)."""
        self._closed = True
        self._timer.stop()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- in the scan thread ---------------------------------------------------------------------
    def _scan(self) -> None:
        scan = Scan(first=self._first)
        self._first = False
        seen = set()
        for folder in self.workspace.run_folders():
            seen.add(folder)
            try:
                mtime = os.stat(folder / RUN_FILE).st_mtime_ns
            except OSError:
                mtime = -1
            if self._mtimes.get(folder) != mtime:
                self._mtimes[folder] = mtime
                scan.records.append(read_run(folder))
        for gone in set(self._mtimes) - seen:  # trashed or deleted elsewhere
            del self._mtimes[gone]
        with self._lock:
            follow = [(f, self._readers[f]) for f in self._follow]
        for folder, reader in follow:
            lines = reader.read_new()
            if lines:
                scan.metrics[folder] = lines
        if not self._closed:
            self.scanned.emit(scan)  # queued to the GUI thread: this QObject lives there


__all__ = ["POLL_MS", "Scan", "WorkspaceWatcher"]
