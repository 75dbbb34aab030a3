"""The prior modules behind `models/priors.py`: p(z) as an `nn.Module` a `LatentModel` holds.

A prior answers four questions, each given the model (the VampPrior encodes its pseudo-inputs
with the model's own encoder): `log_prob(z)` over the last dimension, `sample(n)`, `kl(post)`
per row (analytic where `closed_form`, else the one-sample estimate log q(z|x) − log p(z) at
a z drawn from the posterior), and `init_from_data(images)` before training.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import torch
from torch import Tensor, nn

# The model and its posterior, as these methods see them: models.autoencoders imports this
# module, so it is not imported back, even for typing (no import circles).
Posterior = Any  # a models.autoencoders.Posterior: (mean, log_sigma)


class LatentModel(Protocol):
    """What these methods use of a models.autoencoders.LatentModel."""

    config: Any  # its ModelConfig

    def encode(self, x: Tensor) -> Posterior: ...
    def _noise(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor: ...

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mean: Tensor, log_sigma: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) summed over latent dimensions, one value per row.

    Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014, appendix B:
    -KL = ½ Σ (1 + log σ² − μ² − σ²).
    """
    return 0.5 * (mean.pow(2) + torch.exp(2 * log_sigma) - 1 - 2 * log_sigma).sum(dim=1)


def gaussian_log_prob(z: Tensor, mean: Tensor, log_sigma: Tensor) -> Tensor:
    """log N(z; μ, σ²) summed over the last dimension."""
    return (-0.5 * (((z - mean) * torch.exp(-log_sigma)).pow(2) + LOG_2PI) - log_sigma).sum(-1)


class Prior(nn.Module):
    """p(z); see the module."""

    closed_form = True

    def log_prob(self, z: Tensor, model: LatentModel) -> Tensor:
        raise NotImplementedError

    def sample(self, n: int, model: LatentModel, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def codes(self, noise: Tensor, model: LatentModel) -> Tensor:
        """Prior codes from fixed standard-normal noise (see LatentModel.prior_codes)."""
        raise NotImplementedError

    def kl(self, post: Posterior, model: LatentModel,
           generator: torch.Generator | None = None) -> Tensor:
        """KL(q(z|x) ‖ p(z)) per row: analytic, or a one-sample estimate drawn from `generator`."""
        z = post.mean + torch.exp(post.log_sigma) * model._noise(tuple(post.mean.shape), generator)
        return self.kl_at(post, z, model)

    def kl_at(self, post: Posterior, z: Tensor, model: LatentModel) -> Tensor:
        """The KL term at a z already drawn from the posterior (training's reparametrised z)."""
        return gaussian_log_prob(z, post.mean, post.log_sigma) - self.log_prob(z, model)

    def init_from_data(self, images: Tensor, generator: torch.Generator | None = None) -> None:
        """Before training: set what starts from the data (nothing for N(0, I))."""


class StandardNormal(Prior):
    """N(0, I): the course's prior. Holds no parameters (its models' files are unchanged)."""

    def __init__(self, config=None) -> None:
        super().__init__()

    def log_prob(self, z: Tensor, model: LatentModel) -> Tensor:
        return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * LOG_2PI)

    def sample(self, n: int, model: LatentModel, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> Tensor:
        return model._noise((n, model.config.nz), generator) * temperature

    def codes(self, noise: Tensor, model: LatentModel) -> Tensor:
        return noise

    def kl(self, post: Posterior, model: LatentModel,
           generator: torch.Generator | None = None) -> Tensor:
        return gaussian_kl(post.mean, post.log_sigma)

    def kl_at(self, post: Posterior, z: Tensor, model: LatentModel) -> Tensor:
        return gaussian_kl(post.mean, post.log_sigma)  # analytic: the z is not needed


class VampPrior(Prior):
    """p(z) = 1/K Σ_k q(z | u_k) for K learned pseudo-inputs u_k = sigmoid(pseudo_logits_k).

    Tomczak & Welling, "VAE with a VampPrior", AISTATS 2018. Sampling a temperature T scales
    each component's σ (T = 1: the prior itself)."""

    closed_form = False

    def __init__(self, config) -> None:
        super().__init__()
        self.pseudo_logits = nn.Parameter(torch.zeros(config.pseudo_inputs, config.n_pixels))

    @property
    def n_components(self) -> int:
        return int(self.pseudo_logits.shape[0])

    def pseudo_inputs(self) -> Tensor:
        """The pseudo-inputs as images in [0, 1], (K, n_pixels)."""
        return torch.sigmoid(self.pseudo_logits)

    def components(self, model: LatentModel) -> tuple[Tensor, Tensor]:
        """(μ, log σ) of every component, float32 (K, nz): the model's posteriors of u_k."""
        post = model.encode(self.pseudo_inputs())
        return post.mean.float(), post.log_sigma.float()

    def log_prob(self, z: Tensor, model: LatentModel) -> Tensor:
        mean, log_sigma = self.components(model)
        lead = z.shape[:-1]
        flat = z.reshape(-1, 1, z.shape[-1]).float()
        lp = gaussian_log_prob(flat, mean[None], log_sigma[None])  # (n, K)
        return (torch.logsumexp(lp, 1) - math.log(self.n_components)).reshape(lead)

    def sample(self, n: int, model: LatentModel, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> Tensor:
        mean, log_sigma = self.components(model)
        dev = generator.device if generator is not None else mean.device
        k = torch.randint(0, self.n_components, (n,), generator=generator, device=dev)
        k = k.to(mean.device)
        eps = model._noise((n, model.config.nz), generator)
        return mean[k] + temperature * torch.exp(log_sigma[k]) * eps

    def codes(self, noise: Tensor, model: LatentModel) -> Tensor:
        mean, log_sigma = self.components(model)
        k = torch.arange(noise.shape[0], device=mean.device) % self.n_components
        return mean[k] + torch.exp(log_sigma[k]) * noise.to(mean.device, mean.dtype)

    @torch.no_grad()
    def init_from_data(self, images: Tensor, generator: torch.Generator | None = None) -> None:
        """Start the pseudo-inputs as K distinct training images (repeats when there are fewer),
        drawn from `generator`; grey levels kept off 0 and 1 so their logits stay finite."""
        n = images.shape[0]
        if n == 0:
            return
        dev = generator.device if generator is not None else torch.device("cpu")
        k = self.n_components
        idx = (torch.randperm(n, generator=generator, device=dev)[:k] if n >= k
               else torch.randint(0, n, (k,), generator=generator, device=dev))
        picked = images[idx.to(images.device)].reshape(self.n_components, -1).float()
        if picked.max() > 1:  # uint8 grey levels
            picked = picked / 255
        u = picked.clamp(0.02, 0.98).to(self.pseudo_logits.device)
        self.pseudo_logits.copy_(torch.log(u) - torch.log1p(-u))


__all__ = ["LOG_2PI", "Prior", "StandardNormal", "VampPrior", "gaussian_kl", "gaussian_log_prob"]
