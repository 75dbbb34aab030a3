"""A β sweep trained at once against the same members trained one after another.

Same data, same epochs, same members (VAE, nz 32, batch 64, the course's β grid for 7 members,
else 0 and a log grid up to 10): the sweep (`training.engine.sweep.SweepTrainer`: the one loop driving stacked
members) against single runs (`training.engine.loop.Trainer`: the one loop, one member, fast step) run once per
member. Prints model-steps per second for both (members x steps / training seconds, test
evaluation excluded; wall time with it too), their ratio, and each one's peak memory (its own
process's peak RSS; CUDA: torch.cuda.max_memory_allocated). Each variant runs in a fresh child
process, alternately when repeated, so a noisy machine shows up as a spread, not a bias.
Uses full Fashion-MNIST (`apt-get install dataset-fashion-mnist`) when present, else the
bundled sample.

    python benchmarks/sweep_speed.py [--members 7] [--epochs 1] [--repeat 1] [--device cpu]
                                     [--data-dir DIR] [--profile]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FASHION = Path("/usr/share/datasets/fashion-mnist")


def member_betas(n: int) -> tuple[float, ...]:
    """The course's grid for 7 members; else 0 then n-1 log-spaced values from 1e-5 to 10."""
    from latent_explorer.training.engine.sweep import COURSE_BETAS

    if n == len(COURSE_BETAS):
        return COURSE_BETAS
    if n == 1:
        return (0.005,)
    return (0.0,) + tuple(float(f"{1e-5 * 10 ** (6 * i / (n - 2)):.4g}") for i in range(n - 1))


def load(data_dir: str | None):
    from latent_explorer.training.data.datasets import load_idx_folder, load_mnist_sample

    return load_idx_folder(data_dir) if data_dir else load_mnist_sample()


def child(variant: str, members: int, epochs: int, device: str, data_dir: str | None,
          workers: int | None = None) -> dict:
    """Train one variant in this process and report its figures."""
    import torch

    from latent_explorer.training.engine.events import Observer
    from latent_explorer.training.engine.loop import TrainConfig, Trainer
    from latent_explorer.training.engine.sweep import SweepConfig, SweepTrainer

    ds = load(data_dir)
    betas = member_betas(members)
    common = dict(kind="vae", nz=32, hidden=(256, 64), epochs=epochs, batch_size=64, lr=1e-3,
                  device=device)
    train_s: list[float] = []

    class Timer(Observer):
        def on_epoch_end(self, event) -> None:
            train_s.append(event.seconds)

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    steps = 0
    if variant == "sweep":
        cfg = SweepConfig(betas=betas, seeds=(0,), **common)
        result = SweepTrainer(cfg, ds, [Timer()], workers=workers).run()
        if result.state != "finished":
            raise SystemExit(f"sweep ended {result.state}: {result.error}")
        steps = sum(len(r.history) for r in result.results)
    else:
        for beta in betas:
            r = Trainer(TrainConfig(beta=beta, seed=0, engine="fast", **common), ds,
                        [Timer()]).run()
            if r.state != "finished":
                raise SystemExit(f"single run ended {r.state}: {r.error}")
            steps += len(r.history)
    wall = time.perf_counter() - t0
    out = {"variant": variant, "model_steps": steps, "train_s": sum(train_s), "wall_s": wall,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "threads": torch.get_num_threads(), "data": ds.description}
    if device.startswith("cuda"):
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def profile(members: int, device: str, data_dir: str | None, workers: int | None,
            steps: int = 200) -> None:
    """Where a sweep step's time goes: torch.profiler over `steps` steps, top ops."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    from latent_explorer.training.data.datasets import iterate_batches
    from latent_explorer.training.engine.fast_step import FlatAdam
    from latent_explorer.training.engine.sweep import SweepConfig, SweepTrainer
    from latent_explorer.training.engine.sweep_step import MemberGroups

    ds = load(data_dir).to(device)
    trainer = SweepTrainer(SweepConfig(betas=member_betas(members), seeds=(0,), device=device),
                           ds, workers=workers)
    opt = FlatAdam(trainer.model.params)
    groups = MemberGroups(trainer.model, [b for b, _ in trainer.grid], [0] * members, opt,
                          trainer.workers)
    batches = itertools.cycle([x for x, _ in iterate_batches(ds.train, 64, trainer.members.order_generator)])
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    try:
        for _ in range(20):
            groups.step(next(batches))
        t0 = time.perf_counter()
        with torch_profile(activities=acts) as prof:
            for _ in range(steps):
                groups.step(next(batches))
        seconds = time.perf_counter() - t0
    finally:
        groups.close()
    key = "self_cuda_time_total" if device.startswith("cuda") else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=20))
    print(f"{steps} steps of {members} members in {seconds:.2f} s under the profiler "
          f"({trainer.workers} worker threads)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="alternate the variants N times")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data-dir", default=str(FASHION) if FASHION.is_dir() else None,
                    help="idx folder ('' for the bundled sample)")
    ap.add_argument("--workers", type=int, default=None,
                    help="sweep threads, each training a group of members (default: one per "
                         "torch thread on a CPU; 1 = one group on torch's own threads)")
    ap.add_argument("--profile", action="store_true", help="profile sweep steps instead")
    ap.add_argument("--child", choices=("sweep", "single"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.members, args.epochs, args.device,
                               args.data_dir or None, args.workers)))
        return
    if args.profile:
        profile(args.members, args.device, args.data_dir or None, args.workers)
        return
    print(f"{args.members} VAE members, {args.epochs} epoch(s), device {args.device}, "
          f"sweep workers {args.workers or 'auto'}, "
          f"data {args.data_dir or 'bundled mnist-sample'}; betas {member_betas(args.members)}")
    results: dict[str, list[dict]] = {"sweep": [], "single": []}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeat):
        for variant in ("single", "sweep"):
            cmd = [sys.executable, __file__, "--child", variant, "--members", str(args.members),
                   "--epochs", str(args.epochs), "--device", args.device,
                   "--data-dir", args.data_dir or ""]
            if args.workers is not None:
                cmd += ["--workers", str(args.workers)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                raise SystemExit(f"{variant} failed:\n{proc.stderr.strip()}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results[variant].append(r)
            loads.append(os.getloadavg()[0])
            rate = r["model_steps"] / r["train_s"]
            mem = f", CUDA peak {r['cuda_peak_mb']:.0f} MB" if "cuda_peak_mb" in r else ""
            print(f"  {variant:6s}: {rate:7.0f} model-steps/s ({r['model_steps']} steps, "
                  f"{r['train_s']:.1f} s training, {r['wall_s']:.1f} s wall), "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB{mem}", flush=True)
    ratios = [(s["model_steps"] / s["train_s"]) / (q["model_steps"] / q["train_s"])
              for s, q in zip(results["sweep"], results["single"])]
    walls = [q["wall_s"] / s["wall_s"] for s, q in zip(results["sweep"], results["single"])]
    sweep_rate = statistics.median(r["model_steps"] / r["train_s"] for r in results["sweep"])
    single_rate = statistics.median(r["model_steps"] / r["train_s"] for r in results["single"])
    print(f"RESULT: {args.members} members at once {sweep_rate:.0f} model-steps/s, one after "
          f"another {single_rate:.0f} model-steps/s; ratio {statistics.median(ratios):.2f}x "
          f"(per pair: {', '.join(f'{x:.2f}' for x in ratios)}; wall with evaluation "
          f"{statistics.median(walls):.2f}x); peak RSS sweep "
          f"{max(r['peak_rss_mb'] for r in results['sweep']):.0f} MB, single "
          f"{max(r['peak_rss_mb'] for r in results['single']):.0f} MB; "
          f"load average {min(loads):.1f}-{max(loads):.1f} (target: >= 1.5x)")
    # The ceiling: batching members saves only what a single model's step spends outside its
    # matmuls and Adam. Those alone (train_speed.py's floor: the same 17 matmuls per step and
    # the fused Adam kernel, nothing else) bound how fast any engine can train these models.
    from train_speed import floor_epoch

    steps = 1000
    floor_rate = steps / floor_epoch(steps)
    print(f"FLOOR: matmuls + Adam alone {floor_rate:.0f} model-steps/s; one after another runs "
          f"at {single_rate / floor_rate:.0%} of it, so batching members can gain at most "
          f"{floor_rate / single_rate:.2f}x on this machine (target 1.5x)")


if __name__ == "__main__":
    main()
