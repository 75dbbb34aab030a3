"""The priors p(z), listed once: what a variational model's KL term pulls its codes towards and
what "prior samples" are drawn from. The CLI's `--prior`, the training form and the README read
them.

- `normal`: the course's N(0, I): a closed-form KL, samples z ~ N(0, T² I). The default, and what
  every file written before priors existed holds.
- `vamp`: the VampPrior (Tomczak & Welling, "VAE with a VampPrior", AISTATS 2018): a mixture of
  the model's own posteriors of K learned pseudo-inputs, p(z) = 1/K Σ_k q(z | u_k). It follows
  where the encoder puts the data, so prior samples land where the decoder was trained, which
  N(0, I) leaves to chance (the "holes" between classes). Its KL has no closed form: training
  uses the one-sample estimate log q(z|x) − log p(z) through autograd; the pseudo-inputs start
  as K training images drawn with the run's seed. For unconditional variational models (VAE).

Plain data, no torch (the GUI builds its combo box from here before torch has loaded); the
modules are `models.latent_priors`, named by each entry's `factory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from latent_explorer.models.registries import Registry, resolve

DEFAULT_PRIOR = "normal"
DEFAULT_PSEUDO_INPUTS = 300  # the VampPrior's K: measured, benchmarks/prior_gap.py


@dataclass(frozen=True)
class PriorSpec:
    """One prior: what it is called, what it needs, and the module that computes it."""

    name: str  # 'normal', 'vamp': the value in configs, checkpoints and --prior
    label: str  # shown in the GUI
    description: str  # one line for help texts and the README
    factory: str | Callable[..., Any]  # factory(config: ModelConfig) -> latent_priors.Prior
    closed_form: bool  # an analytic KL (the hand-written and stacked steps need one)
    conditional: bool  # whether a CVAE (a label on the encoder) can use it

    def build(self, config: Any):
        factory = resolve(self.factory) if isinstance(self.factory, str) else self.factory
        return factory(config)


PRIORS: Registry[PriorSpec] = Registry("prior")


def register_prior(spec: PriorSpec) -> PriorSpec:
    return PRIORS.register(spec.name, spec)


def get_prior(name: str) -> PriorSpec:
    """The prior called `name`; ValueError naming the choices for an unknown one."""
    return PRIORS.get(name)


def list_priors() -> list[PriorSpec]:
    return PRIORS.list()


def prior_names() -> tuple[str, ...]:
    return PRIORS.names()


def prior_problems(prior: str, kind: str, pseudo_inputs: int) -> list[str]:
    """Why `prior` cannot go with a model of `kind` (empty when it can)."""
    from latent_explorer.models.registry import get_kind

    if prior not in PRIORS:
        return [f"unknown prior {prior!r} (choose {', '.join(prior_names())})"]
    if prior == DEFAULT_PRIOR:
        return []
    spec, p = get_prior(prior), []
    try:
        k = get_kind(kind)
    except ValueError:
        return []  # the kind's own check says so
    if not k.variational:
        p.append(f"an {k.label} has no prior (choose a variational model, or the "
                 f"{get_prior(DEFAULT_PRIOR).label} prior)")
    elif k.conditional and not spec.conditional:
        p.append(f"the {spec.label} prior is for unconditional models, not a {k.label}")
    if not (isinstance(pseudo_inputs, int) and 1 <= pseudo_inputs <= 10_000):
        p.append(f"pseudo-inputs must be a whole number from 1 to 10000, got {pseudo_inputs}")
    return p


NORMAL = register_prior(PriorSpec(
    "normal", "N(0, I)", "the course's standard normal prior: an analytic KL",
    factory="latent_explorer.models.latent_priors:StandardNormal", closed_form=True, conditional=True))
VAMP = register_prior(PriorSpec(
    "vamp", "VampPrior",
    "a mixture of the encoder's posteriors of K learned pseudo-inputs (Tomczak & Welling 2018): "
    "prior samples land where the data's codes are",
    factory="latent_explorer.models.latent_priors:VampPrior", closed_form=False, conditional=False))


__all__ = ["DEFAULT_PRIOR", "DEFAULT_PSEUDO_INPUTS", "NORMAL", "PRIORS", "PriorSpec", "VAMP",
           "get_prior", "list_priors", "prior_names", "prior_problems", "register_prior"]
