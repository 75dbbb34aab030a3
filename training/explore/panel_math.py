"""The math behind the exploration panels: reconstructions, grids, interpolation, latent map.

Qt-free on purpose (models/ and training/ never import Qt): every function takes a LatentModel
and tensors or Splits, runs under no_grad on the model's device and returns CPU numpy arrays
in [0, 1] that training/explore/render.py can tile, as the CLI's `sample` command does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.data.datasets import Split
from latent_explorer.training.explore.render import to_numpy_images

METHODS = ("linear", "slerp")


# -- small helpers -----------------------------------------------------------------------------
def _generator(seed: int) -> torch.Generator:
    # A CPU generator: the same seed gives the same z on every device (noise is moved after).
    return torch.Generator().manual_seed(int(seed))


def _label_arg(model: LatentModel, labels: Tensor | int | None, n: int) -> Tensor | None:
    """The label argument the model wants: None for AE/VAE, a LongTensor/one-hot for a CVAE."""
    if not model.config.is_conditional:
        return None
    if labels is None:
        raise ValueError("a CVAE needs a class label")
    if isinstance(labels, Tensor):
        return labels.to(model.device)
    return torch.full((n,), int(labels), dtype=torch.long, device=model.device)


def split_images(split: Split, index: Tensor | np.ndarray | list[int] | slice) -> tuple[Tensor, Tensor]:
    """Float images in [0, 1] (n, C, H, W) and their labels for `index` into a Split."""
    if not isinstance(index, slice):
        index = torch.as_tensor(np.asarray(index, dtype=np.int64))
    return split.float_images(index), split.labels[index]


def pick_indices(n_total: int, n: int, shuffle: bool = False, seed: int = 0) -> np.ndarray:
    """The first n indices, or n distinct random ones drawn with `seed`."""
    n = max(0, min(int(n), int(n_total)))
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    return np.random.default_rng(seed).choice(n_total, size=n, replace=False).astype(np.int64)


def pick_example(labels: Tensor | np.ndarray, label: int, seed: int = 0,
                 exclude: int | None = None) -> int | None:
    """A random index whose label is `label` (not `exclude` when another exists), or None."""
    lab = labels.cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    idx = np.flatnonzero(lab == label)
    if exclude is not None and len(idx) > 1:
        idx = idx[idx != exclude]
    if len(idx) == 0:
        return None
    return int(np.random.default_rng(seed).choice(idx))


# -- reconstructions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Reconstructions:
    """Inputs, their posterior-mean reconstructions and the mean per-pixel BCE of each."""

    originals: np.ndarray  # (n, H, W) grey or (n, H, W, 3) colour, in [0, 1]
    reconstructions: np.ndarray  # as originals: the likelihood's mean
    errors: np.ndarray  # (n,) −log p(x|z) per value (per-pixel BCE), as evaluate() reports


@torch.no_grad()
def reconstruct(model: LatentModel, images: Tensor, labels: Tensor | None = None) -> Reconstructions:
    """decode(posterior mean) of each image (the true label for a CVAE); deterministic."""
    x = images.to(model.device).float().reshape(images.shape[0], -1)
    y = _label_arg(model, labels, x.shape[0])
    out = model.decode_logits(model.encode(x, y).mean, y)
    errors = model.recon_error(out, x)
    shape = (-1, *model.config.image_shape)
    return Reconstructions(to_numpy_images(x.view(shape)), to_numpy_images(model.mean_image(out)),
                           errors.cpu().numpy())


# -- generation --------------------------------------------------------------------------------
@torch.no_grad()
def prior_latents(model: LatentModel, n: int, temperature: float = 1.0, seed: int = 0) -> Tensor:
    """n codes z ~ N(0, temperature² I) from `seed`: the same seed gives the same z anywhere."""
    return model.sample_prior(n, temperature, _generator(seed))


@torch.no_grad()
def decode(model: LatentModel, z: Tensor, labels: Tensor | int | None = None) -> np.ndarray:
    """Images (n, H, W) in [0, 1] for latent codes z (and labels for a CVAE)."""
    z = z.to(model.device).reshape(-1, model.config.nz)
    return to_numpy_images(model.decode(z, _label_arg(model, labels, z.shape[0])))


def prior_description(model: LatentModel, temperature: float = 1.0) -> str:
    """What prior samples of `model` at `temperature` are drawn from, for captions."""
    cfg = model.config
    if cfg.prior_spec.closed_form:
        return f"z ~ N(0, {temperature:.2f}²·I)"
    return (f"z from its {cfg.prior_spec.label} ({cfg.pseudo_inputs} pseudo-inputs, "
            f"σ × {temperature:.2f})")


def prior_grid(model: LatentModel, k: int = 4, temperature: float = 1.0, seed: int = 0,
               label: int | None = None) -> np.ndarray:
    """k·k decodings of prior samples, row-major. A CVAE uses `label`, or labels 0-9 in turn."""
    n = k * k
    z = prior_latents(model, n, temperature, seed)
    labels: Tensor | int | None = None
    if model.config.is_conditional:
        labels = label if label is not None else torch.arange(n) % model.config.n_classes
    return decode(model, z, labels)


def digit_grid(model: LatentModel, label: int, k: int = 4, temperature: float = 1.0,
               seed: int = 0) -> np.ndarray:
    """k·k samples of one class from a CVAE."""
    _require_conditional(model)
    return decode(model, prior_latents(model, k * k, temperature, seed), int(label))


def class_grid(model: LatentModel, k: int = 8, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """n_classes rows × k columns, row-major: row c is class c, column j shares one z (style)."""
    _require_conditional(model)
    c = model.config.n_classes
    z = prior_latents(model, k, temperature, seed).repeat(c, 1)  # row-major: z_j at [c·k + j]
    labels = torch.arange(c).repeat_interleave(k)
    return decode(model, z, labels)


def _require_conditional(model: LatentModel) -> None:
    if not model.config.is_conditional:
        raise ValueError(f"class-conditioned generation needs a CVAE; this is a "
                         f"{model.config.kind.upper()}")


# -- interpolation -----------------------------------------------------------------------------
def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """(1−t)·z0 + t·z1 for each t: shape (len(t), nz)."""
    t = t.reshape(-1, 1).to(z0)
    return (1 - t) * z0.reshape(1, -1) + t * z1.reshape(1, -1)


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation along the great circle (White, Sampling Generative Networks, 2016).

    slerp(t) = sin((1−t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1, with Ω the angle between z0 and z1;
    nearly parallel codes fall back to lerp, where the formula divides by ~0.
    """
    z0f, z1f = z0.reshape(-1), z1.reshape(-1)
    cos = torch.dot(z0f, z1f) / (z0f.norm() * z1f.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    so = torch.sin(omega)
    if float(so) < 1e-6:
        return lerp(z0, z1, t)
    t = t.reshape(-1, 1).to(z0)
    return (torch.sin((1 - t) * omega) / so) * z0f + (torch.sin(t * omega) / so) * z1f


def interpolate(z0: Tensor, z1: Tensor, t: Tensor | np.ndarray | float, method: str = "linear") -> Tensor:
    """Codes between z0 (t = 0) and z1 (t = 1) by 'linear' or 'slerp'."""
    if method not in METHODS:
        raise ValueError(f"unknown interpolation {method!r}; choose one of {', '.join(METHODS)}")
    t = torch.as_tensor(np.atleast_1d(np.asarray(t, dtype=np.float32)), device=z0.device)
    return (slerp if method == "slerp" else lerp)(z0, z1, t)


@dataclass(frozen=True)
class LatentPair:
    """Two encoded images: posterior means and their labels (for a CVAE)."""

    z0: Tensor
    z1: Tensor
    y0: int | None
    y1: int | None


@torch.no_grad()
def encode_pair(model: LatentModel, x0: Tensor, x1: Tensor, y0: int | None = None,
                y1: int | None = None) -> LatentPair:
    """Posterior means of two images (each with its own true label for a CVAE)."""
    x = torch.stack([x0.reshape(-1), x1.reshape(-1)]).to(model.device).float()
    y = None
    if model.config.is_conditional:
        if y0 is None or y1 is None:
            raise ValueError("a CVAE needs both images' labels")
        y = torch.tensor([int(y0), int(y1)], device=model.device)
    mean = model.encode(x, y).mean
    return LatentPair(mean[0], mean[1], y0, y1)


def _pair_labels(model: LatentModel, pair: LatentPair, t: Tensor, mix_label: bool) -> Tensor | None:
    if not model.config.is_conditional:
        return None
    assert pair.y0 is not None and pair.y1 is not None  # encode_pair gives a CVAE's pair both
    c = model.config.n_classes
    oh0 = F.one_hot(torch.tensor(int(pair.y0)), c).float().to(model.device)
    if not mix_label:
        return oh0.expand(len(t), c)
    oh1 = F.one_hot(torch.tensor(int(pair.y1)), c).float().to(model.device)
    t = t.reshape(-1, 1).to(oh0)
    return (1 - t) * oh0 + t * oh1  # the one-hot interpolated linearly, as the decoder saw it


@torch.no_grad()
def decode_pair_at(model: LatentModel, pair: LatentPair, t: Tensor | np.ndarray | float,
                   method: str = "linear", mix_label: bool = False) -> np.ndarray:
    """Decodings of the pair's interpolants at each t (a CVAE keeps the start label unless mixed)."""
    z = interpolate(pair.z0, pair.z1, t, method)
    tt = torch.as_tensor(np.atleast_1d(np.asarray(t, dtype=np.float32)))
    y = _pair_labels(model, pair, tt, mix_label)
    return to_numpy_images(model.decode(z, y))


def interpolation_strip(model: LatentModel, pair: LatentPair, x0: Tensor, x1: Tensor, steps: int = 8,
                        method: str = "linear", mix_label: bool = False) -> np.ndarray:
    """The start image, `steps` decodings at t = 0…1 (ends included), then the end image
    (x0 and x1: one image or a batch of one, in any layout of the model's C·H·W values)."""
    steps = max(2, int(steps))
    mids = decode_pair_at(model, pair, np.linspace(0.0, 1.0, steps), method, mix_label)
    shape = model.config.image_shape  # one image (C, H, W), (H, W) or flat: as the model's
    return np.concatenate([to_numpy_images(x0, shape), mids, to_numpy_images(x1, shape)])


# -- latent map ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Encoded:
    """A split's posterior means (and log σ for variational models), on the CPU."""

    means: Tensor  # (N, nz)
    log_sigmas: Tensor | None
    labels: np.ndarray  # (N,)
    # Whether the model's prior is N(0, I), so each dimension has its own KL (a VampPrior's
    # mixture has none: its dimensions are measured, and ranged, by their spread instead).
    standard_prior: bool = True


@torch.no_grad()
def encode_split(model: LatentModel, split: Split, batch_size: int = 4096) -> Encoded:
    """Posterior means of a whole split, encoded in big batches (the true label for a CVAE)."""
    dev = model.device
    means, sigmas = [], []
    for i in range(0, len(split), batch_size):
        x = split.images[i : i + batch_size].to(dev).float().div_(255).flatten(1)
        y = split.labels[i : i + batch_size].to(dev) if model.config.is_conditional else None
        post = model.encode(x, y)
        means.append(post.mean.float().cpu())
        if post.log_sigma is not None:
            sigmas.append(post.log_sigma.float().cpu())
    nz = model.config.nz
    log_sigmas = None
    if model.config.is_variational:
        log_sigmas = torch.cat(sigmas) if sigmas else torch.zeros(0, nz)
    return Encoded(torch.cat(means) if means else torch.zeros(0, nz), log_sigmas,
                   split.labels.cpu().numpy().astype(np.int64),
                   standard_prior=model.config.prior_spec.closed_form)


@dataclass(frozen=True)
class LatentMap:
    """A 2-D PCA projection of posterior means and its inverse (the mean plus 2 directions)."""

    coords: np.ndarray  # (N, 2) float32
    labels: np.ndarray  # (N,)
    center: Tensor  # (nz,)
    components: Tensor  # (nz, 2), orthonormal columns (zero where nz < 2)
    explained: np.ndarray  # (2,) fraction of the variance along each axis

    def to_latent(self, xy: np.ndarray | tuple[float, float]) -> Tensor:
        """The latent point mean + x·pc1 + y·pc2 that projects onto (x, y)."""
        points = torch.as_tensor(np.asarray(xy, dtype=np.float32)).reshape(-1, 2)
        return self.center + points @ self.components.T

    def project(self, z: Tensor) -> np.ndarray:
        """2-D coordinates of latent codes z (n, nz)."""
        return ((z.float().cpu().reshape(-1, self.center.shape[0]) - self.center) @ self.components).numpy()


def latent_map(encoded: Encoded) -> LatentMap:
    """PCA of the centred posterior means: eigenvectors of their nz×nz covariance.

    Exact and deterministic (unlike torch.pca_lowrank's random projections), and cheap: the
    Gram matrix costs N·nz² and its eigendecomposition nz³, so 10,000 codes take milliseconds.
    """
    z = encoded.means.double()
    n, nz = z.shape
    center = z.mean(dim=0) if n else torch.zeros(nz, dtype=torch.float64)
    comps = torch.zeros(nz, 2, dtype=torch.float64)
    explained = np.zeros(2)
    if n >= 2:
        zc = z - center
        evals, evecs = torch.linalg.eigh(zc.T @ zc)  # ascending
        k = min(2, nz)
        v = evecs[:, -k:].flip(1)  # (nz, k), largest variance first
        # Eigenvector signs are arbitrary: make each axis's largest loading positive.
        sign = torch.sign(v.gather(0, v.abs().argmax(dim=0, keepdim=True)))
        sign[sign == 0] = 1
        comps[:, :k] = v * sign
        var = evals.clamp_min(0).flip(0)
        total = float(var.sum())
        if total > 0:
            explained[:k] = (var[:k] / total).numpy()
    coords = ((z - center) @ comps).float().numpy()
    return LatentMap(coords, encoded.labels, center.float(), comps.float(), explained)


def nearest_point(coords: np.ndarray, xy: tuple[float, float], radius: tuple[float, float]) -> int | None:
    """Index of the point nearest (x, y) within an ellipse of radii (rx, ry), or None."""
    if len(coords) == 0:
        return None
    d = ((coords[:, 0] - xy[0]) / radius[0]) ** 2 + ((coords[:, 1] - xy[1]) / radius[1]) ** 2
    i = int(np.argmin(d))
    return i if d[i] <= 1.0 else None


# -- per-dimension traversal ---------------------------------------------------------------------
@dataclass(frozen=True)
class DimensionUsage:
    """How much each latent dimension is used, most-used first, with a slider range for each."""

    usage: np.ndarray  # (nz,) average KL in nats (VAE/CVAE) or variance of the means (AE)
    order: np.ndarray  # dimension indices, most used first
    low: np.ndarray  # (nz,) slider range per dimension
    high: np.ndarray
    measure: str  # 'KL' or 'variance'
    why: str = ""  # what the measure means here, for captions


WHY_KL = "average KL to the prior in nats; ~0 means the decoder ignores it"
WHY_AE = "variance of the codes: an AE has no KL"
WHY_MIXTURE = "variance of the codes: a VampPrior has no KL per dimension"


def dimension_usage(encoded: Encoded) -> DimensionUsage:
    """Average KL per dimension over the split (an AE, with no KL, by the variance of its means).

    Dimensions with average KL near 0 are 'collapsed': their posterior equals the prior and the
    decoder ignores them. Slider ranges: ±3 for the N(0, I) prior, the data's ±3 std for an AE
    and for a prior with no per-dimension KL (a VampPrior), whose dimensions are measured by the
    variance of their means.
    """
    mu = encoded.means.double()
    nz = mu.shape[1]
    why = (WHY_AE if encoded.log_sigmas is None else WHY_KL if encoded.standard_prior
           else WHY_MIXTURE)
    if len(mu) == 0:
        z = np.zeros(nz)
        measure = "KL" if why == WHY_KL else "variance"
        return DimensionUsage(z, np.arange(nz), z - 3, z + 3, measure, why)
    if encoded.log_sigmas is not None and encoded.standard_prior:
        ls = encoded.log_sigmas.double()
        kl = 0.5 * (mu.pow(2) + torch.exp(2 * ls) - 1 - 2 * ls)  # per dimension, Kingma & Welling
        usage = kl.mean(dim=0).numpy()
        low, high = np.full(nz, -3.0), np.full(nz, 3.0)
        measure = "KL"
    else:
        usage = mu.var(dim=0, unbiased=False).numpy()
        m, s = mu.mean(dim=0).numpy(), np.sqrt(usage)
        s = np.where(s > 1e-6, s, 1.0)
        low, high = m - 3 * s, m + 3 * s
        measure = "variance"
    order = np.argsort(-usage, kind="stable")
    return DimensionUsage(usage, order, low, high, measure, why)


UNUSED_KL = 0.01  # nats: a dimension whose average KL is below this carries (almost) nothing


def unused_dimensions(usage: DimensionUsage, threshold: float = UNUSED_KL) -> np.ndarray:
    """(nz,) bool: dimensions the model does not use (average KL below `threshold`).

    Only a KL says so: an AE has no prior to collapse onto, so none of its dimensions is marked.
    """
    if usage.measure != "KL":
        return np.zeros(len(usage.usage), dtype=bool)
    return np.asarray(usage.usage) < threshold


__all__ = [
    "METHODS", "DimensionUsage", "Encoded", "LatentMap", "LatentPair", "Reconstructions",
    "class_grid", "decode", "decode_pair_at", "digit_grid", "dimension_usage", "encode_pair",
    "encode_split", "grid_cell_at", "interpolate", "interpolation_strip", "latent_map", "lerp",
    "nearest_point",
    "pick_example", "pick_indices", "prior_description", "prior_grid", "prior_latents",
    "reconstruct", "slerp",
    "split_images", "unused_dimensions",
]


def grid_cell_at(x: float, y: float, n: int, ncols: int, cell: tuple[int, int] = (28, 28),
                 pad: int = 2) -> int | None:
    """Index of the image under pixel (x, y) of a make_grid(…, ncols, pad) mosaic, or None."""
    h, w = cell
    col, cx = divmod(x - pad, w + pad)
    row, cy = divmod(y - pad, h + pad)
    if x < pad or y < pad or cx >= w or cy >= h or col >= ncols:
        return None
    i = int(row) * ncols + int(col)
    return i if 0 <= i < n else None


# -- the live reconstruction strip ---------------------------------------------------------------
RECON_COUNT = 10  # one fixed test image per class where the test set has them


def fixed_test_indices(labels: np.ndarray, count: int = RECON_COUNT) -> np.ndarray:
    """The first test image of each class (then the next ones), so the strip is stable."""
    picked: list[int] = []
    for c in np.unique(labels)[:count]:
        picked.append(int(np.flatnonzero(labels == c)[0]))
    chosen = set(picked)
    for i in range(len(labels)):
        if len(picked) >= count:
            break
        if i not in chosen:
            picked.append(i)
            chosen.add(i)
    return np.array(sorted(picked[:count], key=lambda i: (labels[i], i)), dtype=np.int64)


def snapshot_model(model: LatentModel) -> LatentModel:
    """A model of its own holding a copy of `model`'s weights, in eval mode and frozen.

    For exploring a run while it trains on: the copy never changes, whatever the loop does to
    the original next. Take it where the weights are quiescent (an observer hook).
    """
    from latent_explorer.models.autoencoders import build_model

    copy = build_model(model.config)
    copy.load_state_dict(model.state_dict())
    copy.requires_grad_(False)
    return copy.to(model.device).eval()


@torch.no_grad()
def reconstruction_grid(model: LatentModel, split: Split, indices: np.ndarray) -> np.ndarray:
    """Originals above their posterior-mean reconstructions, tiled by training.explore.render.make_grid."""
    from latent_explorer.training.explore.render import make_grid

    idx = torch.from_numpy(indices)
    x = split.float_images(idx)
    y = split.labels[idx] if model.config.is_conditional else None
    was_training = model.training
    model.eval()
    try:
        rec = model.reconstruct(x.to(model.device), y.to(model.device) if y is not None else None).cpu()
    finally:
        model.train(was_training)
    return make_grid(torch.cat([x, rec]), ncols=len(indices))
