"""Attribute vectors, analogies and principal directions on linear toys with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latent_explorer.training.explore.directions import (
    STRENGTHS,
    AttributeVector,
    analogy,
    apply_vector,
    attribute_vector,
    balanced_indices,
    principal_directions,
    walk,
)

D = 8


def class_codes(counts: tuple[int, ...], noise: float, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """codes = class mean + noise: (codes (N, D), labels (N,), the class means (C, D))."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(len(counts), D))
    labels = np.repeat(np.arange(len(counts)), counts)
    return means[labels] + noise * rng.normal(size=(len(labels), D)), labels, means


def test_attribute_vector_without_noise_is_the_difference_of_class_means() -> None:
    codes, labels, means = class_codes((50, 120), noise=0.0)
    v = attribute_vector(codes, labels == 1, labels == 0, name="one minus zero")
    assert np.allclose(v.vector, means[1] - means[0], atol=1e-12, rtol=0)
    assert (v.n_a, v.n_b, v.name) == (50, 50, "one minus zero")   # balanced to the smaller
    unbalanced = attribute_vector(codes, labels == 1, labels == 0, balanced=False)
    assert (unbalanced.n_a, unbalanced.n_b) == (120, 50)
    assert np.allclose(unbalanced.vector, means[1] - means[0], atol=1e-12, rtol=0)


def test_attribute_vector_with_noise_is_the_difference_within_sampling_error() -> None:
    noise = 0.5
    codes, labels, means = class_codes((2000, 3000), noise=noise, seed=1)
    v = attribute_vector(codes, labels == 0, seed=4)   # B = the rest
    assert (v.n_a, v.n_b) == (2000, 2000)
    # each coordinate is a difference of two means of 2000 N(0, 0.5^2): sd 0.5 * sqrt(2/2000)
    sd = noise * np.sqrt(2 / 2000)
    assert np.abs(v.vector - (means[0] - means[1])).max() < 5 * sd
    # and exactly the means of the subsets it drew
    a, b = balanced_indices(np.flatnonzero(labels == 0), np.flatnonzero(labels == 1), seed=4)
    assert np.allclose(v.vector, codes[a].mean(0) - codes[b].mean(0), atol=1e-12, rtol=0)


def test_balanced_subsampling_uses_equal_counts_and_is_deterministic_per_seed() -> None:
    a = np.arange(0, 30)
    b = np.arange(30, 130)
    a1, b1 = balanced_indices(a, b, seed=7)
    a2, b2 = balanced_indices(a, b, seed=7)
    _, b3 = balanced_indices(a, b, seed=8)
    assert np.array_equal(a1, a) and len(b1) == 30 == len(np.unique(b1))
    assert set(b1.tolist()) <= set(b.tolist())
    assert np.array_equal(b1, b2) and not np.array_equal(b1, b3)
    codes, labels, _ = class_codes((30, 100), noise=1.0, seed=2)
    v1 = attribute_vector(codes, labels == 0, seed=7)
    v2 = attribute_vector(codes, labels == 0, seed=np.random.default_rng(7))
    v3 = attribute_vector(codes, labels == 0, seed=8)
    assert np.array_equal(v1.vector, v2.vector) and not np.array_equal(v1.vector, v3.vector)


def test_attribute_vector_refuses_an_empty_side() -> None:
    codes = np.zeros((5, D))
    with pytest.raises(ValueError):
        attribute_vector(codes, np.ones(5, dtype=bool))
    with pytest.raises(ValueError):
        attribute_vector(codes, np.ones(4, dtype=bool))


def test_to_dict_from_dict_round_trip_through_json() -> None:
    codes, labels, _ = class_codes((40, 60), noise=1.0, seed=3)
    v = attribute_vector(codes, labels == 0, name="zero", source="label 0 vs rest, seed 0")
    text = json.dumps(v.to_dict())
    back = AttributeVector.from_dict(json.loads(text))
    assert (back.name, back.n_a, back.n_b, back.source) == (v.name, v.n_a, v.n_b, v.source)
    assert back.vector.dtype == np.float64 and np.array_equal(back.vector, v.vector)
    assert back.dim == D


def test_apply_vector_makes_a_strength_strip() -> None:
    z = np.arange(2 * D, dtype=np.float64).reshape(2, D)
    vec = np.linspace(-1, 1, D)
    out = apply_vector(z, vec)
    assert STRENGTHS.tolist() == [-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2]
    assert out.shape == (2, 9, D)
    for i in range(2):
        for j, s in enumerate(STRENGTHS):
            assert np.array_equal(out[i, j], z[i] + s * vec)
    assert apply_vector(z[0], vec, [0.0, 3.0]).shape == (1, 2, D)
    with pytest.raises(ValueError):
        apply_vector(z, vec[:-1])


def test_analogy_is_exact_arithmetic_and_broadcasts_over_several_c() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=D), rng.normal(size=D)
    cs = rng.normal(size=(4, D))
    out = analogy(a, b, cs)
    assert out.shape == (4, D)
    for i in range(4):
        assert np.array_equal(out[i], cs[i] + (b - a))
    assert np.allclose(analogy(a, b, a), b, atol=1e-14, rtol=0)   # a : b :: a : b, to rounding


def test_principal_directions_recover_known_axes_and_variance_shares() -> None:
    rng = np.random.default_rng(6)
    q, _ = np.linalg.qr(rng.normal(size=(D, D)))      # the true axes, columns of q
    sds = np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.2])
    n = 20_000
    shift = rng.normal(size=D)
    codes = (rng.normal(size=(n, D)) * sds) @ q.T + shift
    pd = principal_directions(codes, k=3)
    assert pd.directions.shape == (3, D) and pd.std.shape == (3,)
    assert np.allclose(np.linalg.norm(pd.directions, axis=1), 1.0, atol=1e-12)
    for i in range(3):
        assert abs(pd.directions[i] @ q[:, i]) > 0.995
        assert pd.std[i] == pytest.approx(sds[i], rel=0.02)
    shares = sds**2 / (sds**2).sum()
    assert np.allclose(pd.explained, shares[:3], atol=0.01)
    assert np.allclose(pd.mean, shift, atol=0.1)
    # exactly the covariance's eigen-decomposition of the same codes
    evals, evecs = np.linalg.eigh(np.cov(codes, rowvar=False))
    evals, evecs = evals[::-1], evecs[:, ::-1]
    assert np.allclose(pd.std**2, evals[:3], rtol=1e-10)
    assert np.allclose(pd.explained, evals[:3] / evals.sum(), rtol=1e-10)
    for i in range(3):
        assert abs(abs(pd.directions[i] @ evecs[:, i]) - 1) < 1e-10
        assert pd.directions[i][np.argmax(np.abs(pd.directions[i]))] > 0   # the fixed sign
    assert principal_directions(codes[:5], k=10).directions.shape == (5, D)


def test_walk_steps_in_standard_deviations() -> None:
    origin = np.ones(D)
    direction = np.eye(D)[2]
    pts = walk(origin, direction, std=0.5, sigmas=np.array([-2.0, 0.0, 3.0]))
    assert pts.shape == (3, D)
    assert np.array_equal(pts[:, 2], [0.0, 1.0, 2.5])
    assert np.array_equal(np.delete(pts, 2, axis=1), np.ones((3, D - 1)))
    assert walk(np.zeros((4, D)), direction, 1.0).shape == (4, len(STRENGTHS), D)
