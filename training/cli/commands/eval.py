"""`eval`: print the test metrics of a checkpoint, by default on the data it was trained on.

`--factors` adds what the latent dimensions encode: the MI matrix against the dataset's known
generative factors (sprites), or against the label as the one factor for any labelled dataset,
with MIG and DCI as training/metrics/disentanglement.py computes them (its docstring states the
conventions; CONVENTION below is the one-line version printed with the scores).
"""

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
    p.add_argument("--factors", action="store_true",
                   help="also print what the latent dimensions encode: the mutual information "
                        "(nats) of each dimension with each known generative factor (sprites), "
                        "or with the label as the one factor for other labelled datasets, from "
                        "the posterior means of up to 10,000 test images; then MIG per factor "
                        "and overall, and DCI disentanglement, completeness and "
                        "informativeness")
    p.add_argument("--all", action="store_true",
                   help=f"with --factors: list every latent dimension, not only those with MI "
                        f">= {MIN_MI} nats with some factor")
    add_data_arguments(p, None, "the dataset the checkpoint was trained on")


MIN_MI = 0.05  # nats: a dimension below this with every factor is left out of the table
# One line with the scores: what was computed, so a reader can compare it with a published table.
CONVENTION = ("convention: MIG as disentanglement_lib's (posterior means, 20-bin histograms per "
              "dimension, sklearn's mutual_info_score in nats, gap between the two most "
              "informative dimensions divided by the factor's entropy); DCI from ExtraTrees "
              "importances (10 trees, depth <= 8, every dimension at each split; "
              "informativeness = held-out accuracy): compare DCI only with runs scored the "
              "same way, not with disentanglement_lib's gradient-boosted tables")


def factors_of(ds, split=None):
    """(values (N, F), names) of `split` (default: the test split): the dataset's generative
    factors where it has them, else its label as the one factor "label" (a CliError when the
    labels take one value only, so there is nothing to measure against)."""
    import numpy as np

    split = ds.test if split is None else split
    if split.factors is not None and ds.factor_names:
        return split.factors.cpu().numpy().astype(np.float64), tuple(ds.factor_names)
    labels = split.labels.cpu().numpy()
    if len(np.unique(labels)) < 2:
        raise CliError(f"{ds.name} has no known factors and its test labels take "
                       f"{'no' if len(labels) == 0 else 'one'} value: nothing to measure "
                       "the latent dimensions against")
    return labels.astype(np.float64)[:, None], ("label",)


def factor_scores(model, ds, max_points: int | None = None, seed: int = 0):
    """Codes, factors and scores of up to `max_points` (default 10,000) test images:
    (n, names, MIGResult, DCIResult, seconds to score)."""
    import time

    from latent_explorer.training.metrics import disentanglement as dis

    values, names = factors_of(ds)
    index = dis.sample_index(len(values), max_points or dis.MAX_POINTS, seed)
    if len(index) < 6:
        raise CliError(f"{ds.name} has {len(index)} test images: too few to score (6 or more)")
    test = ds.test
    labels = test.labels[index] if model.config.is_conditional else None
    codes = dis.codes_of(model, test.images[index], labels)
    factors = values[index]
    t0 = time.perf_counter()
    mi = dis.mutual_info_matrix(codes, factors)
    m = dis.mig(codes, factors, mi=mi)
    d = dis.dci(codes, factors, seed=seed)
    return len(index), names, m, d, time.perf_counter() - t0


def factor_report(n: int, names, m, d, show_all: bool = False) -> list[str]:
    """The lines `eval --factors` prints: the MI table (dims by their largest MI; those under
    MIN_MI left out unless show_all), each dim's label, MIG per factor and overall, DCI and the
    convention."""
    import numpy as np

    from latent_explorer.training.metrics import disentanglement as dis

    mi = m.mi
    labels = dis.describe_dimensions(mi, names, m.entropy, MIN_MI)
    order = dis.sorted_dimensions(mi, "mi")
    shown = [int(j) for j in order if show_all or mi[j].max() >= MIN_MI]
    widths = [max(len(str(name)), 5) for name in names]
    lines = [f"mutual information (nats) of {len(mi)} latent dims with "
             f"{len(names)} factor{'s' if len(names) > 1 else ''}, from the posterior means of "
             f"{n:,} test images"
             + ("" if show_all else f" ({len(shown)} of {len(mi)} dims with MI >= {MIN_MI} "
                                    "shown; --all for every one)")]
    lines.append("  ".join([f"{'dim':>4}", *(f"{str(name):>{w}}" for name, w in
                                             zip(names, widths)), " what it encodes"]))
    for j in shown:
        cells = [f"{'z' + str(j):>4}", *(f"{v:>{w}.2f}" for v, w in zip(mi[j], widths))]
        lines.append("  ".join(cells) + "   " + labels[j].text)
    lines.append("  ".join([f"{'H(v)':>4}", *(f"{v:>{w}.2f}" for v, w in zip(m.entropy, widths))])
                 + "   entropy of each factor (nats)")
    per = ", ".join(
        f"{name} {'-' if np.isnan(v) else f'{v:.3f}'}"
        + ("" if np.isnan(v) else f" (z{int(top)})")
        for name, v, top in zip(names, m.per_factor, m.top_dims))
    score = "-" if np.isnan(m.score) else f"{m.score:.3f}"
    lines.append(f"MIG: {score} (per factor: {per})")
    lines.append(f"DCI: disentanglement {d.disentanglement:.3f}, completeness "
                 f"{d.completeness:.3f}, informativeness {d.informativeness:.3f}")
    lines.append(CONVENTION)
    return lines


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


def check_image_shape(mc, ds, file: str) -> None:
    """A CliError when `ds`'s images are not the (C, H, W) the model takes."""
    want, have = tuple(mc.image_shape), tuple(ds.image_shape)
    if want != have:
        raise CliError(f"{file}: the model takes {'x'.join(map(str, want))} images (C x H x W), "
                       f"{ds.name}'s are {'x'.join(map(str, have))}")


def run(args: argparse.Namespace) -> int:
    """Evaluate and print."""
    from latent_explorer.training.record.checkpoint import load_checkpoint
    from latent_explorer.training.engine.device import pick_device
    from latent_explorer.training.metrics.evaluate import evaluate, require_finite

    if args.all and not args.factors:
        raise CliError("--all applies with --factors")
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
    check_image_shape(mc, ds, args.file)
    if args.iw < 0:
        raise CliError(f"--iw must be 0 or more, got {args.iw}")
    if args.factors:
        factors_of(ds)  # before the metrics: a dataset with nothing to measure is one line
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
    if args.factors:
        n, names, mig_result, dci_result, _ = factor_scores(ckpt.model, ds)
        for line in factor_report(n, names, mig_result, dci_result, args.all):
            print(line)
    return 0
