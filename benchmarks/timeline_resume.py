"""What the timeline and the resume state cost: training speed, checkpoint size, save/load time.

Trains the same run (default: a VAE, 60 epochs on the bundled sample, ~4,300 steps) without and
with a TimelineRecorder, alternating, and prints steps/s for both, the time spent recording,
then the checkpoint's size and save/load times without and with the new parts.

    python benchmarks/timeline_resume.py [--epochs 60] [--kind vae] [--repeats 1] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from latent_explorer.training.record.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from latent_explorer.training.data.datasets import load_mnist_sample
from latent_explorer.training.engine.loop import TrainConfig, Trainer
from latent_explorer.training.engine.resume import resume_to_tensors
from latent_explorer.training.record.timeline import TimelineRecorder, timeline_to_tensors


def _bytes(tensors: dict) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())


def _time(fn, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--kind", default="vae", choices=("ae", "vae", "cvae"))
    ap.add_argument("--repeats", type=int, default=1, help="pairs of runs (without, with)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--save", default=None, help="also write the run with timeline and state here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_mnist_sample()
    cfg = TrainConfig(kind=args.kind, epochs=args.epochs, device="cpu", dataset="mnist-sample")
    print(f"{cfg.kind.upper()} {cfg.hidden} nz={cfg.nz}, {args.epochs} epochs on {ds.description}, "
          f"{torch.get_num_threads()} torch threads")

    rates: dict[str, list[float]] = {"without": [], "with": []}
    last = None
    for _ in range(args.repeats):
        for which in ("without", "with"):
            rec = TimelineRecorder() if which == "with" else None
            trainer = Trainer(cfg, ds, timeline=rec)
            result = trainer.run()
            steps = len(result.history)
            rates[which].append(steps / result.seconds)
            if rec is not None:
                n = len(rec.timeline)
                print(f"  with timeline: {steps} steps in {result.seconds:.1f} s "
                      f"({steps / result.seconds:.0f} steps/s); {n} snapshots took "
                      f"{rec.seconds:.2f} s ({rec.seconds / n * 1e3:.1f} ms each, "
                      f"{100 * rec.seconds / result.seconds:.1f} % of the run)")
                last = (trainer, result)
            else:
                print(f"  without:       {steps} steps in {result.seconds:.1f} s "
                      f"({steps / result.seconds:.0f} steps/s)")
    w, wo = statistics.median(rates["with"]), statistics.median(rates["without"])
    print(f"steps/s (median): without {wo:.0f}, with timeline {w:.0f} "
          f"({100 * (w / wo - 1):+.1f} %)")
    # What every step pays when no snapshot is due: one compare of two ints (loop.py).
    check = timeit.timeit("step >= next_snapshot", globals={"step": 1234, "next_snapshot": 2048},
                          number=1_000_000) * 1e3
    print(f"per-step check when no snapshot is due: {check:.0f} ns "
          f"({100 * check * 1e-9 * wo:.4f} % of a step at {wo:.0f} steps/s)")

    trainer, result = last
    tl = trainer.timeline_recorder.timeline
    state = trainer.resume_state()
    tl_t, _ = timeline_to_tensors(tl)
    rs_t, _ = resume_to_tensors(state)
    print(f"timeline tensors {_bytes(tl_t) / 1e6:.2f} MB ({len(tl)} snapshots), resume state "
          f"{_bytes(rs_t) / 1e6:.2f} MB (Adam moments {state.optimizer.numel:,} x 2 float32)")
    if args.save:
        from latent_explorer.training.record.checkpoint import checkpoint_of

        save_checkpoint(args.save, checkpoint_of(trainer, result, Path(args.save).stem))
    with tempfile.TemporaryDirectory() as d:
        variants = {
            "weights + history (before)": Checkpoint(result.model, cfg, result.history,
                                                      result.metrics, dataset=ds.name),
            "+ resume state": Checkpoint(result.model, cfg, result.history, result.metrics,
                                         dataset=ds.name, resume=state),
            "+ timeline": Checkpoint(result.model, cfg, result.history, result.metrics,
                                     dataset=ds.name, timeline=tl),
            "+ both (after)": Checkpoint(result.model, cfg, result.history, result.metrics,
                                         dataset=ds.name, resume=state, timeline=tl),
        }
        print(f"{'checkpoint':28} {'size':>9} {'save':>9} {'load':>9}")
        for name, ck in variants.items():
            path = Path(d) / "run.safetensors"
            save_s = _time(lambda: save_checkpoint(path, ck))
            load_s = _time(lambda: load_checkpoint(path))
            print(f"{name:28} {path.stat().st_size / 1e6:7.2f} MB {save_s * 1e3:6.1f} ms "
                  f"{load_s * 1e3:6.1f} ms")


if __name__ == "__main__":
    main()
