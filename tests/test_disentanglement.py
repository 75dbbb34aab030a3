"""MIG, DCI and the dimension labels against known answers and independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_explorer.training.metrics.disentanglement import (
    codes_of,
    dci,
    dci_scores,
    describe_dimensions,
    discretize,
    discretize_factors,
    factor_entropies,
    mig,
    mutual_info_matrix,
    sample_index,
    sorted_dimensions,
)

SPRITES = (("shape", 3), ("scale", 6), ("orientation", 40), ("x", 32), ("y", 32))


def sprites_factors(n: int, seed: int = 0) -> np.ndarray:
    """(n, 5) float32 factor values like dSprites': each factor uniform over its values in
    [0, 1) (shape 3, scale 6, orientation 40, x 32, y 32)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, n) / k for _, k in SPRITES], 1).astype(np.float32)


def plugin_mi(x: np.ndarray, y: np.ndarray) -> float:
    """MI in nats of two discrete sequences from their joint contingency table:
    sum p(x, y) log p(x, y) / (p(x) p(y)), written out in float64."""
    xs, xi = np.unique(x, return_inverse=True)
    ys, yi = np.unique(y, return_inverse=True)
    joint = np.zeros((len(xs), len(ys)))
    for a, b in zip(xi.ravel(), yi.ravel()):
        joint[a, b] += 1.0
    p = joint / joint.sum()
    px = p.sum(axis=1, keepdims=True)
    py = p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (px * py)[nz])).sum())


def entropy_of(x: np.ndarray) -> float:
    _, counts = np.unique(x, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


# -- discretising ------------------------------------------------------------------------------
def test_discretize_follows_disentanglement_lib_histogram_bins() -> None:
    rng = np.random.default_rng(1)
    codes = np.column_stack([rng.normal(size=500), rng.uniform(-3, 5, 500), np.full(500, 2.0)])
    d = discretize(codes, bins=20)
    assert d.shape == codes.shape and d.dtype == np.int64
    for j in range(2):
        lo, hi = codes[:, j].min(), codes[:, j].max()
        # equal-width bins over the column's range, numbered 1..20, the maximum in bin 20
        expected = np.minimum(np.floor((codes[:, j] - lo) / ((hi - lo) / 20)), 19) + 1
        # points that sit on an edge within rounding may land either side
        close = np.abs((codes[:, j] - lo) / ((hi - lo) / 20) - np.round(
            (codes[:, j] - lo) / ((hi - lo) / 20))) < 1e-9
        assert np.array_equal(d[~close, j], expected[~close].astype(int))
        assert d[np.argmax(codes[:, j]), j] == 20 and d[np.argmin(codes[:, j]), j] == 1
    assert len(np.unique(d[:, 2])) == 1  # a constant column is one bin


def test_discretize_factors_keeps_up_to_64_values_and_bins_more() -> None:
    rng = np.random.default_rng(2)
    few = rng.integers(0, 40, 2000) * 0.37 + 5.0        # 40 distinct float values
    many = rng.uniform(0, 1, 2000)                       # ~2000 distinct values
    classes = discretize_factors(np.column_stack([few, many]))
    values, inverse = np.unique(few, return_inverse=True)
    assert np.array_equal(classes[:, 0], inverse)        # one class per value, in value order
    assert classes[:, 1].max() + 1 == len(np.unique(classes[:, 1])) <= 20
    # the binned column is the code histogram's bins, renumbered from 0
    assert np.array_equal(classes[:, 1], discretize(many[:, None])[:, 0] - 1)


def test_sample_index_draws_at_most_the_limit_without_repeats() -> None:
    assert np.array_equal(sample_index(50, 100), np.arange(50))
    idx = sample_index(30_000, 10_000, seed=3)
    assert len(idx) == 10_000 == len(np.unique(idx)) and idx.max() < 30_000
    assert np.array_equal(idx, sample_index(30_000, 10_000, seed=3))
    assert not np.array_equal(idx, sample_index(30_000, 10_000, seed=4))


# -- mutual information ------------------------------------------------------------------------
def test_mi_matrix_equals_plugin_estimate_and_sklearn() -> None:
    from sklearn.metrics import mutual_info_score  # 1.4 s to import: here, not at collection

    rng = np.random.default_rng(3)
    n = 3000
    factors = sprites_factors(n, seed=3)
    codes = rng.normal(size=(n, 6))
    codes[:, 0] += 4 * factors[:, 3]          # x, with noise
    codes[:, 1] = np.sin(6 * factors[:, 2])   # orientation, non-monotone
    codes[:, 2] += factors[:, 0]              # shape, weakly
    mi = mutual_info_matrix(codes, factors)
    assert mi.shape == (6, 5)
    bins = discretize(codes)
    classes = discretize_factors(factors)
    for j in range(6):
        for k in range(5):
            assert mi[j, k] == pytest.approx(plugin_mi(bins[:, j], factors[:, k]), abs=1e-10)
            assert mi[j, k] == pytest.approx(mutual_info_score(classes[:, k], bins[:, j]),
                                             abs=1e-12)
    # the planted dependences stand above the noise dims' plug-in bias for the same factor
    # (about (bins - 1)(K - 1) / 2N nats: 0.12 for orientation's 40 values at N = 3000)
    noise = mi[3:].max(axis=0)
    assert noise.max() < 0.15
    assert mi[0, 3] > noise[3] + 0.3 and mi[1, 2] > 2.0 and mi[2, 0] > noise[0] + 0.01


def test_factor_entropies_are_sklearn_self_information() -> None:
    from sklearn.metrics import mutual_info_score  # 1.4 s to import: here, not at collection

    factors = sprites_factors(4000, seed=4)
    h = factor_entropies(factors)
    classes = discretize_factors(factors)
    for k in range(5):
        assert h[k] == pytest.approx(mutual_info_score(classes[:, k], classes[:, k]), abs=1e-12)
        assert h[k] == pytest.approx(entropy_of(factors[:, k]), abs=1e-12)
        assert h[k] == pytest.approx(np.log(SPRITES[k][1]), abs=0.02)  # nearly uniform


# -- MIG ---------------------------------------------------------------------------------------
def test_mig_of_a_copy_encoder_is_near_one_with_the_copied_dims_on_top() -> None:
    n = 10_000
    rng = np.random.default_rng(5)
    factors = sprites_factors(n, seed=5)
    dims = np.array([7, 2, 11, 0, 5])         # factor k is copied into latent dim dims[k]
    codes = rng.normal(size=(n, 12))           # the other 7 dims are noise
    codes[:, dims] = factors
    r = mig(codes, factors)
    assert np.array_equal(r.top_dims, dims)
    # shape (3 values) and scale (6) fall into distinct bins of 20: the code holds all of
    # H(factor); the gap falls short of 1 only by the noise dims' plug-in bias (~0.01 nats)
    assert r.per_factor[0] > 0.98 and r.per_factor[1] > 0.98
    # orientation (40 values), x and y (32) share bins: 20 bins keep H(binned code), about
    # log 20, of log K. A perfect copy scores log 20 / log K (0.81, 0.86), not > 0.9; this is
    # disentanglement_lib's discrete MIG as published, not a defect of the copy.
    bins = discretize(codes)
    for k in (2, 3, 4):
        h_binned = entropy_of(bins[:, dims[k]])
        assert r.mi[dims[k], k] == pytest.approx(h_binned, abs=1e-10)  # binned copy: MI = H
        second = np.sort(r.mi[:, k])[-2]
        assert r.per_factor[k] == pytest.approx((h_binned - second) / r.entropy[k], abs=1e-12)
        assert 0.78 < r.per_factor[k] < np.log(20) / np.log(SPRITES[k][1]) + 1e-9
    # with as many bins as values every factor's copy is whole: MIG near 1
    wide = mig(codes, factors, bins=64)
    assert wide.per_factor.min() > 0.95 and wide.score > 0.95
    assert r.score == pytest.approx(float(r.per_factor.mean()), abs=1e-15)


def test_mig_of_codes_independent_of_the_factors_is_near_zero() -> None:
    n = 10_000
    factors = sprites_factors(n, seed=6)
    codes = np.random.default_rng(6).normal(size=(n, 32))
    r = mig(codes, factors)
    assert 0.0 <= r.score < 0.05
    assert r.mi.max() < 0.1   # only the plug-in bias, (bins-1)(K-1)/2N ~ 0.04 nats at most


def test_mig_leaves_a_constant_factor_out_and_takes_a_given_matrix() -> None:
    n = 2000
    rng = np.random.default_rng(7)
    factors = np.column_stack([rng.integers(0, 5, n), np.zeros(n)]).astype(np.float32)
    codes = np.column_stack([factors[:, 0], rng.normal(size=n), rng.normal(size=n)])
    r = mig(codes, factors)
    assert np.isnan(r.per_factor[1]) and r.entropy[1] == 0.0
    assert r.score == pytest.approx(r.per_factor[0]) and r.per_factor[0] > 0.95
    again = mig(codes, factors, mi=r.mi)
    assert again.score == r.score and np.array_equal(again.mi, r.mi)


# -- DCI ---------------------------------------------------------------------------------------
def test_dci_scores_of_known_importance_matrices() -> None:
    from scipy.stats import entropy

    d, c, per_code, per_factor = dci_scores(np.eye(4)[[2, 0, 3, 1]])
    assert d == pytest.approx(1.0, abs=1e-8) and c == pytest.approx(1.0, abs=1e-8)
    d, c, _, _ = dci_scores(np.ones((4, 3)))
    assert d == pytest.approx(0.0, abs=1e-8) and c == pytest.approx(0.0, abs=1e-8)
    # disentanglement_lib's formulas, written with scipy, on a random matrix
    imp = np.random.default_rng(8).uniform(size=(6, 3))
    d, c, per_code, per_factor = dci_scores(imp)
    lib_code = 1 - entropy(imp.T + 1e-11, base=3)
    lib_factor = 1 - entropy(imp + 1e-11, base=6)
    assert np.allclose(per_code, lib_code, atol=1e-12)
    assert np.allclose(per_factor, lib_factor, atol=1e-12)
    assert d == pytest.approx(float((lib_code * imp.sum(1) / imp.sum()).sum()), abs=1e-12)
    assert c == pytest.approx(float((lib_factor * imp.sum(0) / imp.sum()).sum()), abs=1e-12)


def test_dci_axis_aligned_code_beats_a_rotated_one() -> None:
    n = 3000
    rng = np.random.default_rng(9)
    values = np.column_stack([rng.integers(0, k, n) / k for k in (3, 6, 8, 10)])
    scaled = (values - values.mean(0)) / values.std(0)
    aligned = np.zeros((n, 6))
    aligned[:, [4, 1, 5, 2]] = scaled + 0.01 * rng.normal(size=scaled.shape)
    aligned[:, [0, 3]] = rng.normal(size=(n, 2))  # two noise dims
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    rotated = aligned @ q                          # every dim mixes every factor
    good = dci(aligned, values, seed=0)
    bad = dci(rotated, values, seed=0)
    assert good.disentanglement > 0.9 and good.completeness > 0.9
    assert good.informativeness > 0.95
    assert bad.disentanglement < good.disentanglement - 0.4
    assert bad.completeness < good.completeness - 0.4
    # the importance of factor k sits on the dim it was put in
    assert np.array_equal(np.argmax(good.importance, axis=0), [4, 1, 5, 2])
    assert good.importance.shape == (6, 4) and np.allclose(good.importance.sum(0), 1.0)


# -- labels ------------------------------------------------------------------------------------
def test_describe_dimensions_names_each_dims_best_factor() -> None:
    mi = np.array([[0.10, 1.80, 0.00],
                   [0.01, 0.02, 0.03],
                   [2.20, 0.40, 0.90]])
    labels = describe_dimensions(mi, ["shape", "x", "y"], entropies=np.array([2.2, 3.6, 3.0]))
    assert [lab.factor for lab in labels] == [1, 2, 0]
    assert labels[0].text == "z0 ≈ x, MI 1.80 nats (50% of H)"
    assert labels[0].short == "z0 ≈ x"
    assert not labels[1].informative and labels[1].text == "z1: no factor, MI 0.03 nats"
    assert labels[2].text == "z2 ≈ shape, MI 2.20 nats (100% of H)"
    plain = describe_dimensions(mi, ["shape", "x", "y"])
    assert plain[0].text == "z0 ≈ x, MI 1.80 nats"
    with pytest.raises(ValueError):
        describe_dimensions(mi, ["shape", "x"])


def test_sorted_dimensions_by_mi_and_by_factor() -> None:
    mi = np.array([[0.5, 0.0], [0.0, 2.0], [0.01, 0.02], [1.5, 0.1], [0.0, 0.3]])
    assert sorted_dimensions(mi).tolist() == [1, 3, 0, 4, 2]
    # factor 0's dims (3, 0) by MI, then factor 1's (1, 4), the uninformative dim 2 last
    assert sorted_dimensions(mi, by="factor").tolist() == [3, 0, 1, 4, 2]


# -- codes of a model --------------------------------------------------------------------------
class _Posterior:
    def __init__(self, mean: torch.Tensor) -> None:
        self.mean = mean


class LinearEncoder(torch.nn.Module):
    """encode(x, y).mean = W flatten(x) (+ y), with dropout that only eval mode turns off."""

    def __init__(self, n_in: int, nz: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(n_in, nz)
        self.drop = torch.nn.Dropout(0.5)
        self.seen_batches: list[int] = []

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> _Posterior:
        self.seen_batches.append(len(x))
        out = self.linear(self.drop(x.flatten(1)))
        if y is not None:
            out = out + y[:, None].float()
        return _Posterior(out)


def test_codes_of_encodes_in_batches_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = LinearEncoder(2 * 4 * 4, 3)
    model.train()
    images = torch.randint(0, 256, (1200, 2, 4, 4), dtype=torch.uint8)
    labels = torch.arange(1200) % 10
    z = codes_of(model, images, labels, batch=500)
    assert model.training and model.seen_batches == [500, 500, 200]
    with torch.no_grad():
        expected = model.linear(images.float().div(255).flatten(1)) + labels[:, None].float()
    assert z.shape == (1200, 3) and z.dtype == np.float64
    assert np.allclose(z, expected.double().numpy(), atol=1e-6)
    assert np.allclose(codes_of(model, images.float() / 255), z - labels.numpy()[:, None],
                       atol=1e-5)
