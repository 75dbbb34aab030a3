"""`restyle FILE IMAGE... --out grid.png`: your handwriting re-rendered as every class (CVAE)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "re-render image files as every class with a CVAE (one row per image)"
DESCRIPTION = (
    "Encode each image (PNG/JPEG of any size, or .npy) with a CVAE, using --label as its class "
    "or else the model's own guess, and decode the same z (the posterior mean: the style) with "
    "each of the class labels. Images are read as in `encode`: made MNIST-like for a 28×28 grey "
    "digit model (skip with --raw), fitted to the model's size and colour otherwise. "
    "--out grid.png writes one row per image and one column per class (in colour for a colour "
    "model); --out grid.npy writes the float32 array, shape (N images, classes, C, H, W) in "
    "[0, 1].")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The restyle command's arguments."""
    from latent_explorer.training.cli.main import _label

    parser.description = DESCRIPTION
    parser.add_argument("file", help="CVAE checkpoint (.safetensors)")
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="PNG/JPEG file, or .npy (H×W image or N×28×28 stack)")
    parser.add_argument("--out", required=True,
                        help="OUT.png (grid: a row per image, a column per class) or OUT.npy "
                             "(float32 N×classes×C×H×W)")
    parser.add_argument("--label", type=_label, default=None,
                        help="the images' class (default: the model's guess for each)")
    parser.add_argument("--raw", action="store_true",
                        help="take 28×28 inputs as they are (already MNIST-like), no preprocessing")


def run(args: argparse.Namespace) -> int:
    """Restyle the images and write the grid or the array; user errors raise CliError."""
    import numpy as np

    from latent_explorer.training.record.checkpoint import load_checkpoint
    from latent_explorer.training.cli.main import CliError
    from latent_explorer.training.explore.drawing import classify_batch, read_model_inputs, restyle_batch
    from latent_explorer.training.explore.render import make_grid, save_png

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npy"):
        raise CliError(f"--out must end in .png or .npy, got {out.name}")
    if out.is_dir():
        raise CliError(f"--out {out} is a folder; give a file name")
    if not out.parent.exists():
        raise CliError(f"--out {out}: folder {out.parent} does not exist")
    model = load_checkpoint(args.file).model
    if not model.config.is_conditional:
        raise CliError(f"restyle needs a CVAE; {args.file} is a {model.config.kind.upper()}")
    names, images = read_model_inputs(model.config.image_shape, args.images, raw=args.raw)
    if args.label is None:
        labels, _ = classify_batch(model, images)
        for name, g in zip(names, labels):
            print(f"{name}: restyled from {g} (the model's guess)")
    else:
        labels = np.full(len(images), args.label)
    rows = restyle_batch(model, images, labels)  # (N, classes, H, W[, 3]) to show
    n, c = rows.shape[:2]
    if out.suffix.lower() == ".npy":  # as models hold images: (N, classes, C, H, W)
        chw = rows[:, :, None] if rows.ndim == 4 else rows.transpose(0, 1, 4, 2, 3)
        np.save(out, np.ascontiguousarray(chw, dtype=np.float32))
    else:
        save_png(make_grid(rows.reshape(n * c, *rows.shape[2:]), ncols=c), out, scale=2)
    print(f"wrote {n}×{c} restyled images to {out}")
    return 0
