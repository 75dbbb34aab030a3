"""Seconds from `python main.py` starting to its window on screen, and to torch being ready.

    python benchmarks/launch_time.py [--runs 7]                      # offscreen (no display)
    xvfb-run -a python benchmarks/launch_time.py --platform xcb      # a real X server

Each run starts main.py in a fresh process with LATENT_EXPLORER_STARTUP_PROBE=1: the app prints
the seconds since its process started (from /proc, so interpreter start-up counts) when the
window first painted, whether torch had been imported by then, and when torch had loaded
behind the window; then it quits. Target: the window on screen in under 1 s, before torch.
Not a test: it prints the figures (median and max over the runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.0


def launch(env: dict[str, str]) -> tuple[float, float, bool, float]:
    """One launch: (to visible, to torch ready, torch imported before visible, process seconds)."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    total = time.perf_counter() - t0
    fields: dict[str, list[str]] = {}
    for line in out.stdout.splitlines():
        words = line.split()
        if words and words[0] in ("visible", "ready"):
            fields[words[0]] = words[1:]
    if "visible" not in fields or "ready" not in fields:
        raise SystemExit(f"main.py printed no start-up probe (exit {out.returncode}):\n"
                         f"{out.stdout}{out.stderr}")
    v = fields["visible"]
    torch_first = len(v) >= 3 and v[1] == "torch-imported" and v[2] == "yes"
    return float(v[0]), float(fields["ready"][0]), torch_first, total


def measure(runs: int, platform: str | None = None) -> dict[str, float]:
    """Launch main.py `runs` times; print each and the summary; return median/max figures."""
    env = {**os.environ, "LATENT_EXPLORER_STARTUP_PROBE": "1"}
    if platform:
        env["QT_QPA_PLATFORM"] = platform
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    visible, ready = [], []
    launch(env)  # warm the disk cache: the first launch after a build reads every file
    for i in range(runs):
        v, r, torch_first, total = launch(env)
        visible.append(v)
        ready.append(r)
        note = "  (torch was imported before the window showed!)" if torch_first else ""
        print(f"run {i + 1}: window on screen {v:.3f} s, torch ready {r:.3f} s "
              f"(process {total:.2f} s){note}", flush=True)
    out = {"visible_median": statistics.median(visible), "visible_max": max(visible),
           "ready_median": statistics.median(ready), "ready_max": max(ready)}
    verdict = "under" if out["visible_max"] < TARGET_S else "NOT under"
    print(f"window on screen: median {out['visible_median']:.3f} s, max {out['visible_max']:.3f} s "
          f"over {runs} runs ({verdict} the {TARGET_S:g} s target); torch ready behind it: "
          f"median {out['ready_median']:.2f} s, max {out['ready_max']:.2f} s "
          f"(platform {env['QT_QPA_PLATFORM']}, {os.cpu_count()} CPUs)")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7, help="launches to time (default 7)")
    p.add_argument("--platform", default=None,
                   help="QT_QPA_PLATFORM for the app (default: as set, else offscreen)")
    args = p.parse_args(argv)
    measure(max(1, args.runs), args.platform)
    return 0


if __name__ == "__main__":
    sys.exit(main())
