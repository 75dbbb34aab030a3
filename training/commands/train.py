"""`train`: train a model headless and save a checkpoint."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from models.registry import get_kind, kind_names, list_kinds
from training.cli import CliError
from training.commands._args import (
    _hidden,
    _nonneg_float,
    _positive_float,
    _positive_int,
    _seed,
    add_data_arguments,
    load_data,
)
from training.sources import default_epochs, get_source


def _epochs_help() -> str:
    examples = ", ".join(
        f"{default_epochs(s.n_train, 64)} on {s.name}"
        for s in (get_source("mnist-sample"), get_source("mnist")))
    return ("epochs to train (default: follow the dataset: enough for about 4,500 steps and at "
            f"least 20 epochs on large sets, e.g. {examples} at batch size 64)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `train`; the defaults are TrainConfig's (a test checks)."""
    p.add_argument("--model", required=True, choices=kind_names(),
                   help="; ".join(f"{k.name}: {k.description}" for k in list_kinds()))
    p.add_argument("--beta", type=_nonneg_float, default=0.005, help="KL weight (VAE/CVAE)")
    p.add_argument("--nz", type=_positive_int, default=32, help="latent dimensions")
    p.add_argument("--hidden", type=_hidden, default=(256, 64),
                   help="encoder hidden sizes, comma-separated (the decoder mirrors them) "
                        "(default: 256,64)")
    p.add_argument("--epochs", type=_positive_int, default=None, help=_epochs_help())
    p.add_argument("--batch-size", type=_positive_int, default=64, help="images per step")
    p.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam's learning rate")
    p.add_argument("--seed", type=_seed, default=0,
                   help="seeds the weights, the batch order and the noise")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--compile", action="store_true",
                   help="train through autograd with a torch.compile'd loss "
                        "(slow start; usually slower than the default hand-written step)")
    p.add_argument("--out", required=True, help="checkpoint file to write (.safetensors)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_arguments(p, "auto", "auto")


class _Progress:
    """A tqdm bar fed by the loop's throttled step events (a TrainingObserver)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None

    def on_train_start(self, trainer) -> None: ...

    def on_steps(self, ev) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=ev.total_steps, unit="step", dynamic_ncols=True, file=sys.stderr)
        self.bar.update(ev.last_step + 1 - self.bar.n)
        self.bar.set_description(f"epoch {ev.epoch}")
        self.bar.set_postfix_str(f"recon {ev.recon[-1]:.4f} kl {ev.kl[-1]:.2f} "
                                 f"total {ev.total[-1]:.4f}", refresh=False)

    def on_epoch_end(self, ev) -> None:
        line = f"epoch {ev.epoch}: test {ev.metrics.summary()} ({ev.seconds:.1f} s)"
        if self.bar is not None:
            self.bar.write(line)
        elif not self.quiet:
            print(line, file=sys.stderr)

    def on_train_end(self, result) -> None:
        if self.bar is not None:
            self.bar.close()


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def run(args: argparse.Namespace) -> int:
    """Train, print the test metrics and save the checkpoint."""
    from training.checkpoint import Checkpoint, save_checkpoint
    from training.data import batches_per_epoch
    from training.loop import TrainConfig, Trainer

    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"--out {out} is a folder; give a file name")
    if not out.parent.exists():
        raise CliError(f"--out {out}: folder {out.parent} does not exist")
    try:
        # Checked before any data is loaded (a download can take a while); the epochs that
        # follow the dataset are filled in once it is loaded.
        cfg = TrainConfig(kind=args.model, beta=args.beta, nz=args.nz, hidden=args.hidden,
                          epochs=args.epochs or TrainConfig.epochs,
                          batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          device=args.device, dataset=args.dataset or "auto",
                          data_dir=args.data_dir, compile=args.compile)
        ds = load_data(args)
        if args.epochs is None:
            cfg = dataclasses.replace(cfg, epochs=default_epochs(len(ds.train), cfg.batch_size))
        trainer = Trainer(cfg, ds, [_Progress(args.quiet)])
    except ValueError as e:
        raise CliError(str(e)) from None
    steps = cfg.epochs * batches_per_epoch(len(ds.train), cfg.batch_size)
    print(f"training {get_kind(cfg.kind).label} for {_count(cfg.epochs, 'epoch')} "
          f"({_count(steps, 'step')}) on {ds.description} ({trainer.device})", file=sys.stderr)
    result = trainer.run()
    if result.state == "failed":
        raise CliError(f"training failed: {result.error}")
    if result.state == "finished":
        print(f"test: {result.metrics.summary()}")
    save_checkpoint(out, Checkpoint(result.model, cfg, result.history, result.metrics,
                                    name=out.stem, dataset=ds.name, state=result.state))
    print(f"saved {out} ({result.seconds:.1f} s)")
    return 0
