"""Save screenshots of the window during training (for the README, and to look at the layout).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/window_screenshot.py \
        docs/screenshots/training.png
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/window_screenshot.py \
        --every-tab /tmp/tabs

The first trains two short VAEs (β = 0 and 10) on the bundled sample to completion, starts a
third (β = 0.005) and grabs the window while that one trains, so the plot overlays three runs.

`--every-tab DIR` opens the window at its first-launch size (1540×900 where the screen has
room, else what fits the screen; no remembered settings) on the 'auto' dataset, as a new user
would (so the fallback notice shows), trains a CVAE, a VAE and a 3-member sweep, starts a long
VAE, draws a 7 on the Draw tab and saves every tab with the CVAE selected (tab<i>_<name>.png),
then the Training and Reconstructions tabs with the training run selected (live_*.png): what
issue 21's layout checks look at.

`--every-tab DIR --select NAME` instead opens the window on the workspace of runs
(LATENT_EXPLORER_WORKSPACE) and saves every tab with the run whose name holds NAME selected:
a run trained with `main.py train --workspace DIR` on colour or 64×64 images, say.

`--size WxH` resizes the window to that size first (e.g. 1280x720, a laptop's screen), and
`--screen` grabs the whole screen rather than the window, to see what lies off it:

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python tools/window_screenshot.py \
        --every-tab /tmp/tabs --screen
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _wait(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _draw_seven(panel) -> None:
    from PySide6.QtCore import QPointF

    c = panel.canvas
    w, h = c.width(), c.height()
    points = [(0.28, 0.24), (0.50, 0.23), (0.72, 0.22), (0.66, 0.36), (0.58, 0.52),
              (0.52, 0.66), (0.47, 0.80)]
    c.begin_stroke(QPointF(points[0][0] * w, points[0][1] * h))
    for x, y in points[1:]:
        c.extend_stroke(QPointF(x * w, y * h))
    c.end_stroke()


def _grab(w, path: Path, screen: bool) -> None:
    """The window, or the whole screen it is on (what a user sees, off-screen parts cut)."""
    if screen:
        w.screen().grabWindow(0).save(str(path))
    else:
        w.grab().save(str(path))


def every_tab(w, out: Path, screen: bool = False) -> None:
    """The default-size window, every tab (see the module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    base = {"kind": "cvae", "nz": 32, "epochs": 3, "batch_size": 64, "lr": 1e-3, "seed": 0,
            "dataset": "auto", "data_dir": None, "beta": 0.005}
    cvae = w.start_run(base)
    w.start_run({**base, "kind": "vae"})
    w.start_sweep({"kind": "vae", "betas": (0.0, 0.01, 1.0), "seeds": (0,), "nz": 16,
                   "epochs": 2, "batch_size": 64, "lr": 1e-3, "dataset": "auto",
                   "data_dir": None})
    live = w.start_run({**base, "kind": "vae", "epochs": 200})
    while live.state != "running":
        _wait(200)
    _wait(5000)
    w.run_table.select_run(cvae)
    for i in range(w.tabs.count()):
        w.tabs.setCurrentIndex(i)
        _wait(700)
        panel = w.tabs.widget(i)
        if getattr(panel, "title", "") == "Draw":
            _draw_seven(panel)
            _wait(800)
        name = w.tabs.tabText(i).lower().replace(" ", "_")
        _grab(w, out / f"tab{i}_{name}.png", screen)
    w.run_table.select_run(live)
    for i, name in ((0, "training"), (1, "reconstructions")):
        w.tabs.setCurrentIndex(i)
        _wait(700)
        _grab(w, out / f"live_{name}.png", screen)
    print(f"saved {w.tabs.count() + 2} screenshots of the {w.width()}×{w.height()} window "
          f"to {out}")


def workspace_tabs(w, out: Path, select: str, screen: bool = False) -> None:
    """Every tab with the workspace's run whose name holds `select` selected (images of any size
    and colour: run `train --workspace DIR` first and point LATENT_EXPLORER_WORKSPACE at DIR)."""
    out.mkdir(parents=True, exist_ok=True)
    for _ in range(100):  # the workspace is listed from a worker: wait for the run to appear
        runs = [r for r in w.runs if select in r.name]
        if runs:
            break
        _wait(200)
    else:
        raise SystemExit(f"no run named like {select!r} in {[r.name for r in w.runs]}")
    w.run_table.select_run(runs[-1])
    _wait(3000)
    for i in range(w.tabs.count()):
        w.tabs.setCurrentIndex(i)
        _wait(2500)
        name = w.tabs.tabText(i).lower().replace(" ", "_")
        if name == "factors":  # scored in the background: give the heat map time
            _wait(15000)
        _grab(w, out / f"{select.replace(' ', '_')}_tab{i}_{name}.png", screen)
    print(f"saved {w.tabs.count()} screenshots of the {w.width()}×{w.height()} window to {out}")


def main(argv: list[str]) -> int:
    dark = "--dark" in argv  # check the window under a dark palette
    screen = "--screen" in argv
    argv = [a for a in argv if a not in ("--dark", "--screen")]
    size = None
    if "--size" in argv:
        i = argv.index("--size")
        size = tuple(int(v) for v in argv[i + 1].lower().split("x"))
        argv = argv[:i] + argv[i + 2:]
    select = None
    if "--select" in argv:
        i = argv.index("--select")
        select = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    tabs_dir = None
    if "--every-tab" in argv:
        i = argv.index("--every-tab")
        tabs_dir = Path(argv[i + 1] if i + 1 < len(argv) else "/tmp/latent-explorer-tabs")
        argv = argv[:i] + argv[i + 2:]
    out = Path(argv[0] if argv else "docs/screenshots/training.png")
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QColor, QPalette

    from latent_explorer.explorer.app import create_app

    app = create_app()
    if dark:
        app.setStyle("Fusion")
        pal = QPalette()
        for role, color in ((QPalette.ColorRole.Window, "#2b2b2b"),
                            (QPalette.ColorRole.WindowText, "#e8e8e8"),
                            (QPalette.ColorRole.Base, "#1e1e1e"),
                            (QPalette.ColorRole.AlternateBase, "#262626"),
                            (QPalette.ColorRole.Text, "#e8e8e8"),
                            (QPalette.ColorRole.Button, "#3a3a3a"),
                            (QPalette.ColorRole.ButtonText, "#e8e8e8"),
                            (QPalette.ColorRole.Highlight, "#2f65ca"),
                            (QPalette.ColorRole.HighlightedText, "#ffffff")):
            pal.setColor(role, QColor(color))
        app.setPalette(pal)
    tmp = tempfile.mkdtemp(prefix="latent-explorer-shot-")
    settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
    from latent_explorer.explorer.main_window import MainWindow

    workspace = None
    if select is not None:
        from latent_explorer.training.record.workspace import open_workspace

        workspace = open_workspace()
    w = MainWindow(settings=settings, workspace=workspace)
    if size is not None:
        w.resize(*size)
    elif tabs_dir is None:
        w.resize(1560, 940)
    w.show()
    w.finish_startup()
    if tabs_dir is not None and select is not None:
        workspace_tabs(w, tabs_dir, select, screen)
        w.shutdown()
        w.close()
        return 0
    if tabs_dir is not None:
        every_tab(w, tabs_dir, screen)
        w.shutdown()
        w.close()
        return 0
    base = {"kind": "vae", "nz": 16, "epochs": 6, "batch_size": 64, "lr": 1e-3, "seed": 0,
            "dataset": "mnist-sample", "data_dir": None}
    for beta in (0.0, 10.0):
        w.start_run({**base, "beta": beta})
    last = w.start_run({**base, "beta": 0.005, "epochs": 40})
    while last is not None and last.state != "running":
        _wait(100)
    _wait(4000)
    w.loss_plot.flush()
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    _grab(w, out, screen)
    print(f"saved {out}")
    w.shutdown()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
