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
