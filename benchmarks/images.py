"""Images of any size and colour: training speed per architecture and image shape, and what each
likelihood makes of colour data, in one run.

1. Speed: steps/s and s/epoch of the default trainer (the fast engine where it applies) for the
   MLP and the conv architecture on 28×28×1 (the bundled digits), 32×32×3 (the colour sprites
   shrunk to 32×32: generated colour data), 64×64×1 (sprites) and 64×64×3 (colour sprites), on
   the CPU and on CUDA when a GPU is present. Each figure is the median of `--repeats` runs of
   `--steps` steps (the test split kept tiny so its evaluation is not timed), interleaved.
2. Likelihoods on colour data: a conv VAE per likelihood trained for `--epochs` on 32×32×3
   colour sprites, then the k = 100 importance-weighted bound on the test images in nats and
   bits per dimension (for the discretised logistic the published convention; for the densities
   Theis et al.'s 8-bit convention, which here is no bound: see models/likelihoods.py; for the
   Bernoulli a pmf of binary values, which the sprites are), and the
   judged share of prior samples (the judge reads the sprite's shape).

    python benchmarks/images.py [--quick] [--steps 60] [--repeats 3] [--epochs 3] [--no-likelihoods]
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from latent_explorer.models.likelihoods import bits_per_dim, bits_per_dim_8bit, list_likelihoods
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.data.datasets import Dataset, load_mnist_sample
from latent_explorer.training.data.resize import shape_dataset
from latent_explorer.training.data.sprites import load_sprites
from latent_explorer.training.engine.loop import Trainer
from latent_explorer.training.metrics.evaluate import iw_bound_estimate
from latent_explorer.training.metrics.judge import get_judge, sample_quality

BATCH = 64


def subset(ds: Dataset, n_train: int, n_test: int) -> Dataset:
    return dataclasses.replace(ds, train=ds.train.subset(slice(0, n_train)),
                               test=ds.test.subset(slice(0, n_test)))


def datasets(quick: bool) -> dict[str, Dataset]:
    n = 2000 if quick else 6000
    colour = load_sprites(n_train=n, n_test=500, colour=True)
    return {
        "28x28x1 digits": load_mnist_sample(),
        "32x32x3 colour": shape_dataset(colour, 32, None),
        "64x64x1 sprites": load_sprites(n_train=n, n_test=500),
        "64x64x3 colour sprites": colour,
    }


def steps_per_second(cfg: TrainConfig, ds: Dataset, steps: int) -> float:
    """Steps/s of one epoch of `steps` batches through the default trainer (test split tiny)."""
    small = subset(ds, steps * BATCH, BATCH)
    r = Trainer(cfg, small).run()
    return steps / max(1e-9, r.seconds - r.eval_seconds - r.timeline_seconds)


def speed_table(sets: dict[str, Dataset], device: str, steps: int, repeats: int) -> None:
    print(f"\n## Speed on {device} (batch {BATCH}, {steps} steps per run, median of {repeats} "
          "interleaved runs)")
    print(f"{'images':<24}{'arch':<6}{'engine':<10}{'steps/s':>9}{'s/epoch':>9}  (epoch of)")
    cells = [(name, arch) for name in sets for arch in ("mlp", "conv")]
    got: dict[tuple[str, str], list[float]] = {c: [] for c in cells}
    engines: dict[tuple[str, str], str] = {}
    for name, arch in cells:  # warm-up: first calls of each shape (oneDNN primitives, caches)
        steps_per_second(TrainConfig(kind="vae", arch=arch, epochs=1, device=device), sets[name], 3)
    for _ in range(repeats):
        for name, arch in cells:
            cfg = TrainConfig(kind="vae", arch=arch, epochs=1, device=device, seed=0)
            got[(name, arch)].append(steps_per_second(cfg, sets[name], steps))
            engines[(name, arch)] = "fast" if arch == "mlp" else "autograd"
    for name, arch in cells:
        sps = statistics.median(got[(name, arch)])
        n = len(sets[name].train)
        print(f"{name:<24}{arch:<6}{engines[(name, arch)]:<10}{sps:9.1f}{n / BATCH / sps:9.1f}"
              f"  ({n:,} images)")


def likelihood_table(ds: Dataset, epochs: int, k: int, n_test: int, n_samples: int) -> None:
    test = ds.test.subset(slice(0, n_test))
    judge = get_judge(ds)
    c, h, w = ds.image_shape
    d = c * h * w
    print(f"\n## Likelihoods on {c}x{h}x{w} colour sprites: conv VAE, {epochs} epochs of "
          f"{len(ds.train):,} images; IW bound k = {k} on {n_test} test images; "
          f"{n_samples} prior samples judged")
    print(f"{judge.summary()}")
    print(f"{'likelihood':<22}{'-log p(x) <=':>14}{'bits/dim':>10}  {'convention':<30}{'judged':>8}"
          f"{'train s':>9}")
    for lik in list_likelihoods():
        cfg = TrainConfig(kind="vae", arch="conv", epochs=epochs, likelihood=lik.name, seed=0)
        t0 = time.perf_counter()
        result = Trainer(cfg, ds).run()
        seconds = time.perf_counter() - t0
        model = result.model
        if result.state != "finished":
            print(f"{lik.name:<22} {result.state}: {result.error}")
            continue
        est = iw_bound_estimate(model, test, k, batch_size=2000)
        if lik.discrete:
            bpd, how = bits_per_dim(est.value, d), "discrete (published)"
        elif lik.name == "bernoulli":  # a pmf of binary values: sprites are 0 or 255
            bpd, how = bits_per_dim(est.value, d), "pmf of binary values"
        else:
            bpd, how = bits_per_dim_8bit(est.value, d), "density + D log 256 (no bound)"
        quality = sample_quality(model, judge, n=n_samples).quality
        print(f"{lik.name:<22}{est.value:10.1f} ± {est.se:<4.1f}{bpd:8.3f}  {how:<30}"
              f"{quality:8.1%}{seconds:9.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer steps, images and epochs")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--no-likelihoods", action="store_true")
    args = p.parse_args()
    steps = args.steps or (15 if args.quick else 60)
    repeats = args.repeats or (1 if args.quick else 3)
    epochs = args.epochs or (1 if args.quick else 3)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {time.strftime('%Y-%m-%d %H:%M')}")
    sets = datasets(args.quick)
    speed_table(sets, "cpu", steps, repeats)
    if torch.cuda.is_available():
        speed_table(sets, "cuda", steps, repeats)
    else:
        print("(no CUDA device here: CPU figures only)")
    if not args.no_likelihoods:
        colour = sets["32x32x3 colour"]
        if args.quick:
            colour = subset(colour, 1000, 200)
        likelihood_table(colour, epochs, k=100 if not args.quick else 10,
                         n_test=200 if args.quick else 500, n_samples=500)


if __name__ == "__main__":
    main()
