"""`map FILE --method pca|umap|tsne --out map.png|map.npz`: a 2-D map of a checkpoint's test codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latent_explorer.training.cli.commands._args import (_nonneg_float, _positive_float, _positive_int, _seed,
                                         add_data_arguments, load_data, notify)
from latent_explorer.training.cli.main import CliError

# training.explore.export's MAP_SUFFIXES and .png, written out: building the parser imports no
# numpy.
OUT_SUFFIXES = (".png", ".npz", ".npy", ".csv")
DESCRIPTION = (
    "Encode the test split (posterior means) with a checkpoint and place the codes in 2-D by "
    "PCA (instant, global variance), UMAP or t-SNE (neighbourhoods; tens of seconds for "
    "10,000 codes). --out map.npz writes codes (N×nz float32), coords (N×2 float32) and "
    "labels (N int64), and for a dataset with known generative factors (sprites) factors "
    "(N×F float32, their values) and factor_names (F strings); map.csv one row per test image (index,label,x,y,z0..z(nz-1),selected); "
    "map.npy the same columns as one record array; map.png a scatter coloured by label. The "
    "Latent map tab's Export… writes the same files.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `map`."""
    p.description = DESCRIPTION
    p.add_argument("file", help="checkpoint file (.safetensors)")
    # Checked in run() against the registry: building the parser imports no numpy.
    p.add_argument("--method", default="pca", help="how to map: pca, umap or tsne (default: pca)")
    p.add_argument("--n", type=_positive_int, default=None, metavar="N",
                   help="map the first N test images (default: all of them)")
    p.add_argument("--out", required=True,
                   help="map.png (scatter), map.npz (arrays), map.csv (table) or map.npy "
                        "(record array)")
    p.add_argument("--neighbors", type=_positive_int, default=15, help="UMAP: n_neighbors")
    p.add_argument("--min-dist", type=_nonneg_float, default=0.1, help="UMAP: min_dist")
    p.add_argument("--perplexity", type=_positive_float, default=30.0, help="t-SNE: perplexity")
    p.add_argument("--seed", type=_seed, default=0, help="UMAP/t-SNE random seed")
    p.add_argument("--trustworthiness", action="store_true",
                   help="also print the map's trustworthiness (k = 10)")
    add_data_arguments(p, None, "the dataset the checkpoint was trained on")


def run(args: argparse.Namespace) -> int:
    """Encode, map, write."""
    import numpy as np

    from latent_explorer.training.cli.commands.eval import _training_data, check_image_shape
    from latent_explorer.training.data.datasets import Split
    from latent_explorer.training.explore import latent_methods as lm

    if args.method not in lm.map_method_names():
        raise CliError(f"unknown --method {args.method!r}: choose one of "
                       f"{', '.join(lm.map_method_names())}")
    from latent_explorer.training.explore.panel_math import encode_split
    from latent_explorer.training.record.checkpoint import load_checkpoint

    from latent_explorer.training.explore.export import (ExportError, MapExport, check_out_path,
                                                         write_map)

    out = Path(args.out)
    try:
        check_out_path(out, OUT_SUFFIXES)  # before the work: the same checks as the window's
    except ExportError as e:
        raise CliError(f"--out {e}") from None
    ckpt = load_checkpoint(args.file)
    for line in ckpt.notices:
        notify(line)
    ds = _training_data(ckpt, args.file) if args.dataset is None and args.data_dir is None \
        else load_data(args)
    mc = ckpt.model.config
    if mc.is_conditional and ds.n_classes != mc.n_classes:
        raise CliError(f"{args.file}: a CVAE of {mc.n_classes} classes cannot encode {ds.name}")
    check_image_shape(mc, ds, args.file)
    test = ds.test
    n = len(test) if args.n is None else min(args.n, len(test))
    if n < 4:
        raise CliError(f"need at least 4 test images to map, {ds.name} has {len(test)}")
    enc = encode_split(ckpt.model, Split(test.images[:n], test.labels[:n]))
    codes = enc.means.numpy().astype(np.float32)
    params = lm.MapParams(n_neighbors=args.neighbors, min_dist=args.min_dist,
                          perplexity=args.perplexity, seed=args.seed)

    def progress(f: float, what: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{what} ({f:.0%})\033[K", end="", file=sys.stderr, flush=True)

    slow = lm.get_map_method(args.method).background
    if slow:  # say what the wait is for: UMAP's first fit compiles for about a minute
        print(lm.fit_start_text(args.method, n), file=sys.stderr, flush=True)
    fitted = lm.fit_map(codes, args.method, params, progress=progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if slow:
        print(lm.fit_done_text(args.method, fitted.seconds), file=sys.stderr, flush=True)
    label = lm.get_map_method(args.method).label
    export = MapExport(codes, fitted.coords, enc.labels.astype(np.int64))
    if out.suffix.lower() == ".npz" and test.factors is not None and ds.factor_names:
        # The map's arrays plus each point's factor values, so a map can be coloured by them.
        arrays = export.arrays()
        arrays["factors"] = test.factors[:n].cpu().numpy().astype(np.float32)
        arrays["factor_names"] = np.array(ds.factor_names, dtype=str)  # loads without pickle
        np.savez(out, **arrays)  # type: ignore[arg-type]
    elif out.suffix.lower() != ".png":
        write_map(out, export)
    else:
        save_scatter_png(out, fitted.coords, enc.labels, ds.class_names,
                         f"{label} of {n:,} test codes ({Path(args.file).name})",
                         fitted.axis_labels)
    extra = ""
    if args.trustworthiness:
        extra = f", trustworthiness {lm.trustworthiness(codes, fitted.coords):.3f}"
    print(f"wrote {label} map of {n:,} test codes to {out} ({fitted.seconds:.1f} s{extra})")
    return 0


def save_scatter_png(path: Path, coords, labels, names, title: str, axes: tuple[str, str]) -> Path:
    """A scatter of the map coloured by label (matplotlib's Agg canvas: no GUI backend)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for c in np.unique(labels):
        pts = coords[labels == c]
        name = names[c] if c < len(names) else str(c)
        ax.scatter(pts[:, 0], pts[:, 1], s=4, label=name, color=cmap(int(c) % 10))
    ax.set_title(title)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.legend(markerscale=3, fontsize=8, loc="best")
    fig.savefig(path, format="png")
    return path
