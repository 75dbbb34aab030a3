"""Does training produce good models? AE, VAE and CVAE with defaults, judged by a classifier.

Trains each kind headless on the bundled mnist-sample for about 4,500 steps (β = 0.005, nz 32),
prints the test metrics and wall time, then asks an independent digit classifier (a small CNN
trained here on the same 4,500 training digits, never on generated images) to read:
- the CVAE's samples for each label (fraction recognised as the asked-for label),
- the VAE's prior samples (fraction the classifier is confident about, max p >= 0.9),
- the AE's test reconstructions (agreement with the classifier's reading of the originals).

    python benchmarks/quality.py [--steps 4500] [--seed 0]
    python benchmarks/quality.py --archs    # MLP vs conv, VAE and CVAE: one table
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch import nn

from latent_explorer.training.data.datasets import iterate_batches, load_mnist_sample
from latent_explorer.training.engine.loop import TrainConfig, Trainer


def train_classifier(ds, seed: int, epochs: int = 8) -> nn.Module:
    """A small CNN (two conv layers): ~97% on MNIST after a few epochs of 4,500 digits."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for x, y in iterate_batches(ds.train, 64, g):
            loss = nn.functional.cross_entropy(net(x.view(-1, 1, 28, 28)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def classify(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return torch.softmax(net(images.reshape(-1, 1, 28, 28).float()), dim=1)


def arch_table(ds, seed: int, course_epochs: int, steps_per_epoch: int,
               kinds: tuple[str, ...] = ("vae", "cvae"), same_time: bool = True) -> None:
    """MLP against conv, VAE and CVAE: at the course's step budget and at the same wall time.

    Judged quality (training/metrics/judge.py: the share of 1,000 prior samples read with
    p >= 0.9; for a CVAE, read as the asked label), classes seen, test -ELBO, the IW bound
    (k = 100) and steps/s. "Same wall time": each architecture gets the other's training time
    at the course budget, in whole epochs at the speed it showed there.
    """
    from latent_explorer.training.metrics.evaluate import importance_weighted_bound
    from latent_explorer.training.metrics.judge import get_judge, sample_quality

    judge = get_judge(ds)
    print(judge.summary())
    rows, seconds, rates = [], {}, {}

    def one(kind: str, arch: str, epochs: int, budget: str) -> None:
        cfg = TrainConfig(kind=kind, beta=0.005, nz=32, epochs=epochs, seed=seed, device="cpu",
                          arch=arch)
        tr = Trainer(cfg, ds)
        r = tr.run()
        assert r.state == "finished", r.error
        steps = epochs * steps_per_epoch
        train_s = r.seconds - r.eval_seconds - r.timeline_seconds
        seconds[(kind, arch)], rates[(kind, arch)] = train_s, steps / train_s
        q = sample_quality(r.model, judge, n=1000, seed=seed)
        iw = importance_weighted_bound(r.model, ds.test, k=100)
        rows.append((f"{kind.upper()} {arch}", budget, steps, train_s, steps / train_s,
                     q.quality, q.classes_seen, r.metrics.neg_elbo, iw, tr.engine))
        print(f"  {rows[-1][0]:9s} {budget:22s} {steps:6d} steps {train_s:6.1f} s "
              f"quality {q.quality:.1%} classes {q.classes_seen}", flush=True)

    for kind in kinds:
        for arch in ("mlp", "conv"):
            one(kind, arch, course_epochs, "course steps")
        # Both targets first: a same-time row records its own seconds, which must not become
        # the other architecture's target.
        course = {arch: (seconds[(kind, arch)], rates[(kind, arch)]) for arch in ("mlp", "conv")}
        for arch, other in (("mlp", "conv"), ("conv", "mlp")):
            target = course[other][0]
            epochs = max(1, round(target * course[arch][1] / steps_per_epoch))
            if same_time:
                one(kind, arch, epochs, f"{other}'s time ({target:.1f} s)")
    print(f"\n{'model':9s} {'budget':22s} {'steps':>6s} {'train s':>8s} {'steps/s':>8s} "
          f"{'quality':>8s} {'classes':>7s} {'-ELBO':>7s} {'IW k=100':>8s} engine")
    for name, budget, steps, t, rate, q, cls, nelbo, iw, engine in rows:
        print(f"{name:9s} {budget:22s} {steps:6d} {t:8.1f} {rate:8.1f} {q:8.1%} {cls:7d} "
              f"{nelbo:7.1f} {iw:8.1f} {engine}")
    print("quality: share of 1,000 prior samples the judge reads with p >= 0.9 (CVAE: as the "
          "asked label); nats: grey-level Bernoulli, not comparable with binarised-MNIST NLLs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--archs", action="store_true",
                    help="only the MLP-against-conv table (VAE and CVAE, course steps and same "
                         "wall time)")
    ap.add_argument("--kinds", default="vae,cvae", help="with --archs: the kinds to compare")
    ap.add_argument("--course-only", action="store_true",
                    help="with --archs: the course's steps only, not the same-wall-time rows")
    args = ap.parse_args()
    ds = load_mnist_sample()
    steps_per_epoch = -(-len(ds.train) // 64)
    epochs = max(1, round(args.steps / steps_per_epoch))
    print(f"data: {ds.description}; {epochs} epochs x {steps_per_epoch} steps "
          f"= {epochs * steps_per_epoch} steps per model")
    if args.archs:
        arch_table(ds, args.seed, epochs, steps_per_epoch, tuple(args.kinds.split(",")),
                   not args.course_only)
        return

    t0 = time.perf_counter()
    clf = train_classifier(ds, args.seed)
    test_x = ds.test.float_images()
    acc = (classify(clf, test_x).argmax(1) == ds.test.labels).float().mean().item()
    print(f"classifier: test accuracy {acc:.1%} ({time.perf_counter() - t0:.1f} s)")

    models = {}
    for kind in ("ae", "vae", "cvae"):
        cfg = TrainConfig(kind=kind, beta=0.005, nz=32, epochs=epochs, seed=args.seed, device="cpu")
        r = Trainer(cfg, ds).run()
        assert r.state == "finished", r.error
        models[kind] = r.model
        print(f"{kind.upper():4s} {r.seconds:5.1f} s  test {r.metrics.summary()}")

    g = torch.Generator().manual_seed(args.seed + 1)
    # CVAE: 100 samples of each label.
    per_label = []
    for label in range(10):
        imgs = models["cvae"].sample(100, label, generator=g)
        per_label.append((classify(clf, imgs).argmax(1) == label).float().mean().item())
    print("CVAE samples recognised as their label: "
          + " ".join(f"{d}:{p:.0%}" for d, p in enumerate(per_label))
          + f"  (mean {sum(per_label) / 10:.1%}, worst {min(per_label):.0%})")
    # VAE: prior samples the classifier is confident about.
    probs = classify(clf, models["vae"].sample(1000, generator=g))
    top = probs.max(1).values
    counts = torch.bincount(probs.argmax(1), minlength=10).tolist()
    print(f"VAE prior samples read as a digit with confidence >= 0.5: {(top >= 0.5).float().mean():.1%}, "
          f">= 0.9: {(top >= 0.9).float().mean():.1%}; digits seen: {counts}")
    # AE: reconstructions read like the originals.
    rec = models["ae"].reconstruct(test_x)
    same = (classify(clf, rec).argmax(1) == classify(clf, test_x).argmax(1)).float().mean().item()
    mse = (rec.view_as(test_x) - test_x).pow(2).mean().item()
    print(f"AE reconstructions: classifier agrees with the original on {same:.1%}; "
          f"pixel MSE {mse:.4f}")
    print(f"wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
