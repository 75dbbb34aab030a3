"""Argument types and the data options the sub-commands share (torch-free)."""

from __future__ import annotations

import argparse
import math
import sys

from latent_explorer.training.data.sources import list_sources, source_names


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
    """A class number >= 0; its upper bound depends on the model (checked by the command)."""
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a class number like 3, got {s!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {v}")
    return v


def add_data_arguments(parser: argparse.ArgumentParser, default: str | None,
                       default_help: str) -> None:
    """--dataset NAME | --data-dir DIR, with the choices and help from the source registry."""
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--dataset", default=default, choices=source_names(), metavar="NAME",
                   help="; ".join(s.label for s in list_sources()) + f" (default: {default_help})")
    g.add_argument("--data-dir", default=None, metavar="DIR",
                   help="a folder with the four MNIST-format idx files, or with one sub-folder "
                        "per class of PNG/JPEG images (default: none, use --dataset)")


def notify(message: str) -> None:
    """A data source's notice, as one line on stderr."""
    print(f"note: {message}", file=sys.stderr)


def load_data(args: argparse.Namespace):
    """The Dataset that --dataset / --data-dir name (DataError if it cannot be had)."""
    from latent_explorer.training.data.sources import load_dataset

    return load_dataset(args.dataset or "auto", args.data_dir, notify=notify)


__all__ = ["_hidden", "_label", "_nonneg_float", "_positive_float", "_positive_int", "_seed",
           "add_data_arguments", "load_data", "notify"]
