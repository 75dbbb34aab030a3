"""The importance-weighted bound and the rate–distortion figures agree with `evaluate`."""

from __future__ import annotations

import math

import pytest
import torch

from latent_explorer.training.metrics.evaluate import (ACTIVE_DIM_NATS, RateDistortion, binarized, evaluate,
                               importance_weighted_bound, rate_distortion)

pytestmark = pytest.mark.numerics  # compares code paths: `make test-numerics`


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_one_sample_bound_is_the_negative_elbo(runs, small_dataset, kind):
    model = runs[kind].model
    m = evaluate(model, small_dataset.test)
    assert importance_weighted_bound(model, small_dataset.test, 1, seed=0) == pytest.approx(
        m.neg_elbo, rel=1e-12)
    # another seed draws other ε: close, but not the same number
    other = importance_weighted_bound(model, small_dataset.test, 1, seed=1)
    assert other != m.neg_elbo and other == pytest.approx(m.neg_elbo, rel=0.05)


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_more_samples_give_a_bound_at_least_as_tight(runs, small_dataset, kind):
    model = runs[kind].model
    neg_elbo = evaluate(model, small_dataset.test).neg_elbo
    b = {k: importance_weighted_bound(model, small_dataset.test, k) for k in (1, 8, 64, 256)}
    # Each is a Monte-Carlo estimate over 200 images; its noise is well under a nat here,
    # while the gaps between k are several nats (the posterior is not the true one).
    noise = 0.5
    assert b[8] <= neg_elbo + noise and b[64] <= b[8] + noise and b[256] <= b[64] + noise
    assert b[256] < neg_elbo - 1.0  # and it really is tighter, not merely equal
    assert all(math.isfinite(v) and v > 0 for v in b.values())


def test_bound_is_deterministic_for_a_seed_and_batch_size_independent(runs, small_dataset):
    model = runs["vae"].model
    a = importance_weighted_bound(model, small_dataset.test, 16, seed=3)
    assert importance_weighted_bound(model, small_dataset.test, 16, seed=3) == a
    assert importance_weighted_bound(model, small_dataset.test, 16, seed=4) != a
    # another split into passes draws other ε, but estimates the same number
    c = importance_weighted_bound(model, small_dataset.test, 16, seed=3, batch_size=160)
    assert c == pytest.approx(a, abs=0.5)


def test_binarised_evaluation_uses_fixed_binary_images(runs, small_dataset):
    imgs = small_dataset.test.images
    b = binarized(imgs)
    assert torch.equal(b, binarized(imgs)) and b.dtype == torch.uint8
    assert set(b.unique().tolist()) <= {0, 255}
    # E[Bernoulli(grey)] = grey: the mean intensity is kept
    assert b.float().mean().item() == pytest.approx(imgs.float().mean().item(), rel=0.05)
    model = runs["vae"].model
    grey = importance_weighted_bound(model, small_dataset.test, 8)
    binary = importance_weighted_bound(model, small_dataset.test, 8, binarize=True)
    assert binary != grey
    assert importance_weighted_bound(model, small_dataset.test, 8, binarize=True) == binary


def test_ae_and_bad_k_are_refused(runs, small_dataset):
    with pytest.raises(ValueError, match="AE"):
        importance_weighted_bound(runs["ae"].model, small_dataset.test, 4)
    with pytest.raises(ValueError, match="AE"):
        rate_distortion(runs["ae"].model, small_dataset.test)
    with pytest.raises(ValueError, match="k must be"):
        importance_weighted_bound(runs["vae"].model, small_dataset.test, 0)


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_rate_plus_distortion_is_the_negative_elbo(runs, small_dataset, kind):
    model = runs[kind].model
    m = evaluate(model, small_dataset.test)
    rd = rate_distortion(model, small_dataset.test)
    assert rd.rate == pytest.approx(m.kl, rel=1e-6)
    assert rd.rate + rd.distortion == pytest.approx(m.neg_elbo, rel=1e-9)
    assert rd.neg_elbo == rd.rate + rd.distortion and rd.n == len(small_dataset.test)
    # distortion is a summed BCE (nats per image), ~784 x the per-pixel BCE of the mean
    assert rd.distortion > 784 * m.bce * 0.9
    assert len(rd.kl_per_dim) == model.config.nz
    assert sum(rd.kl_per_dim) == pytest.approx(rd.rate, rel=1e-6)
    assert rd.active_dims == sum(v > ACTIVE_DIM_NATS for v in rd.kl_per_dim)
    assert 1 <= rd.active_dims <= model.config.nz
    from_metrics = RateDistortion.from_metrics(m)
    assert from_metrics.rate == m.kl and from_metrics.neg_elbo == pytest.approx(m.neg_elbo)


# -- Monte-Carlo standard errors --------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 8])
def test_the_standard_error_predicts_the_spread_over_seeds(runs, small_dataset, k):
    from latent_explorer.training.metrics.evaluate import iw_bound_estimate

    model = runs["vae"].model
    ests = [iw_bound_estimate(model, small_dataset.test, k, seed=s) for s in range(12)]
    values = torch.tensor([e.value for e in ests], dtype=torch.float64)
    spread = float(values.std())
    se = sum(e.se for e in ests) / len(ests)
    assert se > 0
    # 12 draws estimate a standard deviation to about ±20 %; allow 2x either way
    assert se / 2 < spread < se * 2, (se, spread)


def test_evaluate_reports_the_elbos_standard_error(runs, small_dataset):
    from latent_explorer.training.metrics.evaluate import EvalMetrics, iw_bound_estimate

    m = evaluate(runs["cvae"].model, small_dataset.test)
    one = iw_bound_estimate(runs["cvae"].model, small_dataset.test, 1)
    assert m.neg_elbo_se == pytest.approx(one.se, rel=1e-9) and 0 < m.neg_elbo_se < 1
    rd = rate_distortion(runs["cvae"].model, small_dataset.test)
    assert rd.distortion_se == pytest.approx(m.neg_elbo_se, rel=1e-9)
    assert f"± {m.neg_elbo_se:.{len(m.summary().split('±')[1].split()[0].split('.')[1])}f}" \
        in m.summary()
    # files written before the error was measured open without it
    old = EvalMetrics.from_dict({"bce": 0.2, "neg_elbo": 100.0, "kl": 5.0, "n": 10})
    assert old.neg_elbo_se is None and "±" not in old.summary()
    assert EvalMetrics.from_dict(m.to_dict()) == m


@pytest.mark.parametrize("value, se, text", [
    (104.3456, 0.123, "104.35 ± 0.12"), (104.3456, 1.7, "104.3 ± 1.7"),
    (104.3456, 0.0312, "104.346 ± 0.031"), (104.3456, 12.0, "104.3 ± 12.0"),
    (104.3456, None, "104.3"), (5.0, 0.0, "5.0 ± 0")])
def test_values_are_printed_to_the_digits_their_error_allows(value, se, text):
    from latent_explorer.training.metrics.evaluate import with_error

    assert with_error(value, se) == text
