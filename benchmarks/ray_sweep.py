"""The same sweep locally, on an embedded Ray, and on a two-node Ray cluster simulated here.

Trains one 8-member VAE sweep (β = 0, then a log grid 1e-4…10; nz 32, batch 64) three ways,
each in a fresh process:
- local: `SweepTrainer`, the stacked members in groups on this process's threads;
- ray-embedded: `RaySweepTrainer` with no address (a Ray started on 127.0.0.1, one trial per
  CPU);
- ray-2-nodes: a head and a second worker node started on this machine (ray.cluster_utils,
  every process on 127.0.0.1, one CPU each), joined by address: one trial per node.

Prints, per variant, model-steps per second (members × steps / wall seconds, evaluation
included), the training seconds inside the trials, the start-up and hand-over overhead (wall
minus the slowest trial's training), and then a model of how the time would scale with nodes:
trials per node, what each trial is shipped (the dataset once per node through the object
store, the sweep's config), and the predicted wall time for 1, 2, 4 and 8 nodes of this CPU
(the members split into one trial per CPU, overhead paid once).

    python benchmarks/ray_sweep.py [--members 8] [--epochs 4] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VARIANTS = ("local", "ray-embedded", "ray-2-nodes")


def betas(n: int) -> tuple[float, ...]:
    if n == 1:
        return (0.005,)
    return (0.0,) + tuple(float(f"{1e-4 * 10 ** (5 * i / max(1, n - 2)):.3g}")
                          for i in range(n - 1))


def load(data_dir: str | None):
    from latent_explorer.training.data.datasets import load_idx_folder, load_mnist_sample

    return load_idx_folder(data_dir) if data_dir else load_mnist_sample()


def child(variant: str, members: int, epochs: int, data_dir: str | None) -> dict:
    import torch  # noqa: F401

    from latent_explorer.training.engine.events import Observer
    from latent_explorer.training.engine.ray_sweep import RaySettings, RaySweepTrainer
    from latent_explorer.training.engine.sweep import SweepConfig, SweepTrainer

    ds = load(data_dir)
    cfg = SweepConfig(kind="vae", betas=betas(members), seeds=(0,), nz=32, epochs=epochs,
                      device="cpu")
    per_trial: dict[tuple, float] = {}
    first_report: list[float] = []

    class Timer(Observer):
        def on_epoch_end(self, event) -> None:
            if not first_report:
                first_report.append(time.perf_counter())
            key = tuple(i for i, m in enumerate(event.metrics) if m is not None)
            per_trial[key] = per_trial.get(key, 0.0) + event.seconds + event.eval_seconds

    cluster = None
    t0 = time.perf_counter()
    if variant == "local":
        result = SweepTrainer(cfg, ds, [Timer()]).run()
        nodes = 1
    else:
        address = None
        if variant == "ray-2-nodes":
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every process on loopback
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            from ray.cluster_utils import Cluster

            cluster = Cluster(initialize_head=True,
                              head_node_args={"num_cpus": 1, "include_dashboard": False})
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            address = cluster.address
        t0 = time.perf_counter()
        result = RaySweepTrainer(cfg, ds, [Timer()],
                                 settings=RaySettings(address=address)).run()
        nodes = 2 if cluster is not None else 1
    wall = time.perf_counter() - t0
    if cluster is not None:
        cluster.shutdown()
    if result.state != "finished":
        raise SystemExit(f"{variant}: {result.state}: {result.error}")
    steps = sum(len(r.history) for r in result.results)
    slowest = max(per_trial.values()) if per_trial else wall
    return {"variant": variant, "model_steps": steps, "wall_s": wall,
            "trial_train_s": slowest, "trials": len(per_trial), "nodes": nodes,
            "first_report_s": (first_report[0] - t0) if first_report else None,
            "dataset_bytes": len(pickle.dumps(ds)), "data": ds.description}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.members, args.epochs, args.data_dir)))
        return 0
    rows = []
    for v in VARIANTS:
        cmd = [sys.executable, __file__, "--child", v, "--members", str(args.members),
               "--epochs", str(args.epochs)] + (["--data-dir", args.data_dir] if args.data_dir
                                                else [])
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if p.returncode != 0:
            print(f"{v}: failed: {p.stderr.strip().splitlines()[-1:]}")
            continue
        rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    if not rows:
        return 1
    print(f"{args.members} VAE members, {args.epochs} epochs on {rows[0]['data']}; "
          f"{os.cpu_count()} CPUs here")
    print(f"{'variant':14s} {'nodes':>5s} {'trials':>6s} {'model-steps/s':>13s} {'wall s':>7s} "
          f"{'trial train s':>13s} {'overhead s':>10s} {'1st report s':>12s}")
    for r in rows:
        over = r["wall_s"] - r["trial_train_s"]
        first = f"{r['first_report_s']:.1f}" if r["first_report_s"] is not None else "-"
        print(f"{r['variant']:14s} {r['nodes']:5d} {r['trials']:6d} "
              f"{r['model_steps'] / r['wall_s']:13.0f} {r['wall_s']:7.1f} "
              f"{r['trial_train_s']:13.1f} {over:10.1f} {first:>12s}")
    ray_rows = [r for r in rows if r["variant"] != "local"]
    if ray_rows:
        r = max(ray_rows, key=lambda r: r["nodes"])
        over = r["wall_s"] - r["trial_train_s"]
        # A trial's training time is its members' steps at the rate one CPU gave here.
        rate = r["model_steps"] / max(r["trial_train_s"] * r["trials"], 1e-9)
        cpus_per_node = max(1, (os.cpu_count() or 1) // r["nodes"])
        print(f"\nshipped per trial: the dataset once per node through the object store "
              f"({r['dataset_bytes'] / 2**20:.1f} MB pickled), the sweep's config (< 1 kB); "
              f"back per epoch: its members' step losses and metrics, and a checkpoint of "
              f"the trial's state")
        print(f"scaling model ({cpus_per_node} CPU(s) per node like this one, one trial per "
              f"CPU, {rate:.0f} model-steps/s per CPU, {over:.1f} s overhead once):")
        for n in (1, 2, 4, 8):
            trials = min(args.members, n * cpus_per_node)
            per = math.ceil(args.members / trials)
            t = over + per * (r["model_steps"] / args.members) / rate
            print(f"  {n} node(s): {trials} trials of <= {per} members, about {t:.0f} s "
                  f"({r['model_steps'] / t:.0f} model-steps/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
