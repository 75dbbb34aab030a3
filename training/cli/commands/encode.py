"""`encode FILE IMAGE... --out codes.npy`: the posterior codes of your own images."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write the posterior codes (μ, log σ) of image files, preprocessed like MNIST"
DESCRIPTION = (
    "Encode image files (PNG/JPEG of any size, dark-on-light or light-on-dark) or .npy arrays "
    "(an H×W image or an N×28×28 stack) with a checkpoint's encoder. For a 28×28 grey digit "
    "model each image is made MNIST-like first: grey, inverted if the background is light, its "
    "ink cropped, scaled to fit 20×20 and centred by centre of mass in 28×28 (skip that with "
    "--raw). For any other model an image is fitted to its size and colour (scaled to cover, "
    "centre-cropped), and a .npy holds one C×H×W image or an N×C×H×W stack of its shape. "
    "--out codes.npy writes float32 N×2×nz: [:, 0] is μ and [:, 1] is log σ (an AE, which has "
    "no σ: N×1×nz). --out codes.npz writes named arrays instead: mean (N×nz), log_sigma "
    "(N×nz, VAE/CVAE), label (N, CVAE: the label each image was encoded with), image "
    "(the preprocessed inputs) and source (the file of each row). A CVAE encodes "
    "with --label, or else with its own guess (the label with the highest ELBO).")
OUT_SUFFIXES = (".npy", ".npz")
# What --classify's scores are, by --score (training.explore.drawing.classify_batch's methods).
SCORES = ("mean", "elbo", "iwae")
SCORE_NAMES = {"mean": "log p(x|μ,y) − KL", "elbo": "ELBO", "iwae": "IW bound"}
SCORE_SAMPLES = 16


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The encode command's arguments."""
    from latent_explorer.training.cli.main import _label

    parser.description = DESCRIPTION
    parser.add_argument("file", help="checkpoint (.safetensors)")
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="PNG/JPEG file, or .npy (H×W image or N×28×28 stack)")
    parser.add_argument("--out", default=None,
                        help="codes.npy (float32 N×2×nz: μ then log σ) or codes.npz (named arrays) "
                             "(default: none; then --classify is required and only the guesses are printed)")
    parser.add_argument("--label", type=_label, default=None,
                        help="CVAE: encode every image with this class (default: the model's guess)")
    parser.add_argument("--classify", action="store_true",
                        help="CVAE: print the guessed label of each image and its score in nats")
    parser.add_argument("--score", choices=SCORES, default="mean",
                        help="CVAE: how --classify scores each label: mean = log p(x|μ,y) − KL at "
                             "the posterior mean (deterministic, fastest; a few nats above the "
                             "ELBO), elbo = the ELBO from 16 samples, iwae = the 16-sample "
                             "importance-weighted bound (elbo and iwae print their Monte-Carlo "
                             "standard error)")
    parser.add_argument("--raw", action="store_true",
                        help="take 28×28 inputs as they are (already MNIST-like), no preprocessing")


def run(args: argparse.Namespace) -> int:
    """Encode the images and write or print what was asked; user errors raise CliError."""
    import numpy as np

    from latent_explorer.training.record.checkpoint import load_checkpoint
    from latent_explorer.training.cli.main import CliError
    from latent_explorer.training.explore.drawing import (classify_batch, classify_with_errors, encode_image,
                                  read_model_inputs)

    out = Path(args.out) if args.out else None
    if out is None and not args.classify:
        raise CliError("nothing to do: give --out codes.npy (or .npz) and/or --classify")
    if out is not None:
        if out.suffix.lower() not in OUT_SUFFIXES:
            raise CliError(f"--out must end in .npy or .npz, got {out.name}")
        if out.is_dir():
            raise CliError(f"--out {out} is a folder; give a file name")
        if not out.parent.exists():
            raise CliError(f"--out {out}: folder {out.parent} does not exist")
    model = load_checkpoint(args.file).model
    kind = model.config.kind.upper()
    if not model.config.is_conditional:
        if args.label is not None:
            raise CliError(f"--label applies only to a CVAE; {args.file} is a {kind}")
        if args.classify:
            raise CliError(f"--classify needs a CVAE; {args.file} is a {kind}")
    names, images = read_model_inputs(model.config.image_shape, args.images, raw=args.raw)

    labels = None
    if model.config.is_conditional:
        guesses, scores = classify_batch(model, images)
        labels = guesses if args.label is None else np.full(len(images), args.label)
        if args.classify:
            what = SCORE_NAMES[args.score]
            errors = None
            if args.score != "mean":
                guesses, scores, errors = classify_with_errors(model, images, args.score,
                                                               SCORE_SAMPLES)
            for i, (name, g, s) in enumerate(zip(names, guesses, scores)):
                runner_up = int(np.argsort(s)[-2])
                err = "" if errors is None else f" ± {errors[i, g]:.2f}"
                print(f"{name}: {g}  ({what} {s[g]:.1f}{err} nats; next {runner_up}: "
                      f"{s[runner_up]:.1f})")
    if out is None:
        return 0
    post = encode_image(model, images, labels)
    mean = post.mean.numpy().astype(np.float32)
    if out.suffix.lower() == ".npy":
        parts = [mean] if post.log_sigma is None else [mean, post.log_sigma.numpy()]
        codes = np.stack(parts, axis=1).astype(np.float32)
        np.save(out, codes)
        layout = "μ" if post.log_sigma is None else "μ, log σ"
        print(f"wrote {len(names)} codes to {out} (float32 {'×'.join(map(str, codes.shape))}: {layout})")
    else:
        arrays = {"mean": mean, "image": images.astype(np.float32), "source": np.array(names)}
        if post.log_sigma is not None:
            arrays["log_sigma"] = post.log_sigma.numpy().astype(np.float32)
        if labels is not None:
            arrays["label"] = np.asarray(labels, dtype=np.int64)
        # numpy's stub types allow_pickle beside **kwds, so no dict of arrays passes mypy.
        np.savez(out, **arrays)  # type: ignore[arg-type]
        print(f"wrote {len(names)} codes to {out} ({', '.join(arrays)})")
    return 0
