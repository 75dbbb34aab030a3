"""Test-set metrics: per-pixel BCE of posterior-mean reconstructions, and the ELBO in nats."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from models.autoencoders import LatentModel, gaussian_kl


@dataclass(frozen=True)
class EvalMetrics:
    """bce: mean per-pixel BCE of decode(μ); neg_elbo and kl in nats per image (VAE/CVAE, β = 1)."""

    bce: float
    neg_elbo: float | None = None
    kl: float | None = None
    n: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EvalMetrics":
        return cls(**{k: d.get(k) for k in ("bce", "neg_elbo", "kl")}, n=int(d.get("n", 0)))

    def summary(self) -> str:
        s = f"BCE/pixel {self.bce:.4f}"
        if self.neg_elbo is not None:
            s += f", -ELBO {self.neg_elbo:.1f} nats, KL {self.kl:.1f} nats"
        return s


class NonFiniteMetrics(ValueError):
    """Test metrics came out NaN or infinite: the model's outputs are not usable numbers."""


def require_finite(metrics: EvalMetrics, what: str) -> EvalMetrics:
    """`metrics` if every value is finite, else NonFiniteMetrics naming `what` and the likely cause."""
    values = {"BCE/pixel": metrics.bce, "-ELBO": metrics.neg_elbo, "KL": metrics.kl}
    bad = [f"{k} {v}" for k, v in values.items() if v is not None and not math.isfinite(v)]
    if not bad:
        return metrics
    if metrics.n == 0:
        raise NonFiniteMetrics(f"{what}: no test images to evaluate on")
    # Finite weights (load_checkpoint checks that) can still overflow the logits when they are
    # huge: a file changed where no checksum could see it, or a run that diverged.
    raise NonFiniteMetrics(
        f"{what}: the test metrics are not finite ({', '.join(bad)}): the model's outputs "
        f"overflow, so its weights are likely corrupted or diverged in training")


@torch.no_grad()
def evaluate(model: LatentModel, split, batch_size: int = 1000) -> EvalMetrics:
    """Metrics on a Split (images uint8 N×28×28, labels), in eval mode, on the model's device."""
    was_training = model.training
    model.eval()
    dev = model.device
    n = len(split)
    bce_sum = 0.0  # summed over pixels and images, for the posterior-mean reconstruction
    elbo_rec_sum = 0.0  # summed BCE of one reparametrised sample (the ELBO's Monte-Carlo term)
    kl_sum = 0.0
    gen = torch.Generator(device=dev).manual_seed(0)  # fixed ε: metrics are repeatable
    for i in range(0, n, batch_size):
        x = split.images[i : i + batch_size].to(dev).float().div_(255).flatten(1)
        y = split.labels[i : i + batch_size].to(dev) if model.config.is_conditional else None
        post = model.encode(x, y)
        bce_sum += F.binary_cross_entropy_with_logits(
            model.decode_logits(post.mean, y), x, reduction="sum").item()
        if post.log_sigma is not None:
            logits, post = model(x, y, gen)
            elbo_rec_sum += F.binary_cross_entropy_with_logits(logits, x, reduction="sum").item()
            kl_sum += gaussian_kl(post.mean, post.log_sigma).sum().item()
    model.train(was_training)
    pixels = model.config.n_pixels
    if n == 0:
        return EvalMetrics(math.nan, n=0)
    if not model.config.is_variational:
        return EvalMetrics(bce_sum / (n * pixels), n=n)
    return EvalMetrics(bce_sum / (n * pixels), (elbo_rec_sum + kl_sum) / n, kl_sum / n, n=n)


# -- likelihood bounds and the rate–distortion plane -----------------------------------------
# Convention for every figure below: nats per image under the model's Bernoulli likelihood of
# the [0, 1] grey levels, log p(x|z) = −Σ BCE(x, decode_logits(z)). Grey levels are not binary,
# so this is not a density of the data and these nats are not comparable with published
# binarised-MNIST NLLs (~85–90 nats); `binarize=True` evaluates on dynamically binarised
# images x ~ Bernoulli(grey) instead, which is that comparison (label it so).

BINARIZE_SEED = 1234  # fixed: every model and every `seed` sees the same binarised images

_LOG_2PI = math.log(2 * math.pi)


def binarized(images: torch.Tensor, seed: int = BINARIZE_SEED) -> torch.Tensor:
    """Dynamically binarised copies of uint8 images: pixel ~ Bernoulli(grey / 255), as uint8
    0 or 255, drawn on the CPU from `seed` (the same images on every device)."""
    u = torch.rand(images.shape, generator=torch.Generator().manual_seed(seed))
    return (u < images.cpu().float().div(255)).to(torch.uint8).mul_(255).to(images.device)


def _test_images(images: torch.Tensor, i: int, batch_size: int, dev) -> torch.Tensor:
    return images[i : i + batch_size].to(dev).float().div_(255).flatten(1)


@torch.no_grad()
def importance_weighted_bound(model: LatentModel, split, k: int, batch_size: int = 1000,
                              binarize: bool = False, seed: int = 0) -> float:
    """Burda et al. (2016) importance-weighted bound, as −log p(x) ≤ this, in nats per image.

    −log (1/k Σᵢ p(x|zᵢ) p(zᵢ) / q(zᵢ|x)), zᵢ ~ q(z|x), averaged over the split. It never
    increases with k on average and tends to −log p(x). k = 1 is the negative ELBO, computed
    with the analytic KL (as `evaluate` does): with the same seed and batch size it is
    `evaluate(...).neg_elbo` exactly. For a CVAE it bounds −log p(x|y). Deterministic for a
    given seed; `batch_size` counts images × samples per forward pass. See the module's
    convention: grey-level nats, unless `binarize` (dynamically binarised images, fixed seed).
    """
    if not model.config.is_variational:
        raise ValueError("an AE has no likelihood bound (it has no posterior or prior)")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    was_training = model.training
    model.eval()
    dev = model.device
    n = len(split)
    per_pass = max(1, batch_size // k)
    gen = torch.Generator(device=dev).manual_seed(seed)
    images = binarized(split.images) if binarize else split.images
    total = 0.0
    nz = model.config.nz
    for i in range(0, n, per_pass):
        x = _test_images(images, i, per_pass, dev)
        b = x.shape[0]
        y = split.labels[i : i + per_pass].to(dev) if model.config.is_conditional else None
        post = model.encode(x, y)
        if k == 1:
            logits, post = model(x, y, gen)
            rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
            total += rec.item() + gaussian_kl(post.mean, post.log_sigma).sum().item()
            continue
        eps = torch.randn((k, b, nz), generator=gen, device=dev)
        sigma = post.log_sigma.exp()
        z = post.mean + sigma * eps  # (k, b, nz)
        yk = y.repeat(k) if y is not None else None
        logits = model.decode_logits(z.reshape(k * b, nz), yk)
        log_px_z = -F.binary_cross_entropy_with_logits(
            logits, x.repeat(k, 1), reduction="none").sum(1).view(k, b)
        log_pz = -0.5 * (z.pow(2).sum(2) + nz * _LOG_2PI)
        log_qz = -0.5 * (eps.pow(2).sum(2) + nz * _LOG_2PI) - post.log_sigma.sum(1)
        log_w = log_px_z + log_pz - log_qz  # (k, b)
        total -= (torch.logsumexp(log_w.double(), 0) - math.log(k)).sum().item()
    model.train(was_training)
    return total / n if n else math.nan


@dataclass(frozen=True)
class RateDistortion:
    """Alemi et al. (2018) rate R = KL(q(z|x) ‖ p(z)) and distortion D = −E_q log p(x|z), nats
    per image (one reparametrised sample per image for D, analytic R), so R + D = −ELBO.

    `active_dims` counts latent dimensions whose mean KL exceeds `ACTIVE_DIM_NATS` (the rest
    were collapsed to the prior and carry no information). Grey-level nats: see the module's
    convention above.
    """

    rate: float
    distortion: float
    active_dims: int = 0
    kl_per_dim: tuple[float, ...] = ()
    n: int = 0

    @property
    def neg_elbo(self) -> float:
        return self.rate + self.distortion

    @classmethod
    def from_metrics(cls, metrics: EvalMetrics) -> "RateDistortion":
        """R and D read off `evaluate`'s metrics (kl is the rate, −ELBO − KL the distortion)."""
        if metrics.neg_elbo is None or metrics.kl is None:
            raise ValueError("an AE's metrics have no rate or distortion")
        return cls(metrics.kl, metrics.neg_elbo - metrics.kl, n=metrics.n)


ACTIVE_DIM_NATS = 0.01


@torch.no_grad()
def rate_distortion(model: LatentModel, split, batch_size: int = 1000,
                    seed: int = 0) -> RateDistortion:
    """Rate, distortion and active dimensions on a split; with the same seed and batch size its
    rate is `evaluate`'s kl and rate + distortion its neg_elbo."""
    if not model.config.is_variational:
        raise ValueError("an AE has no rate or distortion (it has no posterior or prior)")
    was_training = model.training
    model.eval()
    dev = model.device
    n = len(split)
    gen = torch.Generator(device=dev).manual_seed(seed)  # the ε `evaluate` draws
    dist_sum = 0.0
    kl_dims = torch.zeros(model.config.nz, dtype=torch.float64, device=dev)
    for i in range(0, n, batch_size):
        x = _test_images(split.images, i, batch_size, dev)
        y = split.labels[i : i + batch_size].to(dev) if model.config.is_conditional else None
        logits, post = model(x, y, gen)
        dist_sum += F.binary_cross_entropy_with_logits(logits, x, reduction="sum").item()
        per_dim = 0.5 * (post.mean.pow(2) + torch.exp(2 * post.log_sigma) - 1
                         - 2 * post.log_sigma)
        kl_dims += per_dim.sum(0).double()
    model.train(was_training)
    if n == 0:
        return RateDistortion(math.nan, math.nan, 0, (), 0)
    kl_per_dim = (kl_dims / n).tolist()
    return RateDistortion(sum(kl_per_dim), dist_sum / n,
                          sum(1 for v in kl_per_dim if v > ACTIVE_DIM_NATS), tuple(kl_per_dim), n)
