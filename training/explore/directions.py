"""Directions in the latent space: attribute vectors, analogies and principal directions.

- Attribute vectors (White 2016, "Sampling Generative Networks"; dribnet/plat): the mean code of
  the images that have an attribute minus the mean of those that do not. Labels that are
  unbalanced and correlated with other attributes leak those into the vector; White balances
  the sets, here by subsampling the larger one to the smaller's size with a fixed seed.
- Analogies: a is to b as c is to c + (b - a).
- Principal directions (GANSpace, Härkönen et al. 2020, "Discovering Interpretable GAN
  Controls"): the PCA of the aggregate posterior's means; walking along a component by
  multiples of its standard deviation keeps the edit on the data's scale.
Array in, array out (numpy, float64); a name and its vector serialise to JSON to be saved with
a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

STRENGTHS = np.linspace(-2, 2, 9)  # the strip of edits: -2, -1.5, ..., +2


# -- attribute vectors -------------------------------------------------------------------------
@dataclass(frozen=True)
class AttributeVector:
    """A named direction: mean code of set A minus that of B, from n_a and n_b codes.

    source says where it came from (e.g. "label 3 vs rest, balanced, seed 0").
    """

    name: str
    vector: np.ndarray
    n_a: int
    n_b: int
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the vector as a list of floats."""
        return {"name": self.name, "vector": [float(v) for v in self.vector],
                "n_a": int(self.n_a), "n_b": int(self.n_b), "source": self.source}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AttributeVector":
        return cls(str(d["name"]), np.asarray(d["vector"], dtype=np.float64), int(d["n_a"]),
                   int(d["n_b"]), str(d.get("source", "")))

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def balanced_indices(index_a: np.ndarray, index_b: np.ndarray,
                     seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """The two index sets cut to the smaller one's size: the larger is subsampled without
    replacement (sorted), the smaller kept whole."""
    n = min(len(index_a), len(index_b))
    rng = _rng(seed)
    if len(index_a) > n:
        index_a = np.sort(rng.choice(index_a, n, replace=False))
    if len(index_b) > n:
        index_b = np.sort(rng.choice(index_b, n, replace=False))
    return index_a, index_b


def attribute_vector(codes: np.ndarray, mask_a: np.ndarray, mask_b: np.ndarray | None = None,
                     balanced: bool = True, seed: int | np.random.Generator = 0,
                     name: str = "", source: str = "") -> AttributeVector:
    """mean(codes[A]) - mean(codes[B]) for boolean masks (N,); B is everything not in A when
    mask_b is None. balanced: the larger set is subsampled to the smaller's size (`seed`)."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (N, D), got shape {codes.shape}")
    a = np.asarray(mask_a, dtype=bool)
    b = ~a if mask_b is None else np.asarray(mask_b, dtype=bool)
    if a.shape != (len(codes),) or b.shape != (len(codes),):
        raise ValueError(f"masks must be ({len(codes)},) booleans")
    index_a, index_b = np.flatnonzero(a), np.flatnonzero(b)
    if len(index_a) == 0 or len(index_b) == 0:
        raise ValueError(f"an attribute vector needs codes on both sides "
                         f"({len(index_a)} in A, {len(index_b)} in B)")
    if balanced:
        index_a, index_b = balanced_indices(index_a, index_b, seed)
    vector = codes[index_a].mean(axis=0) - codes[index_b].mean(axis=0)
    return AttributeVector(name, vector, len(index_a), len(index_b), source)


def apply_vector(z: np.ndarray, vector: np.ndarray,
                 strengths: np.ndarray | None = None) -> np.ndarray:
    """z + s * vector for each strength s: (n, len(strengths), D) from z (n, D) or (D,)."""
    s = STRENGTHS if strengths is None else np.asarray(strengths, dtype=np.float64)
    z = np.atleast_2d(np.asarray(z, dtype=np.float64))
    v = np.asarray(vector, dtype=np.float64)
    if z.shape[-1] != v.shape[-1]:
        raise ValueError(f"codes have {z.shape[-1]} dims, the vector {v.shape[-1]}")
    return z[:, None, :] + s[None, :, None] * v[None, None, :]


def analogy(z_a: np.ndarray, z_b: np.ndarray, z_c: np.ndarray) -> np.ndarray:
    """a : b :: c : ?, answered as c + (b - a); the shapes broadcast (several c: (m, D))."""
    return (np.asarray(z_c, dtype=np.float64)
            + (np.asarray(z_b, dtype=np.float64) - np.asarray(z_a, dtype=np.float64)))


# -- principal directions ----------------------------------------------------------------------
@dataclass(frozen=True)
class PrincipalDirections:
    """The top principal components of a set of codes.

    directions (k, D): unit vectors, largest variance first, each signed so its largest-|.|
    entry is positive (a fixed sign, so saved walks mean the same after recomputing).
    std (k,): the codes' standard deviation along each; explained (k,): its share of the total
    variance; mean (D,): the codes' mean, the natural origin of a walk.
    """

    directions: np.ndarray
    std: np.ndarray
    explained: np.ndarray
    mean: np.ndarray


def principal_directions(codes: np.ndarray, k: int = 10) -> PrincipalDirections:
    """PCA (via SVD of the centred codes) of the posterior means: GANSpace's directions for the
    aggregate posterior. k is cut to min(k, N, D)."""
    x = np.asarray(codes, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"codes must be (N >= 2, D), got shape {x.shape}")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = min(k, len(s))
    var = s**2 / (len(x) - 1)
    total = var.sum()
    dirs = vt[:k].copy()
    signs = np.sign(dirs[np.arange(k), np.argmax(np.abs(dirs), axis=1)])
    dirs *= np.where(signs == 0, 1.0, signs)[:, None]
    explained = var[:k] / total if total > 0 else np.zeros(k)
    return PrincipalDirections(dirs, np.sqrt(var[:k]), explained, mean)


def walk(origin: np.ndarray, direction: np.ndarray, std: float,
         sigmas: np.ndarray | None = None) -> np.ndarray:
    """Points origin + sigma * std * direction for each sigma (default STRENGTHS):
    (len(sigmas), D) from one origin (D,), (n, len(sigmas), D) from several (n, D)."""
    out = apply_vector(origin, float(std) * np.asarray(direction, dtype=np.float64), sigmas)
    return out[0] if np.ndim(origin) == 1 else out
