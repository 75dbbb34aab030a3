"""QApplication set-up and the main window's launch.

Start-up order keeps the window quick to appear: Qt and pyqtgraph only, show the window, then
(from the event loop, once it is on screen) import torch and start the job queue and panels.
Setting LATENT_EXPLORER_STARTUP_PROBE=1 prints the seconds from process start to the window
being visible (and whether torch was already imported then) and to torch being ready, then
quits (benchmarks/launch_time.py).
"""

from __future__ import annotations

import os
import sys
import time


def _process_age() -> float:
    """Seconds since this process started (Linux /proc; else since this module loaded)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _T0


_T0 = time.perf_counter()


# The GIL. A training worker runs a little Python between torch ops and lets go of the GIL
# inside each op. While the GUI thread runs Python (pyqtgraph painting the loss plots), a worker
# that wants the GIL back waits a whole switch interval, 5 ms by default, so training all but
# stopped during every repaint (with workers at nice 5: 62-73 % of headless speed). At 0.5 ms
# both go on: 69-99 % (median 92 %), p99 timer lateness 24-42 ms over five runs of
# benchmarks/gui_responsiveness.py on 2 cores.
GIL_SWITCH_INTERVAL_S = 0.0005


def import_pyqtgraph() -> None:
    """Import pyqtgraph without CUDA's Python bindings, which it does not need here.

    pyqtgraph's RawImageWidget imports `cuda.bindings` at import time (80-110 ms on the 2-core
    VMs, a tenth of the launch) for a CUDA video widget this app never uses. The bindings are
    hidden only while pyqtgraph loads; torch, behind the window, imports them as usual.
    """
    if "pyqtgraph" in sys.modules:
        return
    hide = "cuda.bindings" not in sys.modules
    if hide:
        sys.modules["cuda.bindings"] = None  # type: ignore[assignment]  # an ImportError on import
    try:
        import pyqtgraph  # noqa: F401
    finally:
        if hide and sys.modules.get("cuda.bindings", 0) is None:
            del sys.modules["cuda.bindings"]


def create_app(argv: list[str] | None = None):
    """The QApplication, named so QSettings find the same place every launch."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    import_pyqtgraph()
    from PySide6.QtWidgets import QApplication

    from latent_explorer.explorer.window_settings import APPLICATION, ORGANIZATION

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0], *(argv or [])])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    return app


def _open_workspace():
    """The workspace: $LATENT_EXPLORER_WORKSPACE, else the one opened last, else the user's
    data folder; None, said on stderr, when it cannot be used: the window still opens, with
    runs kept in memory."""
    from pathlib import Path

    from latent_explorer.explorer.window_settings import WindowSettings
    from latent_explorer.training.record.workspace import ENV, WorkspaceError, open_workspace

    recent = [] if os.environ.get(ENV) else WindowSettings().recent_workspaces()
    folder = next((f for f in recent if Path(f).is_dir()), None)
    try:
        return open_workspace(folder)
    except WorkspaceError as e:
        print(f"warning: {e}; runs are kept in memory only", file=sys.stderr)
        return None


def run_app(argv: list[str] | None = None) -> int:
    """Open the main window and run the event loop until it closes (exit 2 if it cannot open)."""
    from latent_explorer.explorer.system_check import exit_if_gui_cannot_start

    refused = exit_if_gui_cannot_start()  # before Qt loads: one line instead of a Qt abort
    if refused is not None:
        return refused
    from PySide6.QtCore import QTimer

    app = create_app(argv)
    from latent_explorer.explorer.gc_guard import GarbageCollector
    from latent_explorer.explorer.main_window import MainWindow

    GarbageCollector(app)  # cycles collected in the GUI thread only (the app owns it)

    window = MainWindow(workspace=_open_workspace())
    probe = os.environ.get("LATENT_EXPLORER_STARTUP_PROBE") == "1"

    def on_first_paint() -> None:
        if probe:
            torch = "yes" if "torch" in sys.modules else "no"
            print(f"visible {_process_age():.3f} torch-imported {torch}", flush=True)
        QTimer.singleShot(10, window.finish_startup)  # torch loads after the first frame

    def on_ready() -> None:
        print(f"ready {_process_age():.3f}", flush=True)
        window.shutdown()
        app.quit()

    window.first_painted.connect(on_first_paint)
    if probe:
        window.ready.connect(on_ready)
    window.show()
    QTimer.singleShot(3000, window.finish_startup)  # in case no paint comes (minimised)
    code = app.exec()
    window.shutdown()  # the event loop ended some other way: the same clean stop as closing
    jobs = sys.modules.get("latent_explorer.explorer.session.jobs")
    if jobs is not None:
        jobs.wait_for_orphans()  # a thread that missed the 2 s wait: the window is gone now
    return code
