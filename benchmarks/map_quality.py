"""Do UMAP and t-SNE keep a VAE's neighbourhoods better than PCA, at what cost, and does the GUI
stay responsive while they compute?

Trains a course VAE (MLP, β = 0.005, nz 32, batch 64, Adam 1e-3) headless, encodes its test
split, and maps the same codes with each method (training/explore/latent_methods.py, the code
the Latent map tab and `main.py map` use). Prints per method the trustworthiness (scikit-learn,
k = 10: 1 when every 2-D neighbourhood is a neighbourhood in latent space) and the fit time.
`--gui` then opens the real Latent map tab offscreen and, while it fits UMAP and t-SNE in its
background worker, measures how late a 10 ms timer fires (median and p99).

    python benchmarks/map_quality.py                        # bundled MNIST sample, its test split
    python benchmarks/map_quality.py --dataset fashion-mnist --data-dir /usr/share/datasets/fashion-mnist \
        --n 10000 --epochs 3 --gui

Targets (issue 20): trustworthiness of UMAP and t-SNE >= PCA's + 0.03; p99 lateness < 50 ms.
Not a test: it prints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def train_vae(args):
    from latent_explorer.training.data.sources import load_dataset
    from latent_explorer.training.engine.loop import TrainConfig, Trainer

    ds = load_dataset(args.dataset, args.data_dir, allow_download=False)
    steps_per_epoch = -(-len(ds.train) // 64)
    epochs = args.epochs or max(1, round(4_473 / steps_per_epoch))  # the course's step budget
    cfg = TrainConfig(kind="vae", beta=0.005, nz=32, epochs=epochs, batch_size=64, lr=1e-3,
                      seed=args.seed, device="cpu", dataset=args.dataset)
    t0 = time.perf_counter()
    result = Trainer(cfg, ds).run()
    print(f"VAE on {args.dataset}: {epochs} epochs ({epochs * steps_per_epoch:,} steps) in "
          f"{time.perf_counter() - t0:.1f} s, state {result.state}")
    return ds, cfg, result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist-sample")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=0, help="0: the course's ~4,500 steps")
    p.add_argument("--n", type=int, default=0, help="test codes mapped (0: the whole test split)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gui", action="store_true", help="also measure the Latent map tab's lateness")
    p.add_argument("--gui-only", action="store_true", help="only the Latent map tab's lateness")
    args = p.parse_args(argv)

    import numpy as np

    from latent_explorer.training.explore import latent_methods as lm
    from latent_explorer.training.explore.panel_math import encode_split

    ds, cfg, result = train_vae(args)
    enc = encode_split(result.model, ds.test)
    codes = enc.means.numpy().astype(np.float32)
    if args.n:
        codes = codes[: args.n]
    if args.gui_only:
        gui_lateness(ds, cfg, result)
        return 0
    print(f"{len(codes):,} test codes of {codes.shape[1]} dimensions; trustworthiness k = "
          f"{lm.TRUSTWORTHINESS_K}")
    print(f"{'method':8} {'trustworthiness':>16} {'fit s':>8}")
    trust = {}
    for method in ("pca", "umap", "tsne"):
        for attempt in ("warm-up", "timed") if method == "umap" else ("timed",):
            t0 = time.perf_counter()
            fitted = lm.fit_map(codes, method, lm.MapParams(seed=args.seed))
            seconds = time.perf_counter() - t0
            if attempt == "warm-up":
                print(f"{'umap':8} {'(first fit compiles numba)':>16} {seconds:8.1f}")
        trust[method] = lm.trustworthiness(codes, fitted.coords)
        print(f"{method:8} {trust[method]:16.4f} {seconds:8.1f}")
    for method in ("umap", "tsne"):
        gain = trust[method] - trust["pca"]
        print(f"{method} - pca: {gain:+.4f} (target >= +0.03: {'met' if gain >= 0.03 else 'MISSED'})")

    if args.gui:
        gui_lateness(ds, cfg, result)
    return 0


def gui_lateness(ds, cfg, result) -> None:
    """The Latent map tab fits UMAP then t-SNE in its worker; a 10 ms timer probes the loop."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from gui_responsiveness import percentile, start_lateness_probe

    app = QApplication.instance() or QApplication([])
    from latent_explorer.explorer.panels.latent_map import LatentMapPanel
    from latent_explorer.training.record.run import Run

    run = Run("VAE", cfg, result.model, result.history, state="finished", dataset=ds)
    panel = LatentMapPanel()
    panel.resize(1400, 900)
    panel.show()
    panel.set_runs([run])
    panel.set_run(run)
    app.processEvents()
    print(f"GUI: the Latent map tab fitting {len(ds.test):,} codes in its background worker")
    for method in ("umap", "tsne"):
        loop = QEventLoop()
        done: list[str] = []
        panel.runner.fitted.connect(lambda _m: (done.append("fitted"), loop.quit()))
        panel.runner.failed.connect(lambda msg: (done.append(msg), loop.quit()))
        probe, late = start_lateness_probe(10)
        t0 = time.perf_counter()
        panel.method_box.setCurrentIndex(panel.method_box.findData(method))
        QTimer.singleShot(600_000, loop.quit)
        loop.exec()
        probe.stop()
        panel.runner.fitted.disconnect()
        panel.runner.failed.disconnect()
        print(f"  {method}: {done[0] if done else 'timed out'} in {time.perf_counter() - t0:.1f} s; "
              f"lateness median {statistics.median(late):.1f} ms, p99 {percentile(late, 99):.1f} ms "
              f"over {len(late):,} ticks (target p99 < 50 ms)")
    panel.runner.shutdown(30_000)  # the t-SNE transform warms after the fit: let it end


if __name__ == "__main__":
    raise SystemExit(main())
