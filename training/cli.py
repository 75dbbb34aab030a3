"""Headless command line: train, eval, sample. Bad input: one line on stderr, non-zero exit."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

KINDS = ("ae", "vae", "cvae")


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise CliError(message)


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _nonneg_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {s}")
    return v


def _positive_float(s: str) -> float:
    v = _nonneg_float(s)
    if v == 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return v


def _seed(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
    if not 0 <= v < 2**63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2^63-1, got {v}")
    return v


def _hidden(s: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in s.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 256,64, got {s!r}") from None
    if not sizes or any(h < 1 for h in sizes):
        raise argparse.ArgumentTypeError(f"expected positive sizes like 256,64, got {s!r}")
    return sizes


def _label(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a digit 0-9, got {s!r}") from None
    if not 0 <= v <= 9:
        raise argparse.ArgumentTypeError(f"must be between 0 and 9, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="latent-explorer", description="Train and explore auto-encoders. "
                "Run without arguments to open the app.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def data_args(sp):
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--dataset", default=None,
                       help="auto (default), mnist-sample, mnist or fashion-mnist")
        g.add_argument("--data-dir", default=None, help="folder with the four MNIST-format idx files")

    t = sub.add_parser("train", help="train a model headless and save a checkpoint")
    t.add_argument("--model", required=True, choices=KINDS)
    t.add_argument("--beta", type=_nonneg_float, default=0.005, help="KL weight (VAE/CVAE)")
    t.add_argument("--nz", type=_positive_int, default=32, help="latent dimensions")
    t.add_argument("--hidden", type=_hidden, default=(256, 64),
                   help="encoder hidden sizes, comma-separated (the decoder mirrors them)")
    t.add_argument("--epochs", type=_positive_int, default=10)
    t.add_argument("--batch-size", type=_positive_int, default=64)
    t.add_argument("--lr", type=_positive_float, default=1e-3)
    t.add_argument("--seed", type=_seed, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    t.add_argument("--compile", action="store_true",
                   help="train through autograd with a torch.compile'd loss "
                        "(slow start; usually slower than the default hand-written step)")
    t.add_argument("--out", required=True, help="checkpoint file to write (.safetensors)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    data_args(t)

    e = sub.add_parser("eval", help="print the test metrics of a checkpoint")
    e.add_argument("file")
    e.add_argument("--device", default="auto")
    data_args(e)

    s = sub.add_parser("sample", help="write prior samples as a PNG grid or a .npy array")
    s.add_argument("file")
    s.add_argument("--n", type=_positive_int, default=64)
    s.add_argument("--label", type=_label, default=None, help="class 0-9 (CVAE only, required)")
    s.add_argument("--temperature", type=_positive_float, default=1.0)
    s.add_argument("--seed", type=_seed, default=0)
    s.add_argument("--out", required=True, help="OUT.png (grid) or OUT.npy (float32 N×28×28)")
    return p


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


def _dataset(args):
    from training.data import load_dataset

    return load_dataset(args.dataset or "auto", args.data_dir,
                        notify=lambda m: print(f"note: {m}", file=sys.stderr))


def cmd_train(args) -> int:
    from training.checkpoint import Checkpoint, save_checkpoint
    from training.loop import TrainConfig, Trainer

    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"--out {out} is a folder; give a file name")
    if not out.parent.exists():
        raise CliError(f"--out {out}: folder {out.parent} does not exist")
    try:
        cfg = TrainConfig(kind=args.model, beta=args.beta, nz=args.nz, hidden=args.hidden,
                          epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          device=args.device, dataset=args.dataset or "auto",
                          data_dir=args.data_dir, compile=args.compile)
        trainer = Trainer(cfg, _dataset(args), [_Progress(args.quiet)])
    except ValueError as e:
        raise CliError(str(e)) from None
    print(f"training {cfg.kind.upper()} on {trainer.dataset.description} ({trainer.device})",
          file=sys.stderr)
    result = trainer.run()
    if result.state == "failed":
        raise CliError(f"training failed: {result.error}")
    if result.state == "finished":
        print(f"test: {result.metrics.summary()}")
    save_checkpoint(out, Checkpoint(result.model, cfg, result.history, result.metrics,
                                    name=out.stem, dataset=trainer.dataset.name,
                                    state=result.state))
    print(f"saved {out} ({result.seconds:.1f} s)")
    return 0


def cmd_eval(args) -> int:
    from training.checkpoint import load_checkpoint
    from training.device import pick_device
    from training.evaluate import evaluate

    try:
        device = pick_device(args.device)
    except ValueError as e:
        raise CliError(str(e)) from None
    ckpt = load_checkpoint(args.file, device)
    if args.dataset is None and args.data_dir is None:
        args.dataset = ckpt.train_config.dataset if ckpt.train_config.data_dir is None else None
        args.data_dir = ckpt.train_config.data_dir
    ds = _dataset(args)
    m = evaluate(ckpt.model, ds.test)
    print(f"{ckpt.name} ({ckpt.model.config.kind.upper()}) on {ds.description}")
    print(f"test: {m.summary()}")
    return 0


def cmd_sample(args) -> int:
    import numpy as np
    import torch

    from training.checkpoint import load_checkpoint
    from training.render import make_grid, save_png, to_numpy_images

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npy"):
        raise CliError(f"--out must end in .png or .npy, got {out.name}")
    ckpt = load_checkpoint(args.file)
    model = ckpt.model
    if model.config.is_conditional and args.label is None:
        raise CliError("a CVAE needs --label 0-9")
    if not model.config.is_conditional and args.label is not None:
        raise CliError(f"--label applies only to a CVAE; this is a {model.config.kind.upper()}")
    g = torch.Generator().manual_seed(args.seed)
    images = to_numpy_images(model.sample(args.n, args.label, args.temperature, g))
    if out.suffix.lower() == ".npy":
        np.save(out, images.astype(np.float32))
    else:
        save_png(make_grid(images), out, scale=2)
    print(f"wrote {args.n} samples to {out}")
    return 0


def run_cli(argv: list[str]) -> int:
    """Parse and run; every user error becomes one line on stderr and exit status 2."""
    from training.checkpoint import CheckpointError
    from training.data import DataError

    try:
        args = build_parser().parse_args(argv)
        return {"train": cmd_train, "eval": cmd_eval, "sample": cmd_sample}[args.command](args)
    except (CliError, CheckpointError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1
