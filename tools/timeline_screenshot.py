"""Save a screenshot of the Training tab replaying a run's timeline (for the README).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/timeline_screenshot.py \
        docs/screenshots/timeline.png [--step 200] [--latent-map docs/screenshots/timeline_map.png]

Trains a β-VAE (β = 0.005, nz = 16) for 8 epochs on the bundled sample in the window, then
moves the timeline slider back to the snapshot nearest --step (mid-training: the digits are
still forming) and grabs the window: the loss curves with the step's marker, the live strip
(the finished model) and the timeline strip (that step). With --latent-map it also grabs the
Latent map tab replaying the same snapshot.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="docs/screenshots/timeline.png")
    ap.add_argument("--step", type=int, default=200, help="show the snapshot nearest this step")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--latent-map", default=None, help="also save the latent-map replay here")
    args = ap.parse_args(argv)
    out = Path(args.out)
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from latent_explorer.explorer.app import create_app

    app = create_app()
    tmp = tempfile.mkdtemp(prefix="latent-explorer-shot-")
    settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
    from latent_explorer.explorer.main_window import MainWindow

    w = MainWindow(settings=settings)
    w.resize(1560, 980)
    w.show()
    w.finish_startup()

    def wait(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    run = w.start_run({"kind": "vae", "beta": 0.005, "nz": 16, "epochs": args.epochs,
                       "batch_size": 64, "lr": 1e-3, "seed": 0, "dataset": "mnist-sample",
                       "data_dir": None})
    while run is not None and run.is_active:
        wait(200)
    if run is None or run.state != "finished" or run.timeline is None:
        print(f"training did not finish: {run.error if run else 'no run'}", file=sys.stderr)
        return 1
    tv = w.monitor.timeline
    i = run.timeline.nearest(args.step)
    tv.slider.setValue(i)  # as the user's drag would: the strip stops following
    w.loss_plot.flush()
    wait(500)
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    w.grab().save(str(out))
    snap = run.timeline.snapshots[i]
    print(f"saved {out}: snapshot {i + 1} of {len(run.timeline)} (step {snap.step}, "
          f"epoch {snap.epoch:.2f})")
    if args.latent_map:
        panel = next(p for p in w.panels if p.title == "Latent map")
        w.tabs.setCurrentWidget(panel)
        wait(300)
        panel.replay_check.setChecked(True)
        panel.replay_slider.setValue(i)
        wait(300)
        app.processEvents()
        w.grab().save(args.latent_map)
        print(f"saved {args.latent_map}")
    w.shutdown()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
