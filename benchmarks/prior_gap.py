"""Where prior samples lose quality: the judge's reading of real digits, reconstructions,
aggregate-posterior samples and prior samples, for VAEs with the N(0, I) prior and a VampPrior.

Trains each configuration headless on the bundled sample for the course's step budget (64
epochs of 71 steps = 4,544 steps, batch 64, Adam 1e-3, nz 32, seed 0), then asks the judge
(training/metrics/judge.py: the share of images read as a digit with p >= 0.9) about:
- real test digits (the ceiling the judge itself allows),
- reconstructions of test digits (decode of the posterior mean),
- aggregate-posterior samples: z ~ q(z|x) for random training digits, decoded,
- prior samples: z ~ p(z) at T = 1, decoded (the issue's measure; 1,000 samples, seed 0).
The gap between the last two is the prior-posterior mismatch: N(0, I) puts mass where no
digit's code lies. A VampPrior (a mixture of the encoder's posteriors of learned pseudo-inputs)
closes it. Also printed: test -ELBO, the IW bound (k = 100), steps/s.

    python benchmarks/prior_gap.py                      # the table in the README
    python benchmarks/prior_gap.py --configs conv:normal:0.005,conv:vamp:0.002
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_CONFIGS = ("mlp:normal:0.005,conv:normal:0.005,conv:normal:0.002,"
                   "mlp:vamp:0.005,conv:vamp:0.005,conv:vamp:0.002")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=DEFAULT_CONFIGS,
                    help="comma-separated arch:prior:beta (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=64)
    ap.add_argument("--pseudo-inputs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=1000, help="images judged per row")
    args = ap.parse_args()

    import torch

    from latent_explorer.training.data.datasets import load_mnist_sample
    from latent_explorer.training.engine.loop import TrainConfig, Trainer
    from latent_explorer.training.metrics.evaluate import importance_weighted_bound
    from latent_explorer.training.metrics.judge import get_judge, judge_samples, sample_quality

    ds = load_mnist_sample()
    judge = get_judge(ds)
    print(f"data: {ds.description}; {judge.summary()}")
    n = args.n
    real = judge_samples(judge, ds.test.float_images()[:n]).confident_share
    rows = []
    for spec in args.configs.split(","):
        arch, prior, beta = spec.split(":")
        cfg = TrainConfig(kind="vae", arch=arch, prior=prior, beta=float(beta), nz=32,
                          epochs=args.epochs, seed=args.seed, device="cpu",
                          pseudo_inputs=args.pseudo_inputs)
        trainer = Trainer(cfg, ds)
        r = trainer.run()
        if r.state != "finished":
            print(f"{spec}: {r.state} {r.error}")
            continue
        model = r.model.eval()
        steps = len(r.history)
        train_s = r.seconds - r.eval_seconds - r.timeline_seconds
        with torch.no_grad():
            test = ds.test.float_images()[:n]
            recon = judge_samples(judge, model.reconstruct(test)).confident_share
            g = torch.Generator().manual_seed(args.seed)
            idx = torch.randperm(len(ds.train), generator=g)[:n]
            post = model.encode(ds.train.float_images()[idx])
            z = post.mean + post.log_sigma.exp() * torch.randn(post.mean.shape, generator=g)
            aggregate = judge_samples(judge, model.decode(z)).confident_share
        prior_q = sample_quality(model, judge, n=n, seed=args.seed)
        iw = importance_weighted_bound(model, ds.test, k=100)
        rows.append((arch, prior, float(beta), steps, steps / train_s, recon, aggregate,
                     prior_q.quality, prior_q.classes_seen, r.metrics.neg_elbo, r.metrics.kl, iw,
                     trainer.engine))
        print(f"  {spec}: prior samples {prior_q.quality:.1%} ({prior_q.classes_seen} classes), "
              f"{train_s:.0f} s", flush=True)
    print(f"\nreal test digits read with p >= 0.9: {real:.1%}")
    print(f"{'arch':5s} {'prior':7s} {'beta':>6s} {'steps':>6s} {'steps/s':>8s} {'recon':>7s} "
          f"{'agg.post':>8s} {'prior':>7s} {'classes':>7s} {'-ELBO':>7s} {'KL':>6s} "
          f"{'IW k=100':>8s} engine")
    for (arch, prior, beta, steps, rate, recon, agg, q, cls, nelbo, kl, iw, engine) in rows:
        print(f"{arch:5s} {prior:7s} {beta:6g} {steps:6d} {rate:8.1f} {recon:7.1%} {agg:8.1%} "
              f"{q:7.1%} {cls:7d} {nelbo:7.1f} {kl:6.1f} {iw:8.1f} {engine}")
    print("quality columns: share the judge reads as a digit with p >= 0.9 (1,000 images each); "
          "prior: z ~ p(z) at T = 1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
