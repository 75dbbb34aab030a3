"""`eval`: print the test metrics of a checkpoint, by default on the data it was trained on."""

from __future__ import annotations

import argparse
from pathlib import Path

from latent_explorer.training.cli.main import CliError
from latent_explorer.training.cli.commands._args import add_data_arguments, load_data, notify


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `eval`."""
    p.add_argument("file", help="checkpoint file (.safetensors)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--iw", type=int, default=0, metavar="K",
                   help="also print the importance-weighted bound on -log p(x) with K samples "
                        "per image (VAE/CVAE; 0 skips it)")
    p.add_argument("--binarize", action="store_true",
                   help="compute the bound on dynamically binarised test images (x ~ "
                        "Bernoulli(grey), fixed seed), comparable with binarised-MNIST NLLs; "
                        "with --iw 0 it is the k = 1 bound (the -ELBO)")
    p.add_argument("--quality", action="store_true",
                   help="also print the judge's sample quality of 1,000 prior samples (trains "
                        "the judge of the dataset once, then loads it from the cache)")
    add_data_arguments(p, None, "the dataset the checkpoint was trained on")


def _training_data(ckpt, file: str):
    """The dataset `ckpt` was trained on (training.data.sources.dataset_candidates' rule)."""
    from latent_explorer.training.data.datasets import DataError
    from latent_explorer.training.data.sources import dataset_candidates, load_dataset

    cfg = ckpt.train_config
    if cfg.data_dir and not Path(cfg.data_dir).expanduser().is_dir():
        # Falling back to a named source would report metrics of other data.
        raise CliError(f"{file}: trained on the folder {cfg.data_dir}, which no longer exists; "
                       "give --data-dir or --dataset")
    first: DataError | None = None
    for source, data_dir in dataset_candidates(cfg, ckpt.dataset):
        try:
            ds = load_dataset(source, data_dir, notify=notify, **cfg.load_options)
        except DataError as e:
            first = first or e
            continue
        if first is not None:
            notify(f"{first}; using {ds.name} instead")
        return ds
    if first is not None:
        raise first
    raise CliError(f"{file}: trained on {ckpt.dataset or 'an unknown dataset'}, which is not a "
                   "known source; give --dataset or --data-dir")


def run(args: argparse.Namespace) -> int:
    """Evaluate and print."""
    from latent_explorer.training.record.checkpoint import load_checkpoint
    from latent_explorer.training.engine.device import pick_device
    from latent_explorer.training.metrics.evaluate import evaluate, require_finite

    try:
        device = pick_device(args.device)
    except ValueError as e:
        raise CliError(str(e)) from None
    ckpt = load_checkpoint(args.file, device)
    for line in ckpt.notices:
        notify(line)
    if args.dataset is None and args.data_dir is None:
        ds = _training_data(ckpt, args.file)
    else:
        ds = load_data(args)
    mc = ckpt.model.config
    if mc.is_conditional and ds.n_classes != mc.n_classes:
        raise CliError(f"{args.file}: a {mc.model_kind.label} of {mc.n_classes} classes cannot be "
                       f"evaluated on {ds.name} ({ds.n_classes} classes)")
    if args.iw < 0:
        raise CliError(f"--iw must be 0 or more, got {args.iw}")
    extra = args.iw > 0 or args.binarize or args.quality
    if extra and not mc.is_variational:
        what = "--iw/--binarize" if args.iw > 0 or args.binarize else "--quality"
        raise CliError(f"{args.file}: {what} needs a VAE or CVAE; an {mc.model_kind.label} has "
                       "no prior or likelihood bound")
    m = require_finite(evaluate(ckpt.model, ds.test), args.file)  # never inf with exit 0
    print(f"{ckpt.name} ({mc.model_kind.label}) on {ds.description}")
    print(f"test: {m.summary()}")
    if args.iw > 0 or args.binarize:
        from latent_explorer.training.metrics.evaluate import iw_bound_estimate
        from latent_explorer.training.metrics.sweep_report import NATS_NOTE

        k = max(args.iw, 1)
        bound = iw_bound_estimate(ckpt.model, ds.test, k, binarize=args.binarize)
        if args.binarize:
            print(f"IW bound (k={k}) on dynamically binarised test images: {bound} nats "
                  "per image (binarised: comparable with binarised-MNIST NLLs)")
        else:
            print(f"IW bound (k={k}): {bound} nats per image")
            print(f"nats: {NATS_NOTE}")
        print(f"±: Monte-Carlo standard errors (of the {len(ds.test):,} test images' sampled "
              "terms); BCE/pixel and KL are exact")
    if args.quality:
        from latent_explorer.training.metrics.judge import get_judge, sample_quality

        judge = get_judge(ds, notify=notify)
        notify(judge.summary())
        score = sample_quality(ckpt.model, judge)
        print(f"sample quality: {score.quality:.1%} ± {score.quality_se:.1%} of {score.n:,} prior "
              f"samples read as a real example ({score.summary()}; judge test accuracy "
              f"{judge.test_accuracy:.1%})")
    return 0
