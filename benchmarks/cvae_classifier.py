"""How often a CVAE used as a classifier (the label with the highest ELBO) is right on the test split.

    .venv/bin/python benchmarks/cvae_classifier.py [--checkpoint F | --epochs N] [--dataset auto]

Trains a course-default CVAE (for as many epochs as `train` would on that dataset, unless
--epochs) (784-256-64-nz=32, β = 0.005, Adam 1e-3, batch 64) unless a
checkpoint is given, then classifies every test image with each score of
training.explore.drawing.classify_batch ('mean': reconstruction at the posterior mean − KL, the Draw
tab's default; 'elbo' and 'iwae': k fixed-seed samples) and prints the accuracy, the time per
image and the accuracy per class; each accuracy with its binomial standard error over the test
images. Also classifies the test digits drawn back 5× larger on a
200×300 canvas and preprocessed, as a drawing would be.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="a CVAE checkpoint instead of training one")
    ap.add_argument("--epochs", type=int, default=None,
                    help="epochs to train (default: what `train` uses for the dataset)")
    ap.add_argument("--dataset", default="auto", help="auto, mnist-sample, mnist, fashion-mnist")
    ap.add_argument("--k", type=int, default=16, help="samples for elbo/iwae")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from latent_explorer.training.data.sources import load_dataset
    from latent_explorer.training.explore.drawing import classify_batch, preprocess

    data = load_dataset(args.dataset, allow_download=False)
    if args.checkpoint:
        from latent_explorer.training.record.checkpoint import load_checkpoint

        model = load_checkpoint(args.checkpoint).model
        what = args.checkpoint
    else:
        from latent_explorer.training.engine.loop import TrainConfig, Trainer
        from latent_explorer.training.data.sources import default_epochs

        args.epochs = args.epochs or default_epochs(len(data.train), 64)
        cfg = TrainConfig(kind="cvae", epochs=args.epochs, device="cpu", seed=args.seed,
                          dataset=data.name)
        t0 = time.perf_counter()
        result = Trainer(cfg, data).run()
        what = (f"CVAE trained {args.epochs} epochs on {data.description} "
                f"({time.perf_counter() - t0:.0f} s; test {result.metrics.summary()})")
        model = result.model
    model.eval()
    x = data.test.float_images().numpy()
    y = data.test.labels.numpy()
    print(f"{what}\ntest split: {len(y):,} images")
    for method, k in (("mean", 0), ("elbo", args.k), ("iwae", args.k)):
        t0 = time.perf_counter()
        guess, _ = classify_batch(model, x, method=method, k=max(k, 1))
        dt = (time.perf_counter() - t0) / len(y) * 1000
        per_class = " ".join(f"{c}:{np.mean(guess[y == c] == c):.2f}" for c in range(10))
        label = method + (f" k={k}" if k else "")
        acc = np.mean(guess == y)
        print(f"  {label:10s} accuracy {acc:.3f} ± {np.sqrt(acc * (1 - acc) / len(y)):.3f}  "
              f"({dt:.2f} ms/image)  {per_class}")
    n = min(len(y), 1000)
    drawn = []
    for i, img in enumerate(data.test.images[:n].numpy()):
        canvas = np.zeros((200, 300), np.uint8)
        r, c = 10 + i % 37, 20 + i % 131
        canvas[r : r + 140, c : c + 140] = np.kron(img, np.ones((5, 5), np.uint8))
        drawn.append(preprocess(canvas))
    guess, _ = classify_batch(model, np.stack(drawn))
    acc = np.mean(guess == y[:n])
    print(f"  drawn back ×5 and preprocessed ({n} images): accuracy {acc:.3f} ± "
          f"{np.sqrt(acc * (1 - acc) / n):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
