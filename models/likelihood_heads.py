"""The likelihood heads behind `models/likelihoods.py`: p(x | z) as an `nn.Module` a model holds.

A head reads the decoder's raw output `out`, (n, params_per_value · D), and the data x in [0, 1],
(n, D): `log_prob(out, x)` is log p(x | z) of each image in nats, summed over its D values;
`mean(out)` is the likelihood's mean in [0, 1] (what the panels show); `sample(out)` a draw in
[0, 1]. Two outputs per value are laid out as [D first parameters | D second ones], which is
what a conv decoder with 2C output channels (C for the first) gives once flattened.
Only the gaussian's head holds a parameter; the others add no state_dict keys, so checkpoints
written before likelihoods existed load into a bernoulli model unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOG_2PI = math.log(2 * math.pi)


def _flat(out: Tensor, x: Tensor, params_per_value: int) -> tuple[Tensor, Tensor]:
    """Both as (n, ·), checked against each other: a wrong decoder width must not broadcast."""
    out, x = out.flatten(1), x.flatten(1)
    if out.shape != (x.shape[0], params_per_value * x.shape[1]):
        raise ValueError(f"decoder output {tuple(out.shape)} does not give {params_per_value} "
                         f"parameter(s) for each of the {x.shape[1]} values of {x.shape[0]} images")
    return out, x


def _uniform(like: Tensor, generator: torch.Generator | None) -> Tensor:
    """U(0, 1) kept off the ends, where the inverse CDFs below are infinite."""
    u = torch.rand(like.shape, generator=generator, device=like.device, dtype=like.dtype)
    tiny = torch.finfo(like.dtype).eps
    return u.clamp(tiny, 1 - tiny)


class LikelihoodHead(nn.Module):
    """p(x | z) from the decoder's output; see the module."""

    params_per_value = 1

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        raise NotImplementedError

    def mean(self, out: Tensor) -> Tensor:
        raise NotImplementedError

    def sample(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError


class BernoulliHead(LikelihoodHead):
    """out = logits; log p = −BCE from the logits (softplus form: no log(0) at saturated
    sigmoids). For grey values it is not a density: the normaliser C(λ) is missing."""

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        out, x = _flat(out, x, 1)
        return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out.flatten(1))

    def sample(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return torch.bernoulli(torch.sigmoid(out.flatten(1)), generator=generator)


# Below this |logit| the closed forms of the continuous Bernoulli divide ~0 by ~0; their Taylor
# series in u = η/2 are used instead, to float64 precision (the first term left out is < 1e-18
# there). torch cuts at λ in (0.499, 0.501) with a shorter series.
_CB_TAYLOR = 0.1


def continuous_bernoulli_log_norm(logits: Tensor) -> Tensor:
    """log C(λ) of the continuous Bernoulli, elementwise, from its logit η (λ = σ(η)).

    C(λ) = 2 artanh(1 − 2λ) / (1 − 2λ) (Loaiza-Ganem & Cunningham 2019, eq. 7) is η / tanh(η/2)
    in the logit, finite for every η (torch's probs-based form overflows once σ(η) rounds to 1).
    Near η = 0 the series of log(2·u·coth u), u = η/2:
    log 2 + u²/3 − 7u⁴/90 + 62u⁶/2835 − 127u⁸/18900 + 146u¹⁰/66825 − O(u¹²)."""
    a = logits.abs()
    far = a >= _CB_TAYLOR
    a_far = torch.where(far, a, torch.ones_like(a))  # no 0/0 in the branch `where` leaves out
    exact = torch.log(a_far) - torch.log(torch.tanh(a_far / 2))
    u2 = (logits / 2) ** 2
    taylor = math.log(2) + u2 * (1 / 3 + u2 * (-7 / 90 + u2 * (62 / 2835 + u2 * (
        -127 / 18900 + u2 * 146 / 66825))))
    return torch.where(far, exact, taylor)


# On values of exactly 0 or 1 the CB density has no maximum: log p grows as log |η| for ever,
# the decoder's weights with it, until they overflow (a conv VAE on the binary sprites went NaN
# at step 211). The head's λ is σ of the logits held to ±CB_LOGIT_LIMIT (λ within 1e-13 of 0
# or 1): a proper density still, which past the limit nothing pushes further.
CB_LOGIT_LIMIT = 30.0


def _cb_logits(out: Tensor) -> Tensor:
    return out.clamp(-CB_LOGIT_LIMIT, CB_LOGIT_LIMIT)


class ContinuousBernoulliHead(LikelihoodHead):
    """out = logits η; log p(x) = x log λ + (1 − x) log(1 − λ) + log C(λ) = −BCE + log C(λ),
    a proper density on [0, 1] (`torch.distributions.ContinuousBernoulli`, computed from the
    logits so it stays finite for large |η|)."""

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        out, x = _flat(out, x, 1)
        out = _cb_logits(out)
        bernoulli = -F.binary_cross_entropy_with_logits(out, x, reduction="none")
        return (bernoulli + continuous_bernoulli_log_norm(out)).sum(1)

    def mean(self, out: Tensor) -> Tensor:
        """E[x] = λ/(2λ − 1) + 1/(2 artanh(1 − 2λ)) = ½ + ½ (coth u − 1/u), u = η/2 (the
        Langevin function); near 0 its series u/3 − u³/45 + 2u⁵/945 − u⁷/4725 + 2u⁹/93555.
        Not λ: a CB's λ = 0.9 has mean 0.72."""
        eta = _cb_logits(out.flatten(1))
        far = eta.abs() >= _CB_TAYLOR
        u = torch.where(far, eta, torch.ones_like(eta)) / 2
        v, v2 = eta / 2, (eta / 2) ** 2
        series = v * (1 / 3 + v2 * (-1 / 45 + v2 * (2 / 945 + v2 * (-1 / 4725 + v2 * 2 / 93555))))
        langevin = torch.where(far, 1 / torch.tanh(u) - 1 / u, series)
        return 0.5 + 0.5 * langevin

    def sample(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Inverse CDF: p(x) ∝ e^(ηx) on [0, 1], so F(x) = expm1(ηx) / expm1(η) and
        x = log1p(v·expm1(η)) / η, for η > 0 as 1 + log(v + (1 − v)e^(−η)) / η (no overflow)."""
        eta = _cb_logits(out.flatten(1))
        v = _uniform(eta, generator)
        small = eta.abs() < 1e-3
        e = torch.where(small, torch.ones_like(eta), eta)
        neg = torch.log1p(v * torch.expm1(e.clamp(max=0))) / e
        pos = 1 + torch.log(v + (1 - v) * torch.exp(-e.clamp(min=0))) / e
        near = v + eta * v * (1 - v) / 2  # first order in η
        return torch.where(small, near, torch.where(e > 0, pos, neg)).clamp(0, 1)


class DiscretizedLogisticHead(LikelihoodHead):
    """The discretised logistic of 8-bit values (Kingma et al. 2016, IAF; Salimans et al. 2017,
    PixelCNN++), one logistic per value (PixelCNN++'s mixture of K is left out).

    out = [location | log-scale]. x in [0, 1] maps to y = 2x − 1 in [−1, 1], whose 256 values
    are the centres of bins of width 2/255; the first and last bins take the tails (CDF from −∞,
    to +∞), so the 256 probabilities sum to 1. The location goes through tanh, so it always lies
    in the data's range [−1, 1] (PixelCNN++ leaves it unconstrained and clips its samples); the
    log-scale is clamped below at −7 as PixelCNN++ does.

    Stability: log(σ(a) − σ(b)) with d = a − b > 0 is computed in closed form as
    −softplus(−b) − softplus(a) + log(expm1(d)), each term finite for every a, b, so no mid-bin
    density fallback (PixelCNN++'s `log_pdf_mid − log 127.5` where the CDF difference < 1e-5)
    is needed: this is exact where that one is an approximation.
    """

    params_per_value = 2
    MIN_LOG_SCALE = -7.0  # PixelCNN++: tf.maximum(log_scales, -7.)
    HALF_BIN = 1 / 255  # half of a bin's width 2/255 in [−1, 1]

    def parameters_of(self, out: Tensor) -> tuple[Tensor, Tensor]:
        """(location in (−1, 1), log-scale ≥ −7) from the decoder's output, each (n, D)."""
        loc, log_scale = out.flatten(1).chunk(2, dim=1)
        return torch.tanh(loc), log_scale.clamp(min=self.MIN_LOG_SCALE)

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        out, x = _flat(out, x, 2)
        loc, log_scale = self.parameters_of(out)
        inv_scale = torch.exp(-log_scale)
        centred = 2 * x - 1 - loc
        upper = inv_scale * (centred + self.HALF_BIN)  # a: the bin's upper edge, standardised
        lower = inv_scale * (centred - self.HALF_BIN)  # b
        log_cdf_upper = -F.softplus(-upper)  # log σ(a): the first bin, from −∞
        log_sf_lower = -F.softplus(lower)  # log(1 − σ(b)): the last bin, to +∞
        d = 2 * self.HALF_BIN * inv_scale  # a − b, at most 2/255·e^7 ≈ 8.6
        # log expm1(d) = log d + log(expm1(d)/d); log d from the log-scale, so no underflow of d
        d_safe = torch.where(d > 1e-3, d, torch.ones_like(d))
        log_ratio = torch.where(d > 1e-3, torch.log(torch.expm1(d_safe) / d_safe), d / 2 + d * d / 24)
        log_expm1_d = math.log(2 * self.HALF_BIN) - log_scale + log_ratio
        interior = -F.softplus(-lower) - F.softplus(upper) + log_expm1_d
        k = x * 255
        return torch.where(k < 0.5, log_cdf_upper,
                           torch.where(k > 254.5, log_sf_lower, interior)).sum(1)

    def mean(self, out: Tensor) -> Tensor:
        """E[clip(y, −1, 1)] of the logistic before binning, in [0, 1]: within half a grey level
        (1/510) of the binned mean, and equal to it as s ≫ 2/255.

        The binned mean is (1/255) Σ_{k=1..255} σ((loc − e_k)/s) over the bin edges e_k, a
        midpoint sum of ∫_{−1}^{1} σ((loc − e)/s) de / 2 = (s/2)[softplus(a) − softplus(b)],
        a, b = (loc ± 1)/s; a monotone integrand of total change ≤ 1 keeps the midpoint rule
        within half a step. The sum itself costs 255 sigmoids a value (0.6 s for 64 × 3072 on
        two CPU cores), too slow for panels that redraw as the mouse moves."""
        loc, log_scale = self.parameters_of(out)
        inv_scale = torch.exp(-log_scale)
        d = 2 * inv_scale  # a − b
        a, b = (loc + 1) * inv_scale, (loc - 1) * inv_scale
        direct = (F.softplus(a) - F.softplus(b)) / d.clamp(min=1)
        # for a ≈ b (s ≫ 1) the two softplus values cancel: softplus(a) − softplus(b)
        # = log1p(σ(b)·expm1(a − b)), and σ(loc/s) once d underflows
        close = torch.log1p(torch.sigmoid(b) * torch.expm1(d.clamp(max=1))) / d.clamp(min=1e-30)
        flat = torch.sigmoid(loc * inv_scale)
        return torch.where(d > 1, direct, torch.where(d > 1e-6, close, flat))

    def sample(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A logistic draw loc + s·logit(v), binned to the nearest of the 256 values."""
        loc, log_scale = self.parameters_of(out)
        v = _uniform(loc, generator)
        y = loc + torch.exp(log_scale) * (torch.log(v) - torch.log1p(-v))
        return torch.round((y.clamp(-1, 1) + 1) * 127.5) / 255


class GaussianHead(LikelihoodHead):
    """N(mean, σ²) with one learned σ shared by all values: the σ-VAE's calibrated decoder
    (Rybkin, Daniilidis & Levine, "Simple and effective VAE training with calibrated
    decoders", ICML 2021). out goes through a sigmoid, so the mean lies in [0, 1] like the
    data (and like the Bernoulli's, from the same decoder); σ is not a per-channel vector
    because `Likelihood.build()` has no channel count.

    log σ = −6 + softplus(θ − (−6)), the σ-VAE code's `softclip(log_sigma, -6)`: σ cannot fall
    to 0 and make the density unbounded. It starts at σ = 0.1, not the σ-VAE code's σ = 1:
    0.1 is about the residual of a trained MNIST decoder, and σ = 1 would weight the squared
    error 100× below where it ends, so the KL dominates the first thousands of Adam steps
    (σ moves by ~lr per step) and the posterior can collapse before σ has fallen.
    """

    MIN_LOG_SIGMA = -6.0
    INIT_SIGMA = 0.1

    def __init__(self) -> None:
        super().__init__()
        # softclip⁻¹(log 0.1) so that the effective log σ starts at exactly log 0.1
        start = self.MIN_LOG_SIGMA + math.log(math.expm1(math.log(self.INIT_SIGMA) - self.MIN_LOG_SIGMA))
        self.log_sigma_raw = nn.Parameter(torch.tensor(start))

    @property
    def log_sigma(self) -> Tensor:
        return self.MIN_LOG_SIGMA + F.softplus(self.log_sigma_raw - self.MIN_LOG_SIGMA)

    @property
    def sigma(self) -> Tensor:
        """σ for logs, panels and tests (detached: `log_prob` trains it through `log_sigma`)."""
        return torch.exp(self.log_sigma).detach()

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        out, x = _flat(out, x, 1)
        log_sigma = self.log_sigma
        z = (x - torch.sigmoid(out)) * torch.exp(-log_sigma)
        return (-0.5 * (z * z + LOG_2PI) - log_sigma).sum(1)

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out.flatten(1))

    def sample(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """mean + σ·ε, clipped to [0, 1] (the density itself lives on the reals)."""
        mean = self.mean(out)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return (mean + self.sigma * noise).clamp(0, 1)


__all__ = ["BernoulliHead", "ContinuousBernoulliHead", "DiscretizedLogisticHead", "GaussianHead",
           "LikelihoodHead", "continuous_bernoulli_log_norm"]
