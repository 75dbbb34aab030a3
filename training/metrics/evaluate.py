"""Test-set metrics: per-pixel BCE of posterior-mean reconstructions, and the ELBO in nats."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.models.likelihoods import bits_per_dim


@dataclass(frozen=True)
class EvalMetrics:
    """bce: mean per-pixel BCE of decode(μ); neg_elbo and kl in nats per image (VAE/CVAE, β = 1).

    bce and kl are exact for the test images (no sampling). neg_elbo uses one sample z per
    image, so it carries Monte-Carlo noise: `neg_elbo_se` is its standard error (None in files
    written before it was measured).
    """

    bce: float
    neg_elbo: float | None = None
    kl: float | None = None
    n: int = 0
    neg_elbo_se: float | None = None
    # −ELBO in bits per dimension, for a likelihood of the 8-bit values (the discretised
    # logistic): comparable with published bits/dim. None for the others (and older files).
    bits_per_dim: float | None = None
    likelihood: str = "bernoulli"  # p(x|z): what `bce` is the negative log of, per value

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.bits_per_dim is None:  # files as before likelihoods existed
            del d["bits_per_dim"]
        if self.likelihood == "bernoulli":
            del d["likelihood"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "EvalMetrics":
        values: dict[str, Any] = {k: d.get(k) for k in ("bce", "neg_elbo", "kl", "neg_elbo_se",
                                                        "bits_per_dim")}
        return cls(**values, n=int(d.get("n", 0)), likelihood=d.get("likelihood") or "bernoulli")

    @property
    def error_name(self) -> str:
        """What `bce` is: the course's BCE per pixel, or −log p(x|z) per value."""
        return "BCE/pixel" if self.likelihood == "bernoulli" else "-log p(x|z)/value"

    def summary(self) -> str:
        s = f"{self.error_name} {self.bce:.4f}"
        if self.neg_elbo is not None:
            s += f", -ELBO {with_error(self.neg_elbo, self.neg_elbo_se)} nats, KL {self.kl:.1f} nats"
        if self.bits_per_dim is not None:
            s += f" ({self.bits_per_dim:.3f} bits/dim)"
        return s


def with_error(value: float, se: float | None, digits: int = 1) -> str:
    """'104.3 ± 0.12': a Monte-Carlo estimate with its standard error (two significant digits,
    and the value to the same decimals, at least `digits`); just the value when se is None."""
    if se is None or not math.isfinite(se) or not math.isfinite(value):
        return f"{value:.{digits}f}"
    if se <= 0:
        return f"{value:.{digits}f} ± 0"
    decimals = max(digits, 1 - math.floor(math.log10(se)))
    return f"{value:.{decimals}f} ± {se:.{decimals}f}"


# Monte-Carlo standard errors. A one-sample estimate per image, f_i(ε), averaged over n images,
# has variance Σ Var_ε f_i / n². Var_ε f_i is estimated from a second, independent draw ε' as
# (f_i(ε) − f_i(ε'))² / 2, so the error comes from the per-image spread of the two draws, at the
# cost of one more decode; the reported value is still the first draw's.
SE_SEED = 1_000_003  # the second draw's seed: independent of the value's (seed 0 by default)
# The z of the one-sample KL of a prior without an analytic one (the VampPrior's), independent of
# the reconstruction's ε; unused for N(0, I), whose KL is exact.
KL_SEED = 2_000_003


def sampled_recon(model: LatentModel, post, x: "torch.Tensor", y, generator) -> "torch.Tensor":
    """−log p(x|z) per image (n,), float64, for one z = μ + σ·ε per image with ε drawn from
    `generator` exactly as `model(x, y, generator)` draws it: the ELBO's Monte-Carlo term."""
    z = post.mean + torch.exp(post.log_sigma) * model._noise(tuple(post.mean.shape), generator)
    return model.log_px(model.decode_logits(z, y), x).neg_().double()


def _paired_se(first: "torch.Tensor", second: "torch.Tensor") -> float:
    """Standard error of mean(first) from the per-image differences of two independent draws;
    first and second are the per-image sums (n,) of all batches, float64."""
    n = first.numel()
    return math.sqrt(float(((first - second) ** 2).sum()) / 2) / n if n else math.nan


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
    """Metrics on a Split (images uint8 (N, C, H, W), labels), in eval mode, on the model's
    device. `bce` is −log p(x|z) per value (the course's BCE per pixel for the Bernoulli)."""
    was_training = model.training
    model.eval()
    dev = model.device
    n = len(split)
    bce_sum = 0.0  # summed over pixels and images, for the posterior-mean reconstruction
    kl_sum = 0.0
    rec_first, rec_second = [], []  # per image: BCE of one reparametrised sample, two draws
    gen = torch.Generator(device=dev).manual_seed(0)  # fixed ε: metrics are repeatable
    gen_se = torch.Generator(device=dev).manual_seed(SE_SEED)
    gen_kl = torch.Generator(device=dev).manual_seed(KL_SEED)  # a prior without analytic KL
    for i in range(0, n, batch_size):
        x = split.images[i : i + batch_size].to(dev).float().div_(255).flatten(1)
        y = split.labels[i : i + batch_size].to(dev) if model.config.is_conditional else None
        post = model.encode(x, y)
        bce_sum -= model.log_px(model.decode_logits(post.mean, y), x).double().sum().item()
        if post.log_sigma is not None:
            # The ELBO's Monte-Carlo term: the same ε `model(x, y, gen)` would draw, from the
            # posterior already encoded (one encoder pass, not two).
            rec_first.append(sampled_recon(model, post, x, y, gen))
            rec_second.append(sampled_recon(model, post, x, y, gen_se))
            kl_sum += model.kl_to_prior(post, gen_kl).sum().item()
    model.train(was_training)
    pixels = model.config.n_pixels
    if n == 0:
        return EvalMetrics(math.nan, n=0)
    lik = model.config.likelihood
    if not model.config.is_variational:
        return EvalMetrics(bce_sum / (n * pixels), n=n, likelihood=lik)
    first, second = torch.cat(rec_first), torch.cat(rec_second)
    elbo_rec_sum = float(first.sum())
    neg_elbo = (elbo_rec_sum + kl_sum) / n
    bpd = bits_per_dim(neg_elbo, pixels) if model.config.likelihood_spec.discrete else None
    return EvalMetrics(bce_sum / (n * pixels), neg_elbo, kl_sum / n, n=n,
                       neg_elbo_se=_paired_se(first, second), bits_per_dim=bpd, likelihood=lik)


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


@dataclass(frozen=True)
class Estimate:
    """A Monte-Carlo estimate and its standard error (same units)."""

    value: float
    se: float

    def __str__(self) -> str:
        return with_error(self.value, self.se, 2)


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
    `iw_bound_estimate` gives its Monte-Carlo standard error too.
    """
    return iw_bound_estimate(model, split, k, batch_size, binarize, seed).value


def jackknife_var(log_w: "torch.Tensor") -> "torch.Tensor":
    """Per image (b,), the jackknife variance of log(1/k Σ w) over its k samples (log_w (k, b),
    float64): from the k leave-one-out bounds log(1/(k−1) Σ_{i≠j} w_i), no extra samples."""
    k = log_w.shape[0]
    top = log_w.max(0).values
    w = (log_w - top).exp()  # ≤ 1: the sums below cannot overflow
    total = w.sum(0)
    loo = torch.log((total - w).clamp_(min=torch.finfo(torch.float64).tiny)) - math.log(k - 1)
    return (k - 1) / k * ((loo - loo.mean(0)) ** 2).sum(0)


@torch.no_grad()
def iw_bound_estimate(model: LatentModel, split, k: int, batch_size: int = 1000,
                      binarize: bool = False, seed: int = 0) -> Estimate:
    """`importance_weighted_bound` and its Monte-Carlo standard error.

    k = 1: from a second draw per image (see `_paired_se`). k ≥ 2: per image, the jackknife
    over its k samples (`jackknife_var`), so no extra samples are drawn. It is an estimate
    itself: with heavy-tailed weights (a poor encoder) it can be low.
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
    gen_se = torch.Generator(device=dev).manual_seed(SE_SEED + seed)
    gen_kl = torch.Generator(device=dev).manual_seed(KL_SEED + seed)
    images = binarized(split.images) if binarize else split.images
    total, var_sum = 0.0, 0.0
    firsts, seconds = [], []
    nz = model.config.nz
    for i in range(0, n, per_pass):
        x = _test_images(images, i, per_pass, dev)
        b = x.shape[0]
        y = split.labels[i : i + per_pass].to(dev) if model.config.is_conditional else None
        post = model.encode(x, y)
        if k == 1:
            rec = sampled_recon(model, post, x, y, gen)
            firsts.append(rec)
            seconds.append(sampled_recon(model, post, x, y, gen_se))
            total += float(rec.sum()) + model.kl_to_prior(post, gen_kl).sum().item()
            continue
        assert post.log_sigma is not None  # a variational model's posterior
        eps = torch.randn((k, b, nz), generator=gen, device=dev)
        sigma = post.log_sigma.exp()
        z = post.mean + sigma * eps  # (k, b, nz)
        yk = y.repeat(k) if y is not None else None
        logits = model.decode_logits(z.reshape(k * b, nz), yk)
        log_px_z = model.log_px(logits, x.repeat(k, 1)).view(k, b)
        log_pz = model.log_prior(z)  # (k, b): −½(‖z‖² + nz·log 2π) for N(0, I)
        log_qz = -0.5 * (eps.pow(2).sum(2) + nz * _LOG_2PI) - post.log_sigma.sum(1)
        log_w = (log_px_z + log_pz - log_qz).double()  # (k, b)
        total -= (torch.logsumexp(log_w, 0) - math.log(k)).sum().item()
        var_sum += float(jackknife_var(log_w).sum())
    model.train(was_training)
    if not n:
        return Estimate(math.nan, math.nan)
    if k == 1:
        return Estimate(total / n, _paired_se(torch.cat(firsts), torch.cat(seconds)))
    return Estimate(total / n, math.sqrt(var_sum) / n)


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
    # Monte-Carlo standard error of the distortion (one sample per image); the rate is exact,
    # so it is also the −ELBO's. None where it was not measured.
    distortion_se: float | None = None

    @property
    def neg_elbo(self) -> float:
        return self.rate + self.distortion

    @classmethod
    def from_metrics(cls, metrics: EvalMetrics) -> "RateDistortion":
        """R and D read off `evaluate`'s metrics (kl is the rate, −ELBO − KL the distortion)."""
        if metrics.neg_elbo is None or metrics.kl is None:
            raise ValueError("an AE's metrics have no rate or distortion")
        return cls(metrics.kl, metrics.neg_elbo - metrics.kl, n=metrics.n,
                   distortion_se=metrics.neg_elbo_se)


ACTIVE_DIM_NATS = 0.01
ACTIVE_UNIT_VARIANCE = 0.01  # for a prior without a per-dimension KL (Burda et al. 2016)


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
    gen_se = torch.Generator(device=dev).manual_seed(SE_SEED + seed)
    dist_sum = 0.0
    firsts, seconds = [], []
    kl_dims = torch.zeros(model.config.nz, dtype=torch.float64, device=dev)
    analytic = model.config.prior_spec.closed_form
    gen_kl = torch.Generator(device=dev).manual_seed(KL_SEED + seed)
    kl_sum = 0.0
    means = []
    for i in range(0, n, batch_size):
        x = _test_images(split.images, i, batch_size, dev)
        y = split.labels[i : i + batch_size].to(dev) if model.config.is_conditional else None
        post = model.encode(x, y)
        rec = sampled_recon(model, post, x, y, gen)
        firsts.append(rec)
        seconds.append(sampled_recon(model, post, x, y, gen_se))
        dist_sum += float(rec.sum())
        if analytic:
            assert post.log_sigma is not None  # a variational model's posterior
            per_dim = 0.5 * (post.mean.pow(2) + torch.exp(2 * post.log_sigma) - 1
                             - 2 * post.log_sigma)
            kl_dims += per_dim.sum(0).double()
        else:
            kl_sum += model.kl_to_prior(post, gen_kl).sum().item()
            means.append(post.mean.double().cpu())
    model.train(was_training)
    if n == 0:
        return RateDistortion(math.nan, math.nan, 0, (), 0)
    if analytic:
        kl_per_dim = (kl_dims / n).tolist()
        rate, active = sum(kl_per_dim), sum(1 for v in kl_per_dim if v > ACTIVE_DIM_NATS)
    else:
        # No per-dimension KL to a mixture prior: a dimension is active when the posterior
        # means vary over the data (Burda et al. 2016's activity, Cov_x E_q[z_u] > 0.01).
        kl_per_dim = []
        spread = torch.cat(means).var(0) if n > 1 else torch.zeros(model.config.nz)
        rate, active = kl_sum / n, int((spread > ACTIVE_UNIT_VARIANCE).sum())
    return RateDistortion(rate, dist_sum / n, active, tuple(kl_per_dim), n,
                          distortion_se=_paired_se(torch.cat(firsts), torch.cat(seconds)))
