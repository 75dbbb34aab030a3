"""How long the Draw tab's star takes to be placed on a t-SNE (or UMAP) latent map: the figure
tests/test_latent_map_methods_gui.py used to assert (< 5 s).

Trains the tests' small VAE (8-D codes; the bundled sample's first 640 digits, --epochs
epochs), encodes --codes test digits, fits the map as the Latent map tab does
(training/explore/latent_methods.py), then places drawn codes on it as the Draw tab's placer
does (`FittedMap.place`, explorer/session/map_runner.py): the first placement (which warms the
method's transform) and --places more, median and worst.

    python benchmarks/map_placement.py [--method tsne|umap] [--codes 500] [--places 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from latent_explorer.training.data.datasets import Dataset, Split, load_mnist_sample  # noqa: E402
from latent_explorer.training.engine.loop import TrainConfig, Trainer  # noqa: E402
from latent_explorer.training.explore import latent_methods as lm  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="tsne", choices=("tsne", "umap"))
    ap.add_argument("--codes", type=int, default=500, help="test digits on the map (at most 500)")
    ap.add_argument("--places", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    s = load_mnist_sample()
    n = min(args.codes, len(s.test))
    data = Dataset("mnist-sample", Split(s.train.images[:640], s.train.labels[:640]),
                   Split(s.test.images[:n], s.test.labels[:n]), "the sample's first 640 digits")
    cfg = TrainConfig(kind="vae", beta=0.005, nz=8, hidden=(64, 32), epochs=args.epochs, lr=3e-3,
                      seed=1, device="cpu", dataset="mnist-sample")
    model = Trainer(cfg, data).run().model
    with torch.no_grad():
        codes = model.encode(data.test.float_images()).mean.numpy().astype(np.float32)
    t0 = time.perf_counter()
    fitted = lm.fit_map(codes, args.method)
    fit_s = time.perf_counter() - t0
    # Drawn digits: test codes moved a little, as a hand-drawn digit lands near its class.
    rng = np.random.default_rng(0)
    z = codes[rng.integers(0, n, args.places + 1)] + rng.normal(0, 0.1, (args.places + 1, 8))
    times = []
    for q in z:
        t0 = time.perf_counter()
        fitted.place(q[None].astype(np.float32), codes)
        times.append(time.perf_counter() - t0)
    print(f"{args.method}: {n} codes of {cfg.nz} dimensions, fitted in {fit_s:.1f} s")
    print(f"first placement (warms the transform) {times[0] * 1000:8.1f} ms")
    print(f"then, {args.places} placements: median {statistics.median(times[1:]) * 1000:8.1f} ms   "
          f"worst {max(times[1:]) * 1000:8.1f} ms   (the test asserted < 5 s)")


if __name__ == "__main__":
    main()
