"""Which settings train the conv architecture fastest here: memory format, bf16, torch.compile.

Trains the conv VAE (and, for scale, the course MLP through the same autograd step) for a few
hundred steps of batch 64 on the bundled sample, each variant in turn, in rounds (the shared
VMs' speed swings from minute to minute, so variants are compared within a round), and prints
steps/s per variant and round. `compile` also prints its compile time (the first steps).

    python benchmarks/conv_settings.py [--steps 300] [--rounds 3] [--kind vae] [--no-compile]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from latent_explorer.models import ModelConfig, build_model
from latent_explorer.training.data.datasets import iterate_batches, load_mnist_sample
from latent_explorer.training.engine.device import flush_denormals
from latent_explorer.training.engine.loop import make_optimizer, make_step_fn


def _batches(ds, n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    out = []
    while len(out) < n:
        out.extend(b for b in iterate_batches(ds.train, 64, g) if len(b[0]) == 64)
    return out[:n]


def run_variant(ds, arch: str, kind: str, steps: int, *, channels_last: bool = False,
                bf16: bool = False, use_compile: bool = False) -> tuple[float, float]:
    """(steps/s after the first 20 steps, seconds of those first 20 steps)."""
    gen = torch.Generator().manual_seed(0)
    model = build_model(ModelConfig(kind=kind, arch=arch), gen)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, 1e-3)
    step = make_step_fn(model, opt, 0.005, gen, use_compile, bf16)
    batches = _batches(ds, steps + 20, 1)
    cond = model.config.is_conditional
    with flush_denormals():
        t0 = time.perf_counter()
        for i, (x, y) in enumerate(batches):
            if i == 20:
                t_warm = time.perf_counter()
            step(x, y if cond else None)
            opt.step()
        t1 = time.perf_counter()
    return steps / (t1 - t_warm), t_warm - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kind", default="vae")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    ds = load_mnist_sample()
    variants = [
        ("mlp fp32 (autograd)", dict(arch="mlp")),
        ("conv fp32", dict(arch="conv")),
        ("conv fp32 channels_last", dict(arch="conv", channels_last=True)),
        ("conv bf16 autocast", dict(arch="conv", bf16=True)),
        ("conv bf16 channels_last", dict(arch="conv", bf16=True, channels_last=True)),
    ]
    if not args.no_compile:
        variants.append(("conv fp32 torch.compile", dict(arch="conv", use_compile=True)))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu capability "
          f"{torch.backends.cpu.get_cpu_capability()}; {args.kind}, batch 64, {args.steps} steps")
    for r in range(args.rounds):
        for name, kw in variants:
            if r and kw.get("use_compile"):
                torch._dynamo.reset()
            rate, warm = run_variant(ds, kind=args.kind, steps=args.steps, **kw)
            print(f"round {r + 1}  {name:28s} {rate:7.1f} steps/s  (first 20 steps {warm:5.2f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
