"""How long the Draw tab's core math takes per stroke event, without Qt.

    .venv/bin/python benchmarks/draw_core_latency.py [--strokes 300] [--threads 1] [--checkpoint F]

A synthetic drawing grows one segment per event on a 280×280 canvas (a 7, then an 8 drawn over
it, in a 26-px brush like the canvas's); after each segment the canvas image goes through what
the tab computes: preprocess to 28×28, encode, decode, classify (all ten labels' ELBOs, CVAE),
restyle (ten decodes), the 5 nearest among 10,000 test codes and the latent-map projection.
Each stage is timed on its own, then the whole as the tab would call it (`analyse` shares the
ten-label batch between classify, encode and restyle). Median and 99th percentile in ms, of the
wall clock and of the thread's CPU time (the difference is waiting for a busy machine's cores).
Target for the whole tab (this core plus setting images): p99 < 33 ms on a 2-core CPU.

The model has the course's default architecture (784-256-64-nz=32) with fresh weights unless
--checkpoint is given: latency depends on the layer sizes, not on the training.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return (f"median {np.median(a):6.2f} ms   p99 {np.percentile(a, 99):6.2f} ms   "
            f"max {a.max():6.2f} ms")


def stroke_path(n: int, side: int) -> list[tuple[float, float]]:
    """n + 1 points: a 7 then an 8 traced over it, scaled to a `side`-pixel canvas."""
    s = side / 280
    seven = [(70, 60), (210, 55), (130, 240)]
    t = np.linspace(0, 2 * np.pi, 200)
    eight = np.stack([140 + 55 * np.sin(2 * t), 140 - 90 * np.cos(t)], axis=1)
    key = np.array(seven + [tuple(p) for p in eight], dtype=np.float64)
    # Resample evenly along the path so every event adds a segment of the same length.
    seg = np.linalg.norm(np.diff(key, axis=0), axis=1)
    at = np.concatenate([[0], np.cumsum(seg)])
    u = np.linspace(0, at[-1], n + 1)
    pts = np.stack([np.interp(u, at, key[:, 0]), np.interp(u, at, key[:, 1])], axis=1) * s
    return [tuple(p) for p in pts]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strokes", type=int, default=300, help="stroke events (segments) to time")
    ap.add_argument("--codes", type=int, default=10_000, help="test codes to search")
    ap.add_argument("--canvas", type=int, default=280, help="canvas side in pixels")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (the GUI thread uses 1; 0: torch's default)")
    ap.add_argument("--checkpoint", default=None, help="a CVAE checkpoint instead of fresh weights")
    ap.add_argument("--method", default="mean", choices=("mean", "elbo", "iwae"),
                    help="classify's score (see training.explore.drawing.classify_batch)")
    ap.add_argument("--k", type=int, default=16, help="samples for --method elbo/iwae")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    from PIL import Image, ImageDraw

    from latent_explorer.models.autoencoders import ModelConfig, build_model
    from latent_explorer.training.explore.drawing import (analyse, classify, encode_image, nearest_codes, preprocess,
                                  restyle)
    from latent_explorer.training.explore.panel_math import Encoded, latent_map

    if args.checkpoint:
        from latent_explorer.training.record.checkpoint import load_checkpoint

        model = load_checkpoint(args.checkpoint).model
    else:
        model = build_model(ModelConfig(kind="cvae"), torch.Generator().manual_seed(0))
    model.eval()
    cfg = model.config
    g = torch.Generator().manual_seed(1)
    codes = torch.randn(args.codes, cfg.nz, generator=g)
    lmap = latent_map(Encoded(codes, None, np.zeros(args.codes, np.int64)))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {cfg.kind.upper()} "
          f"784-{'-'.join(map(str, cfg.hidden))}-nz={cfg.nz}; {args.codes:,} codes; "
          f"{args.canvas}-px canvas; {args.strokes} stroke events; classify by {args.method}"
          + (f" (k = {args.k})" if args.method != "mean" else ""))

    canvas = Image.new("L", (args.canvas, args.canvas), 0)
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(26 * args.canvas / 280))
    pts = stroke_path(args.strokes + 20, args.canvas)
    stages: dict[str, list[float]] = {k: [] for k in (
        "preprocess", "encode", "decode", "classify (10 labels)", "restyle (10 decodes)",
        "nearest 5 + project", "whole: preprocess + analyse + nearest")}
    cpu: dict[str, list[float]] = {k: [] for k in stages}  # this thread's CPU time
    conditional = cfg.is_conditional
    for i in range(1, len(pts)):
        draw.line([pts[i - 1], pts[i]], fill=255, width=width, joint="curve")
        r = width / 2
        draw.ellipse([pts[i][0] - r, pts[i][1] - r, pts[i][0] + r, pts[i][1] + r], fill=255)
        img = np.asarray(canvas)
        warm = i <= 20  # the first events include one-off start-up costs

        def timed(name, fn):
            t0, c0 = time.perf_counter(), time.thread_time()
            out = fn()
            if not warm:
                stages[name].append((time.perf_counter() - t0) * 1000)
                cpu[name].append((time.thread_time() - c0) * 1000)
            return out

        x = timed("preprocess", lambda: preprocess(img))
        label = None
        if conditional:
            label, _ = timed("classify (10 labels)",
                             lambda: classify(model, x, method=args.method, k=args.k))
            timed("restyle (10 decodes)", lambda: restyle(model, x, label))
        post = timed("encode", lambda: encode_image(model, x, label))
        with torch.no_grad():
            timed("decode", lambda: model.decode(post.mean.to(model.device), label))
        timed("nearest 5 + project", lambda: (nearest_codes(codes, post.mean[0], 5),
                                              lmap.project(post.mean)))

        def whole():
            a = analyse(model, preprocess(img), method=args.method, k=args.k)
            z = torch.from_numpy(a.mean)
            return a, nearest_codes(codes, z, 5), lmap.project(z)

        timed("whole: preprocess + analyse + nearest", whole)

    print("wall clock:")
    for name, ms in stages.items():
        print(f"  {name:40s} {percentiles(ms)}")
    # On a shared machine the wall clock includes waiting for a core; CPU time does not.
    print("CPU time of this thread:")
    for name, ms in cpu.items():
        print(f"  {name:40s} {percentiles(ms)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
