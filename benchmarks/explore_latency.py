"""How interactive the exploration panels are, offscreen: sliders and the latent map.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/explore_latency.py [--repeats 300] [--threads N]

Slider figures are end to end: from QSlider.setValue to the panel's ImageItem holding the new
image (the throttle's 0-ms timer, decode, make_grid, setImage), then the same plus a
synchronous repaint of the view. Targets: median < 10 ms and p99 < 16 ms (one frame at 60 Hz).
The latent map is re-encoded (cache dropped) for 10,000 test points, projected by PCA and
drawn; target < 1 s. The models have the course's default architecture (784-256-64-nz=32);
latency depends on that, not on how well they are trained, so a 1-epoch training suffices.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return (f"median {np.median(a):6.2f} ms   p99 {np.percentile(a, 99):6.2f} ms   "
            f"max {a.max():6.2f} ms   (n = {len(a)})")


def time_slider(app, slider, view, values, repaint: bool) -> list[float]:
    """ms from setValue to the view's `updated` (and, if asked, a finished repaint)."""
    done = []
    view.updated.connect(lambda: done.append(1))
    out = []
    for v in values:
        n = len(done)
        t0 = time.perf_counter()
        slider.setValue(int(v))
        while len(done) == n:  # the throttle's 0-ms timer fires on the next loop pass
            app.processEvents()
        if repaint:
            view.viewport().repaint()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def sweep(lo: int, hi: int, n: int) -> np.ndarray:
    """A back-and-forth drag: consecutive values always differ, so every step redraws."""
    up = np.linspace(lo, hi, 50).round().astype(int)
    path = np.concatenate([up, up[::-1][1:-1]])
    return np.resize(path, n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=300, help="slider moves per measurement")
    ap.add_argument("--map-points", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    from PySide6.QtWidgets import QApplication

    from latent_explorer.explorer.panels.interpolation import SCRUB_STEPS, InterpolationPanel
    from latent_explorer.explorer.panels.latent_map import SLIDER_STEPS, LatentMapPanel
    from latent_explorer.training.data.datasets import Dataset, Split
    from latent_explorer.training.data.sources import load_dataset
    from latent_explorer.training.engine.loop import TrainConfig, Trainer
    from latent_explorer.training.record.run import Run

    app = QApplication.instance() or QApplication([])
    data = load_dataset("auto", allow_download=False)
    # 10,000 test points: full MNIST's test split, or the bundled sample's images repeated.
    n = args.map_points
    imgs = torch.cat([data.test.images, data.train.images])
    labs = torch.cat([data.test.labels, data.train.labels])
    reps = -(-n // len(imgs))
    test = Split(imgs.repeat(reps, 1, 1)[:n].contiguous(), labs.repeat(reps)[:n].contiguous())
    small = Dataset(data.name, Split(data.train.images[:2000], data.train.labels[:2000]), test,
                    data.description)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; data {data.name}; "
          f"latent map of {len(test):,} points")

    trained: dict[str, Run] = {}
    for kind in ("vae", "cvae"):
        cfg = TrainConfig(kind=kind, epochs=1, device="cpu", seed=0)
        res = Trainer(cfg, Dataset(data.name, small.train, Split(test.images[:500], test.labels[:500]),
                                   "")).run()
        trained[kind] = Run(f"{kind.upper()} default", cfg, res.model, res.history, state="finished",
                            dataset=small)
    runs = list(trained.values())

    results: dict[str, str] = {}
    for label, run, other in (("vae", trained["vae"], None), ("cvae", trained["cvae"], None),
                              ("vae+cvae", trained["vae"], trained["cvae"])):
        interp = InterpolationPanel()
        interp.resize(1200, 800)
        interp.show()
        interp.set_runs(runs)
        interp.set_run(run)
        interp.compare.select_run(other)
        interp.set_endpoints(0, 1)
        values = sweep(0, SCRUB_STEPS, args.repeats)
        time_slider(app, interp.scrub, interp.scrub_view, values[:20], True)  # warm-up
        results[f"{label:8s} interpolation scrub: set     "] = percentiles(
            time_slider(app, interp.scrub, interp.scrub_view, values, False))
        results[f"{label:8s} interpolation scrub: +repaint"] = percentiles(
            time_slider(app, interp.scrub, interp.scrub_view, values, True))
        interp.close()
        if other is not None:
            continue

        lmap = LatentMapPanel()
        lmap.resize(1200, 800)
        lmap.show()
        lmap.set_runs(runs)
        t_maps = []
        for _ in range(6):
            lmap._cache.clear()  # force a full re-encode
            t0 = time.perf_counter()
            lmap.set_run(run)
            lmap.plot.viewport().repaint()
            t_maps.append((time.perf_counter() - t0) * 1000)
        t_maps = t_maps[1:]  # the first includes one-off start-up costs
        results[f"{label:8s} latent map ({len(test):,} pts)   "] = (
            f"median {np.median(t_maps):6.1f} ms   max {max(t_maps):6.1f} ms   (n = {len(t_maps)}, "
            "encode + PCA + KL + scatter + repaint)")
        slider = lmap.sliders[0]
        values = sweep(0, SLIDER_STEPS, args.repeats)
        time_slider(app, slider, lmap.traversal_view, values[:20], True)
        results[f"{label:8s} traversal slider: set        "] = percentiles(
            time_slider(app, slider, lmap.traversal_view, values, False))
        results[f"{label:8s} traversal slider: +repaint   "] = percentiles(
            time_slider(app, slider, lmap.traversal_view, values, True))
        lmap.close()

    for k, v in results.items():
        print(f"{k}  {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
