"""Training on a busy machine: one epoch quiet and beside two busy processes, spin-waiting
OpenMP threads (torch's default) against passive waits (what latent_explorer sets).

Each variant is `main.py train --epochs 1 --timings` as a process of its own; its steps' time is
read from the timings line. Busy processes are plain Python loops, one per other program that a
user's laptop or a CI runner keeps busy. Variants alternate within each round, so a noisy
minute hits all of them; medians over the rounds are printed, and each loaded time as a multiple
of the same policy's quiet time (a fair share of 2 cores beside 2 busy processes is about 2x;
the target is at most 2.2x).

    python benchmarks/busy_machine.py [--rounds 3] [--busy 2] [--data-dir DIR] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")

# The process under test: after `import latent_explorer` has set its policy, "spin" takes it back
# out of the environment before torch loads, as it was before the package set it.
RUNNER = """
import os, sys
if sys.argv[1] == "passive":
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
if sys.argv[1] == "auto-all-threads" or sys.argv[1].startswith("spin"):
    os.environ["LATENT_EXPLORER_BUSY_THREADS"] = "0"  # torch's own thread count, busy or not
import latent_explorer  # "auto": the package chooses by how busy the machine is
if sys.argv[1].startswith("spin"):
    os.environ.pop("OMP_WAIT_POLICY", None)
if sys.argv[1].startswith("spin"):  # spin<N>: libgomp's default policy, N spins before sleeping
    count = sys.argv[1][4:]
    if count:
        os.environ["GOMP_SPINCOUNT"] = count
from latent_explorer.main import main
sys.exit(main(sys.argv[2:]))
"""
LABELS = {"spin": "OpenMP spin-wait (torch's default)",
          "passive": "OMP_WAIT_POLICY=PASSIVE always",
          "auto": "latent_explorer's choice (passive, 1 thread when busy)",
          "auto-all-threads": "passive when busy, torch's thread count"}
BUSY = "while True: pass"


def train_once(policy: str, data_args: list[str], out: Path, extra: list[str]) -> float:
    """Seconds the epoch's steps took (from --timings), in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    cmd = [sys.executable, "-c", RUNNER, policy, "train", "--model", "vae", "--epochs", "1",
           "--quiet", "--timings", "--out", str(out), *data_args, *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    m = re.search(r"\(steps ([\d.]+) s", done.stdout + done.stderr)
    if not m:
        raise SystemExit(f"no timings line in:\n{done.stdout}\n{done.stderr}")
    how = re.search(r"(\d+) torch thread\(s\), OpenMP waits (\w+)", done.stdout + done.stderr)
    if how:  # what the process chose (auto: by the load it saw at start)
        print(f"    ({how.group(1)} thread(s), {how.group(2)})", flush=True)
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--busy", type=int, default=2, help="busy processes beside the training")
    ap.add_argument("--data-dir", type=Path, default=FASHION if FASHION.is_dir() else None)
    ap.add_argument("--sample", action="store_true", help="the bundled sample, even with Fashion")
    ap.add_argument("--threads", type=int, default=0, help="pass --threads N to train")
    ap.add_argument("--policies", default="spin,passive,auto,auto-all-threads",
                    help="comma-separated: spin (torch's default), passive (always), auto (the "
                         "package's choice by the machine's load), "
                         "spin<N> (libgomp's default with GOMP_SPINCOUNT=N)")
    args = ap.parse_args()
    if args.sample:
        args.data_dir = None
    data_args = (["--data-dir", str(args.data_dir)] if args.data_dir
                 else ["--dataset", "mnist-sample"])
    extra = ["--threads", str(args.threads)] if args.threads else []
    policies = [x.strip() for x in args.policies.split(",") if x.strip()]
    data = args.data_dir or "the bundled sample (dataset-fashion-mnist gives the full-scale one)"
    print(f"data: {data}; {os.cpu_count()} CPUs; {args.busy} busy processes when loaded")
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.safetensors"
        for r in range(args.rounds):
            for load in ("quiet", "loaded"):
                busy = [subprocess.Popen([sys.executable, "-c", BUSY])
                        for _ in range(args.busy if load == "loaded" else 0)]
                try:
                    for policy in policies:
                        t = train_once(policy, data_args, out, extra)
                        times.setdefault((policy, load), []).append(t)
                        print(f"  round {r + 1}: {policy:7s} {load:6s} {t:6.2f} s", flush=True)
                finally:
                    for p in busy:
                        p.kill()
                        p.wait()
    print("median seconds of one epoch's steps (and loaded / quiet):")
    for policy in policies:
        q = statistics.median(times[(policy, "quiet")])
        lo = statistics.median(times[(policy, "loaded")])
        label = LABELS.get(policy, f"GOMP_SPINCOUNT={policy[4:]}")
        print(f"  {label:52s} quiet {q:6.2f} s, loaded {lo:6.2f} s: {lo / q:.2f}x "
              f"(target <= 2.2x)")
    if "spin" in policies:
        qs = statistics.median(times[("spin", "quiet")])
        for policy in policies:
            if policy != "spin":
                qp = statistics.median(times[(policy, "quiet")])
                print(f"quiet machine, {policy} against spin: {qp / qs:.2f}x (1.00 = no loss)")


if __name__ == "__main__":
    main()
