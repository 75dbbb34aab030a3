"""What a finished sweep shows: a summary table, its CSV, the best members, the
rate–distortion plane and the comparison grid. Qt-free: the CLI writes files from these and
the GUI's Sweep tab draws the same rows and grid.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.metrics.evaluate import EvalMetrics, iw_bound_estimate, rate_distortion
from latent_explorer.training.metrics.judge import Judge, sample_quality
from latent_explorer.training.explore.render import make_grid, to_numpy_images, to_uint8

DEFAULT_IW_K = 50
# A member's prior samples are "good" when the judge reads at least this share of them as real
# digits; below it none is crowned best sample quality (a 2-epoch sweep's best was 2 %).
GOOD_QUALITY = 0.5
BEST_MEANINGS = {
    "quality": "best sample quality: the largest share of prior samples the judge reads as a "
               "real example with confidence >= 0.9 (for a CVAE: of the asked label)",
    "bound": "best bound: the lowest importance-weighted bound on -log p(x), the model that "
             "explains the test images best (grey-level nats, lower is better)",
}
NATS_NOTE = ("nats per image under a Bernoulli likelihood of [0, 1] grey levels: not a density "
             "of the data, so not comparable with published binarised-MNIST NLLs (~85-90 nats)")


@dataclass(frozen=True)
class SummaryRow:
    """One member's line of the sweep table (None where a figure does not apply or is not
    measured: a failed member before its first epoch, no judge)."""

    beta: float
    seed: int
    state: str
    bce: float | None  # test BCE per pixel of posterior-mean reconstructions
    rate: float | None  # KL(q(z|x) ‖ p(z)), nats per image
    distortion: float | None  # −E log p(x|z), nats per image
    neg_elbo: float | None  # rate + distortion
    iw_bound: float | None  # importance-weighted bound, nats per image, with iw_k samples
    iw_k: int
    active_dims: int | None  # latent dimensions with mean KL > 0.01 nats
    quality: float | None  # JudgeScore.quality of prior samples
    classes_seen: int | None
    asked_share: float | None  # CVAE: share of samples read as the asked label
    checkpoint: str = ""
    error: str | None = None
    # Monte-Carlo standard errors: of the distortion (and so of the −ELBO: the rate is exact),
    # of the IW bound, and the binomial error of the sample quality.
    distortion_se: float | None = None
    iw_bound_se: float | None = None
    quality_se: float | None = None
    # Trained to a target rate: the target (nats); `beta` is then the β it ended with.
    target_rate: float | None = None
    # β × C·H·W: the weight of the KL against a whole image's reconstruction term, the β of
    # papers that sum the likelihood over pixels (Higgins et al.'s β); None when not known.
    beta_per_image: float | None = None
    # −ELBO in bits per dimension, for a likelihood of the 8-bit values (EvalMetrics).
    bits_per_dim: float | None = None
    # Against the dataset's known generative factors (sprites): MIG and DCI disentanglement of
    # the test codes (training/metrics/disentanglement.py); None without factors.
    mig: float | None = None
    dci_disentanglement: float | None = None


def disentanglement_scores(model: LatentModel, test_split, max_points: int = 10_000,
                           seed: int = 0) -> tuple[float | None, float | None]:
    """(MIG, DCI disentanglement) of the posterior means of up to `max_points` test images
    against the split's factors; (None, None) when it has none (or too few images to score)."""
    from latent_explorer.training.metrics import disentanglement as dis

    factors = getattr(test_split, "factors", None)
    if factors is None or len(test_split) < 6:
        return None, None
    index = dis.sample_index(len(test_split), max_points, seed)
    values = factors[index].cpu().numpy().astype(np.float64)
    labels = test_split.labels[index] if model.config.is_conditional else None
    codes = dis.codes_of(model, test_split.images[index], labels)
    m = dis.mig(codes, values)
    d = dis.dci(codes, values, seed=seed)
    return (None if math.isnan(m.score) else m.score), d.disentanglement


def summary_row(model: LatentModel, beta: float, seed: int, state: str,
                metrics: EvalMetrics | None, test_split, iw_k: int = DEFAULT_IW_K,
                judge: Judge | None = None, quality_n: int = 1000, checkpoint: str = "",
                error: str | None = None, target_rate: float | None = None,
                factors: bool = True) -> SummaryRow:
    """Measure one member: R–D and active dimensions, the IW bound (k = iw_k), the judge, and
    (`factors`, when the test split has them) MIG and DCI disentanglement."""
    beta_img = beta * float(np.prod(model.config.image_shape))
    if metrics is None:  # no epoch finished: nothing was measured on the test split
        return SummaryRow(beta, seed, state, None, None, None, None, None, iw_k, None, None,
                          None, None, checkpoint, error, target_rate=target_rate,
                          beta_per_image=beta_img)
    mig_score, dci_d = disentanglement_scores(model, test_split) if factors else (None, None)
    rd = rate_distortion(model, test_split)
    bound = iw_bound_estimate(model, test_split, iw_k) if iw_k > 0 else None
    score = sample_quality(model, judge, n=quality_n) if judge is not None else None
    return SummaryRow(beta, seed, state, metrics.bce, rd.rate, rd.distortion, rd.neg_elbo,
                      bound.value if bound else None, iw_k, rd.active_dims,
                      score.quality if score else None,
                      score.classes_seen if score else None,
                      score.asked_share if score else None, checkpoint, error,
                      distortion_se=rd.distortion_se, iw_bound_se=bound.se if bound else None,
                      quality_se=score.quality_se if score else None,
                      target_rate=target_rate, beta_per_image=beta_img,
                      bits_per_dim=metrics.bits_per_dim, mig=mig_score,
                      dci_disentanglement=dci_d)


def best_members(rows: Sequence[SummaryRow]) -> dict[str, int | None]:
    """Index of the row with the best sample quality ('quality', highest) and the best bound
    ('bound', lowest IW bound), or None where no row has that figure. BEST_MEANINGS says what
    each means."""
    def pick(key, sign):
        cands = [(sign * v, i) for i, r in enumerate(rows)
                 if (v := getattr(r, key)) is not None and math.isfinite(v)]
        return min(cands)[1] if cands else None

    q = pick("quality", -1)
    if q is not None and rows[q].quality < GOOD_QUALITY:
        q = None  # the best of bad samples is no winner: `no_good_quality` says so instead
    return {"quality": q, "bound": pick("iw_bound", 1)}


def no_good_quality(rows: Sequence[SummaryRow]) -> float | None:
    """The highest sample quality when some member's was measured but none reaches
    GOOD_QUALITY (the table then says so instead of crowning one); None otherwise."""
    qs = [r.quality for r in rows if r.quality is not None and math.isfinite(r.quality)]
    return max(qs) if qs and max(qs) < GOOD_QUALITY else None


CSV_FIELDS = ("beta", "seed", "state", "bce_per_pixel", "rate_nats", "distortion_nats",
              "neg_elbo_nats", "iw_bound_nats", "iw_k", "active_dims", "sample_quality",
              "classes_seen", "asked_label_share", "best", "checkpoint", "error",
              "distortion_se_nats", "iw_bound_se_nats", "sample_quality_se", "target_rate_nats",
              "beta_per_image", "bits_per_dim", "mig", "dci_disentanglement")
# New columns go at the end: a reader of an older summary.csv by position still reads it, and
# read_summary_csv reads a missing column as None.


def write_summary_csv(path: str | os.PathLike, rows: Sequence[SummaryRow]) -> Path:
    """The table as CSV, one member a line, with a 'best' column ('quality', 'bound')."""
    path = Path(path)
    best = best_members(rows)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        for i, r in enumerate(rows):
            marks = ";".join(k for k, j in best.items() if j == i)
            w.writerow([f"{r.beta:g}", r.seed, r.state, _num(r.bce, 6), _num(r.rate),
                        _num(r.distortion), _num(r.neg_elbo), _num(r.iw_bound), r.iw_k,
                        "" if r.active_dims is None else r.active_dims, _num(r.quality, 4),
                        "" if r.classes_seen is None else r.classes_seen,
                        _num(r.asked_share, 4), marks, r.checkpoint, r.error or "",
                        _num(r.distortion_se, 4), _num(r.iw_bound_se, 4),
                        _num(r.quality_se, 4),
                        "" if r.target_rate is None else f"{r.target_rate:g}",
                        "" if r.beta_per_image is None else f"{r.beta_per_image:g}",
                        _num(r.bits_per_dim, 4), _num(r.mig, 4),
                        _num(r.dci_disentanglement, 4)])
    return path


def read_summary_csv(path: str | os.PathLike) -> list[SummaryRow]:
    """The rows of a summary.csv, of this version or an older one: a column the file lacks
    (or an empty cell) reads as None, so sweeps written before a column existed still load."""
    def num(row: dict, key: str, cast=float):
        v = (row.get(key) or "").strip()
        return cast(v) if v else None

    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.append(SummaryRow(
                float(row["beta"]), int(row["seed"]), row.get("state") or "",
                num(row, "bce_per_pixel"), num(row, "rate_nats"), num(row, "distortion_nats"),
                num(row, "neg_elbo_nats"), num(row, "iw_bound_nats"),
                num(row, "iw_k", int) or 0, num(row, "active_dims", int),
                num(row, "sample_quality"), num(row, "classes_seen", int),
                num(row, "asked_label_share"), row.get("checkpoint") or "",
                row.get("error") or None, num(row, "distortion_se_nats"),
                num(row, "iw_bound_se_nats"), num(row, "sample_quality_se"),
                num(row, "target_rate_nats"), num(row, "beta_per_image"),
                num(row, "bits_per_dim"), num(row, "mig"), num(row, "dci_disentanglement")))
    return rows


def _num(v: float | None, digits: int = 3) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def member_label(beta: float, seed: int, n_seeds: int = 1, target_rate: float | None = None) -> str:
    """'β=0.001', or 'R=10' for a member trained to a target rate (with ' s1' when the sweep
    has several seeds)."""
    head = f"R={target_rate:g}" if target_rate is not None else f"β={beta:g}"
    return head + (f" s{seed}" if n_seeds > 1 else "")


def member_file_name(kind: str, beta: float, seed: int, target_rate: float | None = None) -> str:
    """The checkpoint file name of a member: 'vae-beta0.001-seed0.safetensors', or
    'vae-rate10-seed0.safetensors' for one trained to a target rate."""
    if target_rate is not None:
        return f"{kind}-rate{target_rate:g}-seed{seed}.safetensors"
    return f"{kind}-beta{beta:g}-seed{seed}.safetensors"


def member_file_names(members: Sequence[tuple[Any, float]]) -> list[str]:
    """The file names of a sweep's members in one folder, for the CLI's `sweep` and the window's
    Save sweep alike: each from its member config (kind, seed, target rate) and the β it has,
    by `member_file_name`; never two alike (a repeated one gets '-2', '-3' before the suffix)."""
    names: list[str] = []
    for config, beta in members:
        name = member_file_name(config.kind, beta, config.seed, config.target_rate)
        stem, n = name.removesuffix(".safetensors"), 1
        while name in names:
            n += 1
            name = f"{stem}-{n}.safetensors"
        names.append(name)
    return names


# -- the comparison grid -----------------------------------------------------------------------
@torch.no_grad()
def comparison_grid(models: Sequence[LatentModel], test_split, n_images: int = 8,
                    n_samples: int = 8, seed: int = 0) -> np.ndarray:
    """One row per model: reconstructions of the same first `n_images` test images, a blank
    cell, then decodings of the same `n_samples` prior codes (a CVAE cycles the labels 0–9; a
    VampPrior's codes are the same noise in its components, `LatentModel.prior_codes`);
    a first row holds the originals. A [0, 1] array from `training.explore.render.make_grid`."""
    x = test_split.images[:n_images].float().div(255)
    y = test_split.labels[:n_images]
    shape = tuple(x.shape[1:])
    blank = torch.full((1, *shape), 0.5)
    nz = {m.config.nz for m in models}
    z_by_nz = {k: torch.randn((n_samples, k), generator=torch.Generator().manual_seed(seed))
               for k in nz}
    cells = [x, blank, torch.full((n_samples, *shape), 0.5)]
    for m in models:
        was = m.training
        m.eval()
        yy = y if m.config.is_conditional else None
        labels = torch.arange(n_samples) % m.config.n_classes if m.config.is_conditional else None
        rec = m.reconstruct(x.to(m.device), yy).cpu()
        z = m.prior_codes(z_by_nz[m.config.nz].to(m.device))  # the noise itself for N(0, I)
        samples = m.decode(z, labels.to(m.device) if labels is not None else None).cpu()
        m.train(was)
        cells += [rec, blank, samples]
    return make_grid(torch.cat([torch.as_tensor(to_numpy_images(c)) for c in cells]),
                     ncols=n_images + 1 + n_samples)


GRID_PAD = 2  # make_grid's default padding, which the row labels below line up with


def _font(size: int):
    """DejaVu Sans from matplotlib's own files (it has β); PIL's bitmap font otherwise."""
    from PIL import ImageFont

    try:
        from matplotlib import font_manager

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    except Exception:  # noqa: BLE001 - any font trouble: the plain font still labels the rows
        return ImageFont.load_default()


def save_labelled_grid(grid: np.ndarray, row_labels: Sequence[str], path: str | os.PathLike,
                       scale: int = 2, cell: int = 28, n_images: int = 8,
                       headings: tuple[str, str] = ("reconstructions of the same test images",
                                                    "prior samples from the same z")) -> Path:
    """Write `comparison_grid`'s array as a PNG with a label left of each row (row_labels[0]
    labels the originals) and a heading over the reconstructions and over the samples."""
    from PIL import Image, ImageDraw

    img = to_uint8(grid)
    if scale > 1:
        img = img.repeat(scale, axis=0).repeat(scale, axis=1)
    font = _font(11 * scale // 2 + 4)
    margin = 10 + max((int(font.getlength(s)) for s in row_labels), default=0)
    top = 24
    mode = "RGB" if img.ndim == 3 else "L"  # a colour dataset's grid keeps its colours
    canvas = Image.new(mode, (img.shape[1] + margin, img.shape[0] + top), "white")
    canvas.paste(Image.fromarray(img), (margin, top))
    draw = ImageDraw.Draw(canvas)
    for r, label in enumerate(row_labels):
        y_mid = top + (GRID_PAD + r * (cell + GRID_PAD) + cell // 2) * scale
        draw.text((4, y_mid), label, fill=0, font=font, anchor="lm")
    step = (cell + GRID_PAD) * scale
    draw.text((margin + GRID_PAD * scale, top // 2), headings[0], fill=0, font=font, anchor="lm")
    draw.text((margin + (n_images + 1) * step + GRID_PAD * scale, top // 2), headings[1],
              fill=0, font=font, anchor="lm")
    path = Path(path)
    canvas.save(path, format="PNG")
    return path


# -- the rate–distortion plane -----------------------------------------------------------------
def save_rate_distortion_png(rows: Sequence[SummaryRow], path: str | os.PathLike,
                             title: str = "", n_seeds: int = 1, log_axes: bool = False) -> Path:
    """The members on the rate–distortion plane, labelled with β, over iso-ELBO diagonals
    (R + D = constant), as a PNG drawn by matplotlib's Agg canvas (no GUI backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pts = [(r.rate, r.distortion, r) for r in rows
           if r.rate is not None and r.distortion is not None
           and math.isfinite(r.rate) and math.isfinite(r.distortion)]
    fig = Figure(figsize=(7, 5.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if pts:
        rates = np.array([p[0] for p in pts])
        dists = np.array([p[1] for p in pts])
        ax.scatter(rates, dists, s=36, zorder=3, color="tab:blue")
        for (r_, d_), names in _label_clusters(pts, rates, dists, n_seeds):
            # On a white box above the diagonals and their labels: never garbled by them.
            ax.annotate(names, (r_, d_), textcoords="offset points", xytext=(6, 4), fontsize=9,
                        zorder=5, bbox={"boxstyle": "square,pad=0.1", "fc": "white",
                                        "ec": "none", "alpha": 0.85})
        lo_r, hi_r = 0.0, max(rates.max() * 1.15, 1.0)
        lo_d, hi_d = max(0.0, dists.min() * 0.9), dists.max() * 1.08 + 1
        if log_axes:
            ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlim(lo_r, hi_r)
        ax.set_ylim(lo_d, hi_d)
        # Lines of equal ELBO: R + D = c, diagonals; label each with its −ELBO.
        elbos = rates + dists
        levels = _nice_levels(elbos.min(), elbos.max())
        xs = np.linspace(lo_r, hi_r, 50)
        for c in levels:
            ax.plot(xs, c - xs, color="0.75", lw=0.8, ls="--", zorder=1)
            # Where the line comes in at the top (or the right edge), the text running left
            # and down from there: inside the axes, not cut at their edge.
            x_lab = min(hi_r, max(lo_r, c - hi_d))
            if lo_d <= c - x_lab <= hi_d:
                left = x_lab < (lo_r + hi_r) / 2  # run rightwards from the left half, else left
                ax.annotate(f"−ELBO {c:g}", (x_lab, c - x_lab), fontsize=7, color="0.45",
                            xytext=(3 if left else -3, -3), textcoords="offset points",
                            ha="left" if left else "right", va="top", zorder=1,
                            annotation_clip=True)
        # Members trained to a target rate: the target, a vertical line of that rate.
        for t in sorted({r.target_rate for r in rows if r.target_rate is not None}):
            ax.axvline(t, color="tab:orange", lw=0.9, ls=":", zorder=2)
            ax.annotate(f"target {t:g}", (t, hi_d), fontsize=7, color="tab:orange",
                        xytext=(2, -10), textcoords="offset points")
    ax.set_xlabel("rate  KL(q(z|x) ‖ p(z))  [nats per image]")
    ax.set_ylabel("distortion  −E log p(x|z)  [nats per image]")
    ax.set_title(title or "β sweep on the rate–distortion plane")
    ax.text(0.01, 0.01, "grey-level Bernoulli nats (not binarised-MNIST NLLs); "
            "dashed: equal −ELBO = R + D", transform=ax.transAxes, fontsize=7, color="0.4")
    ax.grid(True, alpha=0.2)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png")
    return path


def save_mig_png(rows: Sequence[SummaryRow], path: str | os.PathLike, title: str = "") -> Path:
    """MIG against per-image β (β × C·H·W, log axis): each member a point, the mean over seeds
    of each β a line, as in Locatello et al. 2019's score-against-β plots. Members at β = 0
    cannot sit on a log axis and are said in a note; drawn by matplotlib's Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pts = [(r.beta_per_image, r.mig) for r in rows
           if r.mig is not None and r.beta_per_image is not None and math.isfinite(r.mig)]
    shown = [(b, m) for b, m in pts if b > 0]
    fig = Figure(figsize=(6.5, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if shown:
        b = np.array([p[0] for p in shown])
        m = np.array([p[1] for p in shown])
        ax.scatter(b, m, s=30, zorder=3, color="tab:blue", alpha=0.7, label="members (seeds)")
        levels = np.unique(b)
        means = np.array([m[b == v].mean() for v in levels])
        ax.plot(levels, means, color="tab:orange", lw=1.5, marker="o", ms=4, zorder=4,
                label="mean over seeds")
        ax.set_xscale("log")
        ax.legend(fontsize=8, loc="best")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("β per image  (β × C·H·W)")
    ax.set_ylabel("MIG  (disentanglement_lib's discrete MIG)")
    ax.set_title(title or "MIG against β")
    note = "posterior means of up to 10,000 test images; 20-bin histograms; gap / H(factor)"
    if len(shown) < len(pts):
        note += f"; {len(pts) - len(shown)} member(s) at β = 0 not shown (log axis)"
    if not pts:
        note = "no member has a MIG (the dataset has no known factors)"
    ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize=7, color="0.4")
    ax.grid(True, alpha=0.2)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png")
    return path


def _label_clusters(pts, rates: np.ndarray, dists: np.ndarray, n_seeds: int):
    """One label per group of points that would overlap ('β=0.1, 1, 10' for collapsed
    members), at the group's first point."""
    span_r = max(float(np.ptp(rates)), 1e-9)
    span_d = max(float(np.ptp(dists)), 1e-9)
    groups: list[list] = []
    for r_, d_, row in pts:
        for g in groups:
            if abs(g[0][0] - r_) < 0.02 * span_r and abs(g[0][1] - d_) < 0.02 * span_d:
                g.append((r_, d_, row))
                break
        else:
            groups.append([(r_, d_, row)])
    out = []
    for g in groups:
        names = [member_label(row.beta, row.seed, n_seeds, row.target_rate) for _, _, row in g]
        text = names[0] + "".join(", " + n.removeprefix("β=").removeprefix("R=")
                                  for n in names[1:])
        out.append(((g[0][0], g[0][1]), text))
    return out


def iso_elbo_levels(neg_elbos: Sequence[float], n: int = 6) -> list[float]:
    """About n round −ELBO values (R + D = c) spanning the members' own, for the plane's
    diagonal lines of equal ELBO."""
    vals = [v for v in neg_elbos if v is not None and math.isfinite(v)]
    return _nice_levels(min(vals), max(vals), n) if vals else []


def _nice_levels(lo: float, hi: float, n: int = 6) -> list[float]:
    """About n round values spanning [lo, hi] (and a little beyond)."""
    span = max(hi - lo, 1.0)
    step = 10 ** math.floor(math.log10(span / n))
    for mult in (1, 2, 5, 10):
        if span / (step * mult) <= n:
            step *= mult
            break
    start = math.floor(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 2)]


__all__ = ["BEST_MEANINGS", "CSV_FIELDS", "DEFAULT_IW_K", "GOOD_QUALITY", "NATS_NOTE", "SummaryRow",
           "best_members", "no_good_quality", "comparison_grid", "disentanglement_scores",
           "iso_elbo_levels", "member_file_name", "member_file_names", "member_label",
           "read_summary_csv", "save_labelled_grid", "save_mig_png", "save_rate_distortion_png",
           "summary_row",
           "write_summary_csv"]
