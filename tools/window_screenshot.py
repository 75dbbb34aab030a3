"""Save a screenshot of the window during training (for the README).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/window_screenshot.py \
        docs/screenshots/training.png

Trains two short VAEs (β = 0 and 10) on the bundled sample to completion, starts a third
(β = 0.005) and grabs the window while that one trains, so the plot overlays three runs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def main(argv: list[str]) -> int:
    dark = "--dark" in argv  # check the window under a dark palette
    argv = [a for a in argv if a != "--dark"]
    out = Path(argv[0] if argv else "docs/screenshots/training.png")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtGui import QColor, QPalette

    from explorer.app import create_app

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
    from explorer.main_window import MainWindow

    w = MainWindow(settings=settings)
    w.resize(1560, 940)
    w.show()
    w.finish_startup()
    base = {"kind": "vae", "nz": 16, "epochs": 6, "batch_size": 64, "lr": 1e-3, "seed": 0,
            "dataset": "mnist-sample", "data_dir": None}
    for beta in (0.0, 10.0):
        w.start_run({**base, "beta": beta})
    last = w.start_run({**base, "beta": 0.005, "epochs": 40})

    def wait(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    while last is not None and last.state != "running":
        wait(100)
    wait(4000)
    w.loss_plot.flush()
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    w.grab().save(str(out))
    print(f"saved {out}")
    w.shutdown()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
