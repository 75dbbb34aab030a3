"""The auto-encoders (AE, β-VAE, CVAE) behind one interface, `LatentModel`; the course's MLPs.

`LatentModel` is the interface every panel, metric and the loop use (encode, decode_logits,
decode, loss, sample, ...) and builds the course's Linear/ReLU chains. Another architecture
(models/conv.py) subclasses it and replaces only `_build`, `_encode_net` and `_decode_net`:
the networks from pixels (+ one-hot) to the encoder's output, and from z (+ one-hot) to logits.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_explorer.models.architectures import DEFAULT_ARCH, Architecture, get_arch
from latent_explorer.models.latent_priors import gaussian_kl
from latent_explorer.models.likelihoods import DEFAULT_LIKELIHOOD, Likelihood, get_likelihood
from latent_explorer.models.priors import DEFAULT_PRIOR, DEFAULT_PSEUDO_INPUTS, PriorSpec, get_prior, prior_problems
from latent_explorer.models.registry import ModelKind, get_kind, kind_names


KINDS: tuple[str, ...]  # declared only: __getattr__ gives it, so it sees kinds registered later


def __getattr__(name: str) -> tuple[str, ...]:
    # KINDS, the old tuple of kind names, now follows the registry (kinds registered later too).
    if name == "KINDS":
        return kind_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one auto-encoder; defaults are the course design."""

    kind: str = "vae"
    nz: int = 32
    hidden: tuple[int, ...] = (256, 64)
    # (C, H, W) of one image; files written before colour existed hold (H, W): grey.
    image_shape: tuple[int, ...] = (1, 28, 28)
    n_classes: int = 10
    beta: float = 0.005
    arch: str = DEFAULT_ARCH  # models/architectures.py; configs written before it are 'mlp'
    # p(z), models/priors.py; configs written before priors existed are the course's N(0, I).
    prior: str = DEFAULT_PRIOR
    pseudo_inputs: int = DEFAULT_PSEUDO_INPUTS  # the VampPrior's K (unused by N(0, I))
    # The conv architecture's channels per stride-2 stage; empty: as its image size needs.
    conv_widths: tuple[int, ...] = ()
    # p(x|z), models/likelihoods.py; files written before likelihoods existed are Bernoulli.
    likelihood: str = DEFAULT_LIKELIHOOD

    def __post_init__(self) -> None:
        get_kind(self.kind)  # ValueError naming the choices
        get_arch(self.arch)
        get_likelihood(self.likelihood)
        problems = prior_problems(self.prior, self.kind, self.pseudo_inputs)
        if problems:
            raise ValueError("; ".join(problems))
        if self.nz < 1:
            raise ValueError(f"nz must be at least 1, got {self.nz}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden sizes must be positive, got {self.hidden}")
        if not (self.beta >= 0 and math.isfinite(self.beta)):
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta}")
        # JSON round trips turn tuples into lists; normalise so configs compare equal.
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "conv_widths", tuple(int(w) for w in self.conv_widths))
        shape = tuple(int(s) for s in self.image_shape)
        if len(shape) == 2:  # (H, W): a file written before colour existed, grey
            shape = (1, *shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"image shape must be (channels, height, width), got {shape}")
        object.__setattr__(self, "image_shape", shape)

    @property
    def n_pixels(self) -> int:
        """Values per image, C·H·W (784 for a 28×28 grey digit)."""
        c, h, w = self.image_shape
        return c * h * w

    @property
    def beta_per_image(self) -> float:
        """β on the per-image scale (summed −log p(x|z) + β'·KL): the course's per-value β times
        C·H·W. 0.005 per pixel is 3.92 per image at 28×28, 20.5 at 64×64."""
        return self.beta * self.n_pixels

    @property
    def channels(self) -> int:
        return self.image_shape[0]

    @property
    def likelihood_spec(self) -> Likelihood:
        return get_likelihood(self.likelihood)

    @property
    def decoder_outputs(self) -> int:
        """The decoder's outputs per image: the likelihood's parameters for every value."""
        return self.likelihood_spec.params_per_value * self.n_pixels

    @property
    def model_kind(self) -> ModelKind:
        return get_kind(self.kind)

    @property
    def architecture(self) -> Architecture:
        return get_arch(self.arch)

    @property
    def prior_spec(self) -> PriorSpec:
        return get_prior(self.prior)

    @property
    def is_variational(self) -> bool:
        return get_kind(self.kind).variational

    @property
    def is_conditional(self) -> bool:
        return get_kind(self.kind).conditional

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["image_shape"] = list(self.image_shape)
        if self.prior == DEFAULT_PRIOR:  # the course's prior: files as before priors existed
            del d["prior"], d["pseudo_inputs"]
        if self.likelihood == DEFAULT_LIKELIHOOD:  # files as before likelihoods existed
            del d["likelihood"]
        if not self.conv_widths:
            del d["conv_widths"]
        else:
            d["conv_widths"] = list(self.conv_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f for f in cls.__dataclass_fields__}
        fields: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v)
                                  for k, v in d.items() if k in known}
        return cls(**fields)


class Posterior(NamedTuple):
    """q(z|x): the mean and, for variational models, log σ (None for an AE)."""

    mean: Tensor
    log_sigma: Tensor | None


class LossParts(NamedTuple):
    """A batch loss and its parts; all scalar tensors."""

    total: Tensor
    recon: Tensor
    kl: Tensor


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def bce_with_logits_rows(logits: Tensor, x: Tensor) -> Tensor:
    """Σ over each row of BCE(sigmoid(logits), x), shape (n,): the same numbers as
    `binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)` to float32 rounding.

    BCE(l, x) = softplus(l) − x·l with softplus(l) = relu(l) − log σ(|l|): exp, log and sums,
    which have vectorised CPU kernels, where torch's BCE runs log1p, which does not (2-3× faster
    on a CPU). σ(|l|) lies in [½, 1], so its log is well conditioned; finite for any logits.
    """
    a = logits.abs()
    rows = (a + logits).mul_(0.5)  # relu(l)
    rows.sub_(torch.sigmoid(a).log_()).sub_(x * logits)
    return rows.sum(1)


class LatentModel(nn.Module):
    """An encoder/decoder pair behind one interface; this class builds the course's MLPs.

    The config's kind fixes what the encoder outputs (μ, or μ and log σ) and whether both
    networks take a label; another architecture overrides `_build`, `_encode_net`,
    `_decode_net` and `reset_parameters`, and keeps the rest.
    """

    def __init__(self, config: ModelConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.config = config
        self._build(config)
        self.reset_parameters(generator)
        # p(x|z) (models/likelihoods.py): the Bernoulli holds no parameters, so the course's
        # files are as they were; a Gaussian's learned σ is the head's own parameter.
        self.likelihood = config.likelihood_spec.build()
        # p(z) (models/priors.py): N(0, I) holds no parameters, so the course's files and
        # initialisation are as they were; a VampPrior's pseudo-inputs come last.
        self.prior = config.prior_spec.build(config)

    @property
    def n_conditions(self) -> int:
        """Length of the one-hot label the networks take (0 for an unconditional kind)."""
        return self.config.n_classes if self.config.is_conditional else 0

    @property
    def encoder_outputs(self) -> int:
        """μ and log σ (2·nz) for a variational kind, μ (nz) for an AE."""
        return 2 * self.config.nz if self.config.is_variational else self.config.nz

    def _build(self, config: ModelConfig) -> None:
        """The course's MLPs: `encoder` and `decoder`, nn.Sequential Linear/ReLU chains (the
        hand-written step in training/engine/fast_step.py reads them)."""
        cond = self.n_conditions
        self.encoder = _mlp([config.n_pixels + cond, *config.hidden, self.encoder_outputs])
        self.decoder = _mlp([config.nz + cond, *reversed(config.hidden), config.decoder_outputs])

    def _encode_net(self, x: Tensor, one_hot: Tensor | None) -> Tensor:
        """The encoder's output (n, encoder_outputs) for images x (n, ...) and their one-hot."""
        h = self._flat(x)
        if one_hot is not None:
            h = torch.cat([h, one_hot], dim=1)
        return self.encoder(h)

    def _decode_net(self, z: Tensor, one_hot: Tensor | None) -> Tensor:
        """Decoder output (n, decoder_outputs) for codes z (n, nz) and their one-hot."""
        if one_hot is not None:
            z = torch.cat([z, one_hot], dim=1)
        return self.decoder(z)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """nn.Linear's default init, drawn from `generator` so seeded runs need no global seed."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(m.in_features)
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)

    # -- helpers -----------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _flat(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)

    def _one_hot(self, y: Tensor | int | None, n: int) -> Tensor | None:
        if not self.config.is_conditional:
            if y is not None:  # a silently ignored label would hide a caller's mistake
                raise ValueError(f"a {self.config.model_kind.label} takes no class label")
            return None
        if y is None:
            raise ValueError("a CVAE needs a class label")
        if not isinstance(y, Tensor):
            y = torch.full((n,), int(y), dtype=torch.long, device=self.device)
        if y.dtype.is_floating_point and y.dim() == 2:
            return y.to(self.device)  # already a (possibly mixed) one-hot
        y = y.to(self.device).long()
        if int(y.min()) < 0 or int(y.max()) >= self.config.n_classes:
            raise ValueError(f"class label must be in 0..{self.config.n_classes - 1}")
        return F.one_hot(y, self.config.n_classes).to(torch.get_default_dtype())

    def _noise(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
        dev = generator.device if generator is not None else self.device
        return torch.randn(shape, generator=generator, device=dev).to(self.device)

    # -- the interface -----------------------------------------------------------------------
    def encode(self, x: Tensor, y: Tensor | int | None = None) -> Posterior:
        """Posterior parameters for images x (any shape with the batch first)."""
        out = self._encode_net(x, self._one_hot(y, x.shape[0]))
        if not self.config.is_variational:
            return Posterior(out, None)
        mean, log_sigma = out.chunk(2, dim=1)
        return Posterior(mean, log_sigma)

    def decode_logits(self, z: Tensor, y: Tensor | int | None = None) -> Tensor:
        """The decoder's raw output, (n, decoder_outputs): the likelihood's parameters (the
        Bernoulli's logits: pre-sigmoid, one per value)."""
        return self._decode_net(z, self._one_hot(y, z.shape[0]))

    def log_px(self, out: Tensor, x: Tensor) -> Tensor:
        """log p(x|z) in nats per image, (n,), for decoder output `out` and images x in [0, 1]
        (any shape with the batch first)."""
        if self.config.likelihood == DEFAULT_LIKELIHOOD:  # the course's, on its fast CPU kernels
            return bce_with_logits_rows(out, self._flat(x)).neg_()
        return self.likelihood.log_prob(out, self._flat(x))

    def recon_error(self, out: Tensor, x: Tensor) -> Tensor:
        """−log p(x|z) per value, (n,): the course's per-pixel mean BCE for the Bernoulli."""
        return self.log_px(out, x).neg_().div_(self.config.n_pixels)

    def mean_image(self, out: Tensor) -> Tensor:
        """The likelihood's mean for decoder output `out`: images in [0, 1], (n, C, H, W)."""
        return self.likelihood.mean(out).reshape(-1, *self.config.image_shape)

    def decode(self, z: Tensor, y: Tensor | int | None = None) -> Tensor:
        """Images in [0, 1] (the likelihood's mean), shape (n, C, H, W)."""
        return self.mean_image(self.decode_logits(z, y))

    def forward(
        self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Posterior]:
        """Decoder logits for a reparametrised sample z = μ + σ·ε, and the posterior."""
        post = self.encode(x, y)
        z = post.mean
        if post.log_sigma is not None:
            z = z + torch.exp(post.log_sigma) * self._noise(tuple(z.shape), generator)
        return self.decode_logits(z, y), post

    def loss(
        self,
        x: Tensor,
        y: Tensor | None = None,
        beta: float | None = None,
        generator: torch.Generator | None = None,
    ) -> LossParts:
        """−log p(x|z) (the course's BCE: mean over values and batch) + β·KL (summed over z, mean
        over batch). β is per value, as the course's 0.005 on a per-pixel mean BCE."""
        beta = self.config.beta if beta is None else beta
        post = self.encode(x, y)  # the steps of forward(), keeping z for a sampled KL
        z = post.mean
        if post.log_sigma is not None:
            z = z + torch.exp(post.log_sigma) * self._noise(tuple(z.shape), generator)
        logits = self.decode_logits(z, y)
        if self.config.likelihood == DEFAULT_LIKELIHOOD:
            # From logits: no log(0) when the sigmoid saturates; torch's fused kernel.
            recon = F.binary_cross_entropy_with_logits(logits, self._flat(x))
        else:
            recon = self.recon_error(logits.float(), x).mean()
        if post.log_sigma is None:
            kl = recon.new_zeros(())
        else:
            # float32 even under bf16 autocast: the KL sums 32 terms that can be large.
            # Analytic for N(0, I); at this z (one sample) for a prior without a closed form.
            f32 = Posterior(post.mean.float(), post.log_sigma.float())
            kl = self.prior.kl_at(f32, z.float(), self).mean()
        return LossParts(recon + beta * kl, recon, kl)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, y: Tensor | int | None = None) -> Tensor:
        """decode(posterior mean): deterministic, no sampling."""
        return self.decode(self.encode(x.to(self.device), y).mean, y)

    @torch.no_grad()
    def sample_prior(
        self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        """n latent codes from the prior at `temperature` (N(0, T² I) for the course's prior;
        a VampPrior scales each component's σ by T)."""
        return self.prior.sample(n, self, temperature, generator)

    def prior_codes(self, noise: Tensor) -> Tensor:
        """Prior codes for fixed standard-normal `noise` (n, nz): the noise itself for N(0, I);
        for a prior of components, sample i's ε in component i mod K. The timeline decodes the
        same noise at every snapshot, so its samples change only as the model does."""
        return self.prior.codes(noise, self)

    def log_prior(self, z: Tensor) -> Tensor:
        """log p(z) over the last dimension (any leading shape)."""
        return self.prior.log_prob(z, self)

    def kl_to_prior(self, post: Posterior, generator: torch.Generator | None = None) -> Tensor:
        """KL(q(z|x) ‖ p(z)) per row: analytic for N(0, I), else a one-sample estimate whose
        z is drawn from `generator`."""
        return self.prior.kl(post, self, generator)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        label: Tensor | int | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """n decodings of prior samples (images in [0, 1], shape (n, H, W))."""
        return self.decode(self.sample_prior(n, temperature, generator), label)


def build_model(config: ModelConfig, generator: torch.Generator | None = None) -> LatentModel:
    """A fresh model for `config`, built by its architecture's factory, initialised from
    `generator`."""
    # The registries are torch-free and cannot name LatentModel: their factories promise one.
    return cast(LatentModel, config.architecture.build(config, generator))


def build_kind_model(config: ModelConfig, generator: torch.Generator | None = None) -> LatentModel:
    """The `mlp` architecture's factory: the kind's own (the course MLP unless a kind names
    another in its registry entry)."""
    return cast(LatentModel, config.model_kind.build(config, generator))


__all__ = [
    "KINDS",
    "LatentModel",
    "LossParts",
    "ModelConfig",
    "Posterior",
    "bce_with_logits_rows",
    "build_kind_model",
    "build_model",
    "gaussian_kl",
]
