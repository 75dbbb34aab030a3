"""`vector`: an attribute vector (or an analogy) of a checkpoint's latent space, decoded as a strip.

    vector FILE --from A [--to B] [--apply IMAGE | --index I] --out strip.png [--save NAME]
    vector FILE --factor NAME --low X --high Y ... (datasets with known factors, e.g. sprites)
    vector FILE --vector NAME ...                    (a vector saved with the run)
    vector FILE --analogy A B C --out grid.png

The vector is mean(codes of A) - mean(codes of B) over the test split's posterior means, with
the larger set subsampled to the smaller's size (White 2016, "Sampling Generative Networks":
balanced sets keep correlated attributes out; training/explore/directions.py). It is added to
one image's code at each strength and the results decoded. `--save NAME` keeps it with the run
(training/record/vectors.py), where the window's Latent map tab lists it too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from latent_explorer.training.cli.commands._args import (_positive_int, _seed, add_data_arguments,
                                                         load_data, notify)
from latent_explorer.training.cli.main import CliError

OUT_SUFFIXES = (".png", ".npy")  # training.explore.export's SAMPLE_SUFFIXES, written out
ONE_OF = "(default: none; one of --from, --factor, --vector and --analogy is required)"
MAX_CODES = 10_000  # test images encoded to estimate a vector (as many as the MIG scores)


def _strengths(s: str) -> tuple[float, float, int]:
    """'LO,HI,N': N strengths evenly from LO to HI (N >= 2)."""
    parts = [p.strip() for p in s.split(",")]
    try:
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"expected LO,HI,N like -2,2,9, got {s!r}") from None
    if len(parts) != 3 or n < 2 or n > 64 or not (abs(lo) < 1e6 and abs(hi) < 1e6) or lo == hi:
        raise argparse.ArgumentTypeError(f"expected LO,HI,N with LO != HI finite and 2 <= N <= 64, "
                                         f"got {s!r}")
    return lo, hi, n


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `vector`."""
    p.description = __doc__.split("\n\n")[0] if __doc__ else None
    p.add_argument("file", help="checkpoint file (.safetensors), or a run's folder or name")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--from", dest="from_", metavar="A",
                      help="the class the vector points to: a class name or number (the vector "
                           "is mean code of A minus that of --to, or of every other class) "
                           f"{ONE_OF}")
    what.add_argument("--factor", metavar="NAME",
                      help="a generative factor of the dataset (sprites: shape, scale, "
                           "orientation, x, y[, hue]): the vector goes from images whose value "
                           f"is <= --low to those whose value is >= --high {ONE_OF}")
    what.add_argument("--vector", metavar="NAME", help=f"a vector saved with the run (--save) {ONE_OF}")
    what.add_argument("--analogy", nargs=3, metavar=("A", "B", "C"),
                      help="a : b :: c : ?, answered as decode(c + b - a); each a test image "
                           "index (a number) or a class as its name or class:NAME (its test "
                           "images' mean code; class:3 for a class named 3); writes a, b, c "
                           f"and the answer {ONE_OF}")
    p.add_argument("--to", metavar="B", default=None,
                   help="with --from: the class the vector points away from (default: every "
                        "other class)")
    p.add_argument("--low", type=float, default=None, metavar="X",
                   help="with --factor: the low end (values <= X) (default: none; required with --factor)")
    p.add_argument("--high", type=float, default=None, metavar="Y",
                   help="with --factor: the high end (values >= Y) (default: none; required with --factor)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--apply", metavar="IMAGE", default=None,
                       help="apply the vector to this image file (PNG, JPEG, ...), fitted to the "
                            "model's size and channels (default: a test image, see --index)")
    where.add_argument("--index", type=int, default=None, metavar="I",
                       help="apply the vector to test image I (default: the first test image "
                            "of class --from; with --factor the first encoded one at the high "
                            "end; with --vector test image 0)")
    p.add_argument("--strengths", type=_strengths, default=(-2.0, 2.0, 9), metavar="LO,HI,N",
                   help="the strip's N multiples of the vector from LO to HI; write it as "
                        "--strengths=-2,2,9 (a value starting with '-' needs the '=') "
                        "(default: -2,2,9)")
    p.add_argument("--save", metavar="NAME", default=None,
                   help="also save the vector under NAME with the run: in its folder for a "
                        "workspace run, else beside the checkpoint as FILE.vectors.json "
                        "(default: not saved)")
    p.add_argument("--n", type=_positive_int, default=MAX_CODES, metavar="N",
                   help="encode at most N test images to estimate the vector (default: "
                        "%(default)s)")
    p.add_argument("--seed", type=_seed, default=0,
                   help="seeds the subsampling that balances the two sets")
    p.add_argument("--out", required=True,
                   help="strip.png (decodings left to right, in colour for colour models) or "
                        "strip.npy (float32 S×C×H×W)")
    add_data_arguments(p, None, "the dataset the checkpoint was trained on")


# -- resolving names ------------------------------------------------------------------------------
def class_index(value: str, class_names, what: str) -> int:
    """A class by name (exact, then case-insensitive) or by number; CliError otherwise."""
    names = [str(c) for c in class_names]
    if value in names:
        return names.index(value)
    lower = [c.lower() for c in names]
    if value.lower() in lower:
        return lower.index(value.lower())
    try:
        k = int(value)
    except ValueError:
        k = -1
    if 0 <= k < len(names):
        return k
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    raise CliError(f"{what} {value!r} is not a class of this dataset: {shown} "
                   f"(or 0-{len(names) - 1})")


def run_target(checkpoint: str | Path) -> Path:
    """Where `--save` keeps vectors: the run folder when the checkpoint is a workspace run's
    (<run>/checkpoints/x.safetensors beside <run>/run.json), else the checkpoint file."""
    from latent_explorer.training.record.workspace import CHECKPOINTS, RUN_FILE

    p = Path(checkpoint).resolve()
    if p.parent.name == CHECKPOINTS and (p.parent.parent / RUN_FILE).is_file():
        return p.parent.parent
    return p


def _test_index(i: int, n: int) -> int:
    if not 0 <= i < n:
        raise CliError(f"--index must be between 0 and {n - 1} (the test split's images), got {i}")
    return i


def run(args: argparse.Namespace) -> int:
    """Build or load the vector, decode the strip, write (and save)."""
    import numpy as np

    from latent_explorer.training.cli.commands.eval import _training_data, check_image_shape
    from latent_explorer.training.explore import directions as dirs
    from latent_explorer.training.explore.export import ExportError, check_out_path
    from latent_explorer.training.metrics.disentanglement import codes_of, sample_index
    from latent_explorer.training.record.checkpoint import load_checkpoint
    from latent_explorer.training.record.vectors import load_vectors, save_vector

    out = Path(args.out)
    try:
        check_out_path(out, OUT_SUFFIXES)  # before the work
    except ExportError as e:
        raise CliError(f"--out {e}") from None
    _check_options(args)
    ckpt = load_checkpoint(args.file)
    for line in ckpt.notices:
        notify(line)
    model, mc = ckpt.model, ckpt.model.config
    if mc.is_conditional:
        raise CliError(f"{args.file}: a {mc.model_kind.label}'s class is its label, not a "
                       "direction of its code; vector takes an AE or a VAE")
    target = run_target(args.file)
    saved = load_vectors(target) if args.vector else {}
    if args.vector and args.vector not in saved:
        have = ", ".join(saved) or "none"
        raise CliError(f"no vector {args.vector!r} is saved with {args.file} (saved: {have})")
    ds = _training_data(ckpt, args.file) if args.dataset is None and args.data_dir is None \
        else load_data(args)
    check_image_shape(mc, ds, args.file)
    test = ds.test
    n_test = len(test)
    if n_test == 0:
        raise CliError(f"{ds.name} has no test images")
    labels_all = test.labels.cpu().numpy()

    def encode(index) -> np.ndarray:
        return codes_of(model, test.images[np.asarray(index)])

    def decode(z: np.ndarray) -> np.ndarray:
        import torch

        from latent_explorer.training.explore.render import to_numpy_images

        model.eval()
        with torch.no_grad():
            zt = torch.as_tensor(np.asarray(z, np.float32), device=model.device)
            return to_numpy_images(model.decode(zt, None))

    if args.analogy:
        return _analogy(args, ds, encode, decode, out)

    if args.vector:
        vec = saved[args.vector]
        if vec.dim != mc.nz:
            raise CliError(f"vector {args.vector!r} has {vec.dim} dims, the model {mc.nz}")
        default_index = 0
    else:
        index = sample_index(n_test, args.n, args.seed)
        codes = encode(index)
        if args.factor is not None:
            vec, default_index = _factor_vector(args, ds, index, codes)
        else:
            vec, default_index = _class_vector(args, ds, index, codes, labels_all)
    if args.apply is not None:
        from latent_explorer.training.explore.drawing import load_fitted_image

        x = load_fitted_image(args.apply, tuple(mc.image_shape))
        z0 = codes_of(model, x[None])[0]
        start = Path(args.apply).name
    else:
        i = _test_index(args.index, n_test) if args.index is not None else default_index
        z0 = encode([i])[0]
        start = f"test image {i} ({_class_name(ds, labels_all[i])})"
    lo, hi, n = args.strengths
    strengths = np.linspace(lo, hi, n)
    images = decode(dirs.apply_vector(z0, vec.vector, strengths)[0])
    _write(out, images, ncols=n)
    norm = float(np.linalg.norm(vec.vector))
    print(f"vector {vec.name or '(unnamed)'}: {vec.source or 'saved'}; |v| = {norm:.3f} over "
          f"{mc.nz} dims")
    print(f"wrote {n} decodings of {start} + s·v for s = {lo:g} .. {hi:g} to {out}")
    if args.save:
        vec = dirs.AttributeVector(args.save, vec.vector, vec.n_a, vec.n_b, vec.source)
        try:
            path = save_vector(target, vec)
        except ValueError as e:
            raise CliError(f"--save: {e}") from None
        print(f"saved vector {args.save!r} with the run: {path}")
    return 0


def _check_options(args: argparse.Namespace) -> None:
    """Options that apply only with another, as one line."""
    if args.to is not None and args.from_ is None:
        raise CliError("--to applies with --from")
    if (args.low is not None or args.high is not None) and args.factor is None:
        raise CliError("--low and --high apply with --factor")
    if args.factor is not None and (args.low is None or args.high is None):
        raise CliError("--factor needs --low X and --high Y")
    if args.factor is not None and args.low >= args.high:
        raise CliError(f"--low must be below --high, got {args.low:g} and {args.high:g}")
    if args.analogy and (args.apply is not None or args.index is not None or args.save):
        raise CliError("--analogy takes no --apply, --index or --save")
    if args.save is not None and not args.save.strip():
        raise CliError("--save needs a name")


def _class_name(ds, label) -> str:
    k = int(label)
    return str(ds.class_names[k]) if 0 <= k < len(ds.class_names) else str(k)


def _class_vector(args, ds, index, codes, labels_all):
    """The balanced A-vs-B (or A-vs-rest) vector and the default image to apply it to."""
    import numpy as np

    from latent_explorer.training.explore.directions import attribute_vector

    a = class_index(args.from_, ds.class_names, "--from")
    b = class_index(args.to, ds.class_names, "--to") if args.to is not None else None
    if b == a:
        raise CliError(f"--from and --to are the same class ({_class_name(ds, a)})")
    labels = labels_all[index]
    mask_a = labels == a
    mask_b = (labels == b) if b is not None else ~mask_a
    if not mask_a.any() or not mask_b.any():
        empty = _class_name(ds, a) if not mask_a.any() else (
            _class_name(ds, b) if b is not None else "any other class")
        raise CliError(f"no test image of {empty} among the {len(index):,} encoded")
    name_a = _class_name(ds, a)
    name_b = _class_name(ds, b) if b is not None else "rest"
    try:
        vec = attribute_vector(codes, mask_a, None if b is None else mask_b, balanced=True,
                               seed=args.seed, name=f"{name_a} - {name_b}",
                               source=f"class {name_a} vs {name_b}, balanced, seed {args.seed}, "
                                      f"{ds.name} test codes")
    except ValueError as e:
        raise CliError(str(e)) from None
    start = np.flatnonzero(labels_all == a)  # the default: the first test image of A
    return vec, int(start[0]) if len(start) else int(index[mask_a][0])


def _factor_vector(args, ds, index, codes):
    """The balanced high-vs-low vector of one generative factor."""
    from latent_explorer.training.explore.directions import attribute_vector

    names = [str(n) for n in ds.factor_names]
    if ds.test.factors is None or not names:
        raise CliError(f"{ds.name} has no known generative factors; use --from with a class")
    if args.factor not in names:
        raise CliError(f"--factor {args.factor!r} is not one of {', '.join(names)}")
    k = names.index(args.factor)
    values = ds.test.factors.cpu().numpy()[index, k]
    high, low = values >= args.high, values <= args.low
    if not high.any() or not low.any():
        raise CliError(f"{args.factor} ranges over {values.min():g} .. {values.max():g} here: "
                       f"no test image has it {'<= ' + format(args.low, 'g') if not low.any() else '>= ' + format(args.high, 'g')}")
    vec = attribute_vector(codes, high, low, balanced=True, seed=args.seed,
                           name=f"{args.factor} {args.low:g} -> {args.high:g}",
                           source=f"{args.factor} >= {args.high:g} vs <= {args.low:g}, balanced, "
                                  f"seed {args.seed}, {ds.name} test codes")
    return vec, int(index[high][0])  # the default: the first encoded image of the high end


def _analogy(args, ds, encode, decode, out: Path) -> int:
    """decode(c + b - a), after a, b and c themselves, as one row."""
    import numpy as np

    from latent_explorer.training.explore.directions import analogy

    n_test = len(ds.test)
    labels = ds.test.labels.cpu().numpy()
    zs, said = [], []
    for value in args.analogy:
        if value.lstrip("-").isdigit():  # a number is a test index; class:NAME a class
            i = _test_index(int(value), n_test)
            zs.append(encode([i])[0])
            said.append(f"test image {i}")
        else:
            k = class_index(value.removeprefix("class:"), ds.class_names, "--analogy")
            members = np.flatnonzero(labels == k)[:args.n]
            if not len(members):
                raise CliError(f"no test image of class {_class_name(ds, k)}")
            zs.append(encode(members).mean(axis=0))
            said.append(f"mean of {len(members):,} {_class_name(ds, k)}")
    answer = analogy(zs[0], zs[1], zs[2])
    images = decode(np.stack([*zs, answer]))
    _write(out, images, ncols=4)
    print(f"{said[0]} : {said[1]} :: {said[2]} : ? -> decode(c + b - a); wrote a, b, c and the "
          f"answer to {out}")
    return 0


def _write(out: Path, images, ncols: int) -> None:
    from latent_explorer.training.explore.export import write_samples

    write_samples(out, images, ncols=ncols, scale=2)


__all__ = ["add_arguments", "class_index", "run", "run_target"]
