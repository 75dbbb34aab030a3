"""Argument types and the data options the sub-commands share (torch-free)."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

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


def _widths(s: str) -> tuple[int, ...]:
    """Channels per conv stage, comma-separated positive whole numbers."""
    try:
        v = tuple(int(x) for x in s.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected channels like 32,64,128, got {s!r}") from None
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError(f"expected positive channels like 32,64,128, got {s!r}")
    return v


def add_image_arguments(p: argparse.ArgumentParser, mark=lambda v: v) -> None:
    """--likelihood, --conv-widths, --image-size, --channels: how images are modelled and read."""
    from latent_explorer.models.likelihoods import likelihood_names, list_likelihoods

    p.add_argument("--likelihood", default=None, choices=likelihood_names(),
                   help="p(x|z), the decoder's distribution; "
                        + "; ".join(f"{q.name}: {q.description}" for q in list_likelihoods())
                        + " (default: the dataset's own: bernoulli for digits and sprites, "
                          "logistic for colour photographs)")
    p.add_argument("--conv-widths", type=_widths, default=mark(()), metavar="C1,C2,...",
                   help="with --arch conv: channels after each stride-2 stage, one per stage "
                        "(default: 32, 64, ... as the image size needs)")
    p.add_argument("--image-size", type=_positive_int, default=None, metavar="N",
                   help="with --data-dir of images: resize the shorter side to N and centre-crop "
                        "to N x N (default: the images' own size)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=None,
                   help="with --data-dir of images: 1 converts to grey, 3 to RGB (default: as "
                        "the files are)")


def image_config(args: argparse.Namespace) -> dict:
    """TrainConfig's image and likelihood fields from the options of add_image_arguments."""
    return {"likelihood": args.likelihood, "conv_widths": tuple(args.conv_widths or ()),
            "image_size": args.image_size, "image_channels": args.channels}


def notify(message: str) -> None:
    """A data source's notice, as one line on stderr."""
    print(f"note: {message}", file=sys.stderr)


def load_data(args: argparse.Namespace):
    """The Dataset that --dataset / --data-dir name (DataError if it cannot be had)."""
    from latent_explorer.training.data.sources import load_dataset

    return load_dataset(args.dataset or "auto", args.data_dir, notify=notify,
                        image_size=getattr(args, "image_size", None),
                        channels=getattr(args, "channels", None))


def _ratio(s: str) -> float:
    """A proportion in (0, 1]."""
    v = _positive_float(s)
    if v > 1:
        raise argparse.ArgumentTypeError(f"must be a proportion > 0 and <= 1, got {s}")
    return v


def add_schedule_arguments(p: argparse.ArgumentParser, mark=lambda v: v,
                           best: bool = True) -> None:
    """The schedule options (training/engine/schedules.py): the KL weight's warm-up or cycles,
    the learning rate's schedule and warm-up, and (`best`) the best epoch and early stopping.
    `mark(default)` marks the defaults (train's --resume tells typed options apart by it)."""
    from latent_explorer.training.engine.schedules import DEFAULT_KL_RATIO, KEEP_CHOICES, LR_SCHEDULES

    g = p.add_argument_group("schedules")
    g.add_argument("--kl-warmup", type=_nonneg_float, default=mark(0.0), metavar="EPOCHS",
                   help="KL warm-up: beta is multiplied by a factor that rises linearly from 0 "
                        "at the first step to 1 after EPOCHS epochs (fractions allowed) "
                        "(default: 0, none)")
    g.add_argument("--kl-cycles", type=_positive_int, default=mark(0), metavar="M",
                   help="cyclical KL annealing (Fu et al. 2019): the run's steps are split into "
                        "M cycles, and within each the factor on beta rises linearly from 0 over "
                        "the first --kl-ratio of the cycle, then stays 1; not with --kl-warmup "
                        "or --target-rate (default: none)")
    g.add_argument("--kl-ratio", type=_ratio, default=mark(DEFAULT_KL_RATIO), metavar="R",
                   help="with --kl-cycles: the proportion of each cycle over which the factor "
                        "rises (default: %(default)s)")
    g.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=mark(LR_SCHEDULES[0]),
                   help="constant: --lr throughout (the course's); cosine: from --lr down to "
                        "--lr-min over the run's epochs, after any --lr-warmup (a run continued "
                        "past them stays at --lr-min) (default: %(default)s)")
    g.add_argument("--lr-min", type=_nonneg_float, default=mark(0.0), metavar="LR",
                   help="with --lr-schedule cosine: the learning rate the run ends at "
                        "(default: 0)")
    g.add_argument("--lr-warmup", type=_nonneg_float, default=mark(0.0), metavar="EPOCHS",
                   help="learning-rate warm-up: the rate rises linearly to --lr over the first "
                        "EPOCHS epochs, with either schedule (default: 0, none)")
    if not best:
        return
    g.add_argument("--keep", choices=KEEP_CHOICES, default=mark(KEEP_CHOICES[0]),
                   help="the weights the run keeps and saves: last, the last epoch's; best, "
                        "the epoch's with the lowest test -ELBO (an AE's: test BCE), with that "
                        "epoch's test metrics; the last epoch's weights are saved too, so "
                        "--resume continues from them exactly (default: %(default)s)")
    g.add_argument("--early-stop", type=_positive_int, default=mark(0), metavar="PATIENCE",
                   help="end the run as finished once PATIENCE epochs pass without a lower "
                        "test -ELBO, saying so (default: none, train every epoch)")


def schedule_option_problems(args: argparse.Namespace, typed) -> list[str]:
    """Options that only apply with another one (`typed(name)`: whether the user gave it)."""
    p = []
    if typed("kl_ratio") and not getattr(args, "kl_cycles", 0):
        p.append("--kl-ratio applies with --kl-cycles")
    if typed("lr_min") and getattr(args, "lr_schedule", "constant") != "cosine":
        p.append("--lr-min applies with --lr-schedule cosine")
    return p


__all__ = ["_hidden", "_label", "_nonneg_float", "_positive_float", "_positive_int", "_ratio",
           "_seed", "add_data_arguments", "add_schedule_arguments", "load_data", "notify",
           "schedule_option_problems"]


def add_workspace_argument(parser: argparse.ArgumentParser) -> None:
    """--workspace DIR, on every command."""
    parser.add_argument("--workspace", metavar="DIR", default=None,
                        help="the folder of runs: every run is written there from its first "
                             "step, and a run's folder or name can stand for its checkpoint "
                             "(default: $LATENT_EXPLORER_WORKSPACE, else runs/ in the user's "
                             "data folder)")


def workspace_of(args: argparse.Namespace):
    """The Workspace of --workspace (made if missing); a CliError when it cannot be used."""
    from latent_explorer.training.cli.main import CliError
    from latent_explorer.training.record.workspace import WorkspaceError, open_workspace

    try:
        ws = open_workspace(getattr(args, "workspace", None))
    except WorkspaceError as e:
        raise CliError(str(e)) from None
    if not os.access(ws.root, os.W_OK | os.X_OK):
        raise CliError(f"workspace {ws.root} is not writable")
    return ws


def run_folder_arg(value: str, ws) -> "Path | None":
    """The run folder `value` names (a folder with run.json, or a run folder's name in the
    workspace), else None (a checkpoint file)."""
    p = Path(value)
    if p.is_file():
        return None
    return ws.find(value)
