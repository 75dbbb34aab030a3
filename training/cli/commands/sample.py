"""`sample`: decode draws from the N(0, T²·I) prior into a PNG grid or a .npy array."""

from __future__ import annotations

import argparse
from pathlib import Path

from latent_explorer.training.cli.main import CliError
from latent_explorer.training.cli.commands._args import notify
from latent_explorer.training.cli.commands._args import _label, _positive_float, _positive_int, _seed


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `sample`."""
    p.add_argument("file", help="checkpoint file (.safetensors)")
    p.add_argument("--n", type=_positive_int, default=64, help="number of samples")
    p.add_argument("--label", type=_label, default=None,
                   help="class to decode, 0 to the model's classes - 1 (CVAE only, and required "
                        "for it) (default: none)")
    p.add_argument("--temperature", type=_positive_float, default=1.0,
                   help="T: the prior's standard deviation")
    p.add_argument("--seed", type=_seed, default=0, help="seeds the prior draws")
    p.add_argument("--out", required=True, help="OUT.png (grid, in colour for colour models) or OUT.npy (float32 N×C×H×W)")


def run(args: argparse.Namespace) -> int:
    """Write the samples."""
    import torch

    from latent_explorer.training.explore.export import (SAMPLE_SUFFIXES, ExportError,
                                                         check_out_path, write_samples)
    from latent_explorer.training.explore.render import to_numpy_images
    from latent_explorer.training.record.checkpoint import load_checkpoint

    out = Path(args.out)
    try:
        check_out_path(out, SAMPLE_SUFFIXES)  # before the work: the same checks as the window's
    except ExportError as e:
        raise CliError(f"--out {e}") from None
    ckpt = load_checkpoint(args.file)
    for line in ckpt.notices:
        notify(line)
    model = ckpt.model
    kind, last = model.config.model_kind, model.config.n_classes - 1
    if kind.conditional and args.label is None:
        raise CliError(f"a {kind.label} needs --label 0-{last}")
    if not kind.conditional and args.label is not None:
        raise CliError(f"--label applies only to a conditional model; this is a {kind.label}")
    if args.label is not None and args.label > last:
        raise CliError(f"--label must be between 0 and {last} for this model, got {args.label}")
    g = torch.Generator().manual_seed(args.seed)
    images = to_numpy_images(model.sample(args.n, args.label, args.temperature, g))
    write_samples(out, images, scale=2)  # .npy: float32 N×C×H×W; .png: a grid, ×2
    print(f"wrote {args.n} samples to {out}")
    return 0
