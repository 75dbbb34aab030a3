"""Screenshots of the exploration panels for the README, from quickly trained runs.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python tools/panel_screenshots.py

Trains an AE, a β-VAE and a CVAE for a few epochs on the bundled MNIST sample (cached as
checkpoints under --cache, so reruns only redraw), shows each panel in a window and saves
docs/screenshots/panel_<name>.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def trained_runs(cache: Path, epochs: int):

    from latent_explorer.training.record.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from latent_explorer.training.data.datasets import load_mnist_sample
    from latent_explorer.training.engine.loop import TrainConfig, Trainer
    from latent_explorer.training.record.run import Run

    data = load_mnist_sample()
    cache.mkdir(parents=True, exist_ok=True)
    runs = []
    for kind, name in (("vae", "VAE β=0.005"), ("ae", "AE"), ("cvae", "CVAE β=0.005")):
        cfg = TrainConfig(kind=kind, beta=0.005, epochs=epochs, device="cpu", seed=0,
                          dataset="mnist-sample")
        path = cache / f"{kind}-{epochs}.safetensors"
        if path.exists():
            ck = load_checkpoint(path)
            model, history = ck.model, ck.history
        else:
            print(f"training {name} for {epochs} epochs…", flush=True)
            res = Trainer(cfg, data).run()
            model, history = res.model, res.history
            save_checkpoint(path, Checkpoint(model, cfg, history, res.metrics, name, data.name))
        model.eval()
        runs.append(Run(name, cfg, model, history, state="finished", dataset=data))
    return runs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=60)  # ~4,300 steps: digits, not blobs
    ap.add_argument("--cache", type=Path, default=Path("/tmp/latent-explorer-screenshots"))
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args(argv)

    import torch
    from PySide6.QtWidgets import QApplication

    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication([])
    from latent_explorer.explorer.panels import create_panels

    vae, ae, cvae = trained_runs(args.cache, args.epochs)
    runs = [vae, ae, cvae]
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = {"Reconstructions": (1100, 520), "Prior samples": (1100, 640), "Conditional": (900, 820),
             "Interpolation": (1100, 760), "Latent map": (1280, 760), "Draw": (1400, 860)}
    for panel in create_panels():
        if panel.title not in sizes:  # the Sweep tab: tools/sweep_screenshot.py
            panel.deleteLater()
            continue
        panel.setWindowTitle(f"Latent Explorer — {panel.title}")
        panel.resize(*sizes[panel.title])
        panel.show()
        panel.set_runs(runs)
        if panel.title == "Reconstructions":
            panel.set_run(vae)
            panel.compare.select_run(ae)
            panel.count.setValue(10)
        elif panel.title == "Prior samples":
            panel.set_run(ae)
            panel.compare.select_run(vae)
            panel.k.setValue(8)
            panel.seed.setValue(3)
        elif panel.title == "Conditional":
            panel.set_run(cvae)
            panel.k.setValue(10)
            panel.all_classes.setChecked(True)
        elif panel.title == "Interpolation":
            panel.set_run(ae)
            panel.compare.select_run(vae)
            labels = vae.dataset.test.labels
            panel.set_endpoints(int((labels == 1).nonzero()[0]), int((labels == 8).nonzero()[1]))
            panel.scrub.setValue(400)
        elif panel.title == "Latent map":
            panel.set_run(vae)
            labels = vae.dataset.test.labels
            panel.select_point(int((labels == 3).nonzero()[2]))
            panel.sliders[0].setValue(40)
            # The UMAP map (fitted in the panel's worker), and a lasso around the 0s.
            import time

            import numpy as np

            panel.method_box.setCurrentIndex(panel.method_box.findData("umap"))
            deadline = time.monotonic() + 300
            while panel.runner.is_fitting and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.02)
            zeros = panel.coords[labels.numpy() == 0]
            (x0, y0), (x1, y1) = zeros.min(0), zeros.max(0)
            panel.select_polygon(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
        elif panel.title == "Draw":
            from PySide6.QtCore import QPointF

            panel.set_run(cvae)
            panel.compare.select_run(vae)
            for _ in range(5):
                app.processEvents()
            c = panel.canvas
            w, h = c.width(), c.height()
            # A 7, stroked as a user would: the bar, then the slanted stem.
            points = [(0.28, 0.24), (0.50, 0.23), (0.72, 0.22), (0.66, 0.36), (0.58, 0.52),
                      (0.52, 0.66), (0.47, 0.80)]
            c.begin_stroke(QPointF(points[0][0] * w, points[0][1] * h))
            for x, y in points[1:]:
                c.extend_stroke(QPointF(x * w, y * h))
            c.end_stroke()
        for _ in range(10):
            app.processEvents()
        name = panel.title.lower().replace(" ", "_")
        path = args.out / f"panel_{name}.png"
        panel.grab().save(str(path))
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
        panel.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
