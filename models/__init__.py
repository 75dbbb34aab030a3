"""Torch modules of Latent Explorer: no Qt, no data, no globals."""

from models.autoencoders import (
    KINDS,
    LatentModel,
    LossParts,
    ModelConfig,
    Posterior,
    build_model,
    gaussian_kl,
)

__all__ = ["KINDS", "LatentModel", "LossParts", "ModelConfig", "Posterior", "build_model", "gaussian_kl"]
