"""The decoder likelihoods p(x | z), listed once: what the reconstruction term of a model's loss
is the log of, what its panels show (the likelihood's mean) and how its bound reads in bits per
dimension. The CLI's `--likelihood`, the training form and the README read them.

- `bernoulli`: the course's: the decoder gives logits, the term is −BCE. The default, and what
  every file written before likelihoods existed holds.
- `continuous-bernoulli`: the normalised Bernoulli on [0, 1] (Loaiza-Ganem & Cunningham 2019).
- `logistic`: the discretised logistic of 8-bit values (Kingma et al. 2016, Salimans et al. 2017):
  a probability, so its bound is comparable with published bits/dim.
- `gaussian`: N(mean, σ²) with one learned σ (the σ-VAE, Rybkin et al. 2021).

Plain data, no torch (the GUI builds its combo box from here before torch has loaded, as for
`models.priors`); the heads are `models.likelihood_heads`, named by each entry's `factory`, and
their classes can also be imported from here (loaded on first use).

Bits per dimension: a model's negative log-likelihood in nats per image, divided by D ln 2.
Only a discrete likelihood (`discrete`: a probability of the 8-bit values) gives a bound that is
comparable with the bits/dim papers publish; a density's value depends on the data's scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from latent_explorer.models.registries import Registry, resolve

if TYPE_CHECKING:  # the torch classes, for type checkers; at run time `__getattr__` loads them
    from latent_explorer.models.likelihood_heads import (
        BernoulliHead, ContinuousBernoulliHead, DiscretizedLogisticHead, GaussianHead,
        LikelihoodHead)

DEFAULT_LIKELIHOOD = "bernoulli"
_HEADS = "latent_explorer.models.likelihood_heads"


@dataclass(frozen=True)
class Likelihood:
    """One likelihood: what it is called, what the decoder must give, and the head computing it."""

    name: str  # the value in configs, checkpoints and --likelihood
    label: str  # shown in the GUI
    description: str  # one line for help texts and the README, citing the paper
    params_per_value: int  # decoder outputs per pixel value: 1 (logits / mean), 2 (mean, log-scale)
    discrete: bool  # a probability of 8-bit values: its bits/dim compare with published ones
    factory: str | Callable[[], Any]  # factory() -> likelihood_heads.LikelihoodHead

    def build(self) -> LikelihoodHead:
        """A new head module (the gaussian's holds its learned σ: one per model)."""
        factory = resolve(self.factory) if isinstance(self.factory, str) else self.factory
        return factory()


LIKELIHOODS: Registry[Likelihood] = Registry("likelihood")


def register_likelihood(spec: Likelihood) -> Likelihood:
    return LIKELIHOODS.register(spec.name, spec)


def get_likelihood(name: str) -> Likelihood:
    """The likelihood called `name`; ValueError naming the choices for an unknown one."""
    return LIKELIHOODS.get(name)


def list_likelihoods() -> list[Likelihood]:
    return LIKELIHOODS.list()


def likelihood_names() -> tuple[str, ...]:
    return LIKELIHOODS.names()


def bits_per_dim(nll_nats_per_image: Any, n_values: int) -> Any:
    """A negative log-likelihood in nats per image as bits per value: nll / (D ln 2).

    Works on floats and tensors alike. Comparable with published bits/dim only for a discrete
    likelihood of the 8-bit values; for a density use `bits_per_dim_8bit`."""
    return nll_nats_per_image / (n_values * math.log(2))


def bits_per_dim_8bit(nll_nats: Any, n_values: int, scaled_to_unit: bool = True) -> Any:
    """Bits/dim of 8-bit data under a density, the convention of Theis et al. 2016 ("A note on
    the evaluation of generative models") that RealNVP, Glow and the σ-VAE report.

    `nll_nats` is −log p(x) per image for a density p over D values. With `scaled_to_unit`, x is
    the data divided by 256 (x = y / 256, y in [0, 256)), so the density of y is p(y / 256)·256^-D
    and its nll is nll + D log 256; without, nll is already of y in [0, 256). The result bounds
    the 8-bit discrete nll from above only when x was dequantised uniformly, x = (k + u) / 256
    with u ~ U[0, 1); a density evaluated at this project's k / 255 gives no such bound (and the
    1/255 scale shifts it by log2(256/255) ≈ 0.0056 bits/dim)."""
    shift = n_values * math.log(256) if scaled_to_unit else 0.0
    return bits_per_dim(nll_nats + shift, n_values)


BERNOULLI = register_likelihood(Likelihood(
    "bernoulli", "Bernoulli",
    "the course's: −BCE with the decoder's logits; not a density for grey values, whose "
    "normaliser it leaves out (Loaiza-Ganem & Cunningham 2019)",
    params_per_value=1, discrete=False, factory=f"{_HEADS}:BernoulliHead"))
CONTINUOUS_BERNOULLI = register_likelihood(Likelihood(
    "continuous-bernoulli", "Continuous Bernoulli",
    "the Bernoulli normalised on [0, 1] (Loaiza-Ganem & Cunningham, NeurIPS 2019): a density "
    "whose mean, not λ, is the picture",
    params_per_value=1, discrete=False, factory=f"{_HEADS}:ContinuousBernoulliHead"))
LOGISTIC = register_likelihood(Likelihood(
    "logistic", "Discretised logistic",
    "a logistic binned to the 256 values of 8-bit data (Salimans et al. 2017, PixelCNN++): a "
    "probability, so its bits/dim compare with published ones; two outputs per value",
    params_per_value=2, discrete=True, factory=f"{_HEADS}:DiscretizedLogisticHead"))
GAUSSIAN = register_likelihood(Likelihood(
    "gaussian", "Gaussian, learned σ",
    "N(mean, σ²) with one learned σ for all values (the σ-VAE, Rybkin et al. 2021): the "
    "calibrated decoder balances reconstruction and KL by itself",
    params_per_value=1, discrete=False, factory=f"{_HEADS}:GaussianHead"))


_HEAD_CLASSES = frozenset({"LikelihoodHead", "BernoulliHead", "ContinuousBernoulliHead",
                           "DiscretizedLogisticHead", "GaussianHead"})


def __getattr__(name: str) -> Any:
    """The head classes, importing torch only when one is asked for (PEP 562)."""
    if name in _HEAD_CLASSES:
        return resolve(f"{_HEADS}:{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BERNOULLI", "CONTINUOUS_BERNOULLI", "DEFAULT_LIKELIHOOD", "GAUSSIAN", "LIKELIHOODS",
           "LOGISTIC", "BernoulliHead", "ContinuousBernoulliHead", "DiscretizedLogisticHead",
           "GaussianHead", "Likelihood", "LikelihoodHead", "bits_per_dim", "bits_per_dim_8bit",
           "get_likelihood", "likelihood_names", "list_likelihoods", "register_likelihood"]
