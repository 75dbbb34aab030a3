"""Mutation campaign on a real checkpoint: is a changed file ever accepted with changed content?

Trains the default VAE for one epoch on the bundled sample, saves it, then loads copies with
1, 4 or 32 random bytes changed anywhere in the file, and copies truncated at random points.
Each load is refused (CheckpointError), loaded identical (weights, history, metrics, configs
and labels bit for bit), loaded different (silently wrong: what checksums must prevent), or
crashed (any other exception: a bug). Seeded, so before/after figures compare like for like.

    python benchmarks/checkpoint_mutations.py [--mutations 2000] [--truncations 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from latent_explorer.training.record.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from latent_explorer.training.data.datasets import load_mnist_sample
from latent_explorer.training.engine.loop import TrainConfig, train


def fingerprint(ck: Checkpoint) -> tuple:
    """Everything a load returns, as bytes and plain values, for exact comparison."""
    h = ck.history
    return (
        tuple((k, v.dtype, tuple(v.shape), v.cpu().contiguous().view(-1).view(torch.uint8)
               .numpy().tobytes()) for k, v in sorted(ck.model.state_dict().items())),
        ck.model.config, ck.train_config, ck.metrics, ck.name, ck.dataset, ck.state,
        np.asarray(h.recon).tobytes(), np.asarray(h.kl).tobytes(), np.asarray(h.total).tobytes(),
        tuple((e.epoch, e.step, e.metrics) for e in h.epochs),
    )


def classify(path: Path, reference: tuple) -> str:
    """refused / identical / different / crashed:<type> for one file."""
    try:
        ck = load_checkpoint(path)
    except CheckpointError:
        return "refused"
    except Exception as e:  # noqa: BLE001 - any other type is what the campaign looks for
        return f"crashed:{type(e).__name__}"
    return "identical" if fingerprint(ck) == reference else "different"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mutations", type=int, default=2000, help="byte-mutated copies (default 2000)")
    p.add_argument("--truncations", type=int, default=200, help="truncated copies (default 200)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args()

    torch.manual_seed(0)
    cfg = TrainConfig(kind="vae", epochs=1, device="cpu", seed=0, dataset="mnist-sample")
    result = train(cfg, load_mnist_sample())
    rng = np.random.default_rng(args.seed)
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        src = save_checkpoint(Path(tmp) / "ref.safetensors",
                              Checkpoint(result.model, cfg, result.history, result.metrics,
                                         name="reference", dataset="mnist-sample"))
        raw = src.read_bytes()
        reference = fingerprint(load_checkpoint(src))
        target = Path(tmp) / "mutated.safetensors"
        t0 = time.perf_counter()
        for i in range(args.mutations):
            k = (1, 4, 32)[i % 3]
            data = bytearray(raw)
            for pos in rng.choice(len(raw), size=k, replace=False):
                data[pos] ^= int(rng.integers(1, 256))  # always a different byte
            target.write_bytes(bytes(data))
            counts[classify(target, reference)] += 1
        for _ in range(args.truncations):
            target.write_bytes(raw[: int(rng.integers(0, len(raw)))])
            counts[classify(target, reference)] += 1
        dt = time.perf_counter() - t0
    total = args.mutations + args.truncations
    crashed = {k: v for k, v in counts.items() if k.startswith("crashed")}
    print(f"file {len(raw):,} bytes; {total} cases in {dt:.1f} s")
    print(f"refused {counts['refused']} / loaded-identical {counts['identical']} / "
          f"loaded-different {counts['different']}"
          + (f" / crashed {sum(crashed.values())} {crashed}" if crashed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
