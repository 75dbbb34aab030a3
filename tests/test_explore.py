"""The exploration math (training/explore/panel_math.py), without Qt."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.render import make_grid

pytestmark = pytest.mark.numerics  # compares code paths: `make test-numerics`


def test_explore_is_qt_free():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(explore))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not names & {"PySide6", "PyQt5", "PyQt6", "pyqtgraph", "qtpy", "explorer"}


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_reconstruct_uses_the_posterior_mean(runs, kind):
    run = runs[kind]
    x, y = explore.split_images(run.dataset.test, explore.pick_indices(len(run.dataset.test), 8))
    a = explore.reconstruct(run.model, x, y)
    b = explore.reconstruct(run.model, x, y)
    assert a.originals.shape == a.reconstructions.shape == (8, 28, 28)
    np.testing.assert_array_equal(a.reconstructions, b.reconstructions)
    label = y if kind == "cvae" else None
    expected = run.model.decode(run.model.encode(x, label).mean, label).detach().numpy()[:, 0]
    np.testing.assert_allclose(a.reconstructions, expected, atol=1e-6)
    assert a.errors.shape == (8,) and np.all(a.errors > 0) and np.all(np.isfinite(a.errors))
    # Trained a little: better than predicting 0.5 everywhere (BCE ln 2).
    assert float(a.errors.mean()) < np.log(2)


def test_pick_indices_first_or_random():
    np.testing.assert_array_equal(explore.pick_indices(100, 5), np.arange(5))
    r1, r2 = explore.pick_indices(100, 5, True, 3), explore.pick_indices(100, 5, True, 3)
    np.testing.assert_array_equal(r1, r2)
    assert len(set(r1.tolist())) == 5
    assert not np.array_equal(r1, explore.pick_indices(100, 5, True, 4))
    assert len(explore.pick_indices(3, 8)) == 3


def test_pick_example_has_the_label_and_avoids_the_current_one(runs):
    labels = runs["vae"].dataset.test.labels
    i = explore.pick_example(labels, 3, seed=0)
    assert int(labels[i]) == 3
    others = {explore.pick_example(labels, 3, seed=s, exclude=i) for s in range(10)}
    assert i not in others and all(int(labels[j]) == 3 for j in others)
    assert explore.pick_example(torch.zeros(4, dtype=torch.long), 7) is None


def test_prior_grid_is_seeded_and_temperature_scales_z(runs):
    model = runs["vae"].model
    a = explore.prior_grid(model, 4, 1.0, seed=5)
    assert a.shape == (16, 28, 28) and a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, explore.prior_grid(model, 4, 1.0, seed=5))
    assert not np.array_equal(a, explore.prior_grid(model, 4, 1.0, seed=6))
    z1 = explore.prior_latents(model, 3, 1.0, seed=2)
    z2 = explore.prior_latents(model, 3, 0.5, seed=2)
    torch.testing.assert_close(z2, z1 * 0.5)
    # The same seed gives the same z to two models with the same nz: fair AE vs VAE grids.
    torch.testing.assert_close(explore.prior_latents(runs["ae"].model, 3, 1.0, seed=2), z1)
    cv = explore.prior_grid(runs["cvae"].model, 3, 1.0, seed=1)
    assert cv.shape == (9, 28, 28)


def test_class_grid_rows_differ_by_class_and_columns_share_z(runs):
    model = runs["cvae"].model
    k = 5
    grid = explore.class_grid(model, k, 1.0, seed=3)
    assert grid.shape == (10 * k, 28, 28)
    z = explore.prior_latents(model, k, 1.0, seed=3)
    for c in (0, 4, 9):
        np.testing.assert_allclose(grid[c * k:(c + 1) * k], explore.decode(model, z, c), atol=1e-6)
    rows = grid.reshape(10, k, 28, 28)
    # Each row is its class: the rows differ from one another.
    row_means = rows.mean(axis=1)
    diffs = [np.abs(row_means[a] - row_means[b]).mean() for a in range(10) for b in range(a + 1, 10)]
    assert min(diffs) > 1e-3
    # One digit's grid uses the same z draw.
    np.testing.assert_allclose(explore.digit_grid(model, 4, 2, 1.0, seed=3)[:2],
                               explore.decode(model, explore.prior_latents(model, 4, 1.0, 3)[:2], 4),
                               atol=1e-6)


def test_conditional_generation_refuses_a_vae(runs):
    with pytest.raises(ValueError, match="needs a CVAE"):
        explore.class_grid(runs["vae"].model)
    with pytest.raises(ValueError, match="needs a CVAE"):
        explore.digit_grid(runs["ae"].model, 3)


def test_lerp_and_slerp_agree_at_the_ends_and_differ_in_the_middle():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(16, generator=g), torch.randn(16, generator=g)
    t = torch.tensor([0.0, 0.5, 1.0])
    lin, sph = explore.lerp(z0, z1, t), explore.slerp(z0, z1, t)
    for zz in (lin, sph):
        torch.testing.assert_close(zz[0], z0)
        torch.testing.assert_close(zz[2], z1)
    assert (lin[1] - sph[1]).abs().max() > 1e-2
    # slerp keeps the norm of codes with equal norms; lerp shrinks it in the middle.
    u0, u1 = z0 / z0.norm(), z1 / z1.norm()
    mid_s = explore.slerp(u0, u1, torch.tensor([0.5]))[0]
    mid_l = explore.lerp(u0, u1, torch.tensor([0.5]))[0]
    assert abs(float(mid_s.norm()) - 1) < 1e-5 and float(mid_l.norm()) < 0.99
    # Parallel codes: slerp falls back to lerp instead of dividing by zero.
    par = explore.slerp(z0, 2 * z0, torch.tensor([0.5]))
    torch.testing.assert_close(par[0], 1.5 * z0)
    with pytest.raises(ValueError):
        explore.interpolate(z0, z1, 0.5, "cubic")


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
@pytest.mark.parametrize("method", ["linear", "slerp"])
def test_interpolation_endpoints_are_the_decoded_encodings(runs, kind, method):
    run = runs[kind]
    test = run.dataset.test
    x, y = explore.split_images(test, [0, 1])
    y0, y1 = int(y[0]), int(y[1])
    pair = explore.encode_pair(run.model, x[0], x[1], y0, y1)
    strip = explore.interpolation_strip(run.model, pair, x[0], x[1], steps=6, method=method)
    assert strip.shape == (8, 28, 28)
    np.testing.assert_allclose(strip[0], x[0, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(strip[-1], x[1, 0].numpy(), atol=1e-6)
    l0 = y0 if kind == "cvae" else None
    l1 = y1 if kind == "cvae" else None
    end0 = explore.decode(run.model, run.model.encode(x[:1], l0).mean, l0)[0]
    np.testing.assert_allclose(strip[1], end0, atol=1e-5)
    # The end decodes z1; a CVAE keeps the start label by default, or mixes to the end label.
    end1 = explore.decode(run.model, run.model.encode(x[1:], l1).mean, l0)[0]
    np.testing.assert_allclose(strip[-2], end1, atol=1e-5)
    if kind == "cvae":
        mixed = explore.interpolation_strip(run.model, pair, x[0], x[1], 6, method, mix_label=True)
        np.testing.assert_allclose(mixed[-2], explore.decode(run.model, pair.z1[None], y1)[0], atol=1e-5)
        np.testing.assert_allclose(mixed[1], strip[1], atol=1e-6)


def test_decode_pair_at_matches_the_strip_and_methods_differ_in_the_middle(runs):
    model = runs["vae"].model
    x, y = explore.split_images(runs["vae"].dataset.test, [2, 5])
    pair = explore.encode_pair(model, x[0], x[1])
    lin = explore.decode_pair_at(model, pair, [0.0, 0.5, 1.0], "linear")
    sph = explore.decode_pair_at(model, pair, [0.0, 0.5, 1.0], "slerp")
    np.testing.assert_allclose(lin[[0, 2]], sph[[0, 2]], atol=1e-5)
    assert np.abs(lin[1] - sph[1]).max() > 1e-3
    strip = explore.interpolation_strip(model, pair, x[0], x[1], 3, "linear")
    np.testing.assert_allclose(strip[1:4], lin, atol=1e-6)
    one = explore.decode_pair_at(model, pair, 0.5, "slerp")
    np.testing.assert_allclose(one[0], sph[1], atol=1e-6)


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_latent_map_projects_every_test_image_and_inverts(runs, kind):
    run = runs[kind]
    enc = explore.encode_split(run.model, run.dataset.test, batch_size=64)
    n = len(run.dataset.test)
    assert enc.means.shape == (n, 8)
    assert (enc.log_sigmas is None) == (kind == "ae")
    m = explore.latent_map(enc)
    assert m.coords.shape == (n, 2)
    np.testing.assert_array_equal(m.labels, run.dataset.test.labels.numpy())
    # Orthonormal directions; the coords are the projections; the first axis explains the most.
    torch.testing.assert_close(m.components.T @ m.components, torch.eye(2), atol=1e-5, rtol=0)
    np.testing.assert_allclose(m.project(enc.means), m.coords, atol=1e-4)
    assert m.explained[0] >= m.explained[1] > 0
    assert abs(float(m.coords[:, 0].mean())) < 1e-3
    # The inverse map projects back onto the point clicked.
    xy = np.array([[0.3, -0.7]], np.float32)
    np.testing.assert_allclose(m.project(m.to_latent(xy)), xy, atol=1e-5)
    # Deterministic, including the signs of the axes.
    np.testing.assert_array_equal(explore.latent_map(enc).coords, m.coords)
    # Matches the first principal direction of the covariance.
    c = enc.means.double() - enc.means.double().mean(0)
    evals, evecs = torch.linalg.eigh(c.T @ c)
    assert abs(float(evecs[:, -1] @ m.components[:, 0].double())) > 0.999


def test_latent_map_degenerate_inputs():
    one_dim = explore.Encoded(torch.randn(10, 1), None, np.zeros(10, np.int64))
    m = explore.latent_map(one_dim)
    assert m.coords.shape == (10, 2) and np.all(m.coords[:, 1] == 0)
    empty = explore.latent_map(explore.Encoded(torch.zeros(0, 4), None, np.zeros(0, np.int64)))
    assert empty.coords.shape == (0, 2)


def test_nearest_point():
    coords = np.array([[0, 0], [1, 0], [0, 1]], np.float32)
    assert explore.nearest_point(coords, (0.9, 0.1), (0.2, 0.2)) == 1
    assert explore.nearest_point(coords, (0.5, 0.5), (0.2, 0.2)) is None
    assert explore.nearest_point(coords[:0], (0, 0), (1, 1)) is None


def test_dimension_usage_orders_by_kl(runs):
    run = runs["vae"]
    enc = explore.encode_split(run.model, run.dataset.test)
    u = explore.dimension_usage(enc)
    assert u.measure == "KL" and u.usage.shape == (8,)
    assert np.all(np.diff(u.usage[u.order]) <= 0)
    mu, ls = enc.means.double(), enc.log_sigmas.double()
    total = (0.5 * (mu**2 + torch.exp(2 * ls) - 1 - 2 * ls)).sum(1).mean()
    assert u.usage.sum() == pytest.approx(float(total), rel=1e-6)
    ae = explore.dimension_usage(explore.encode_split(runs["ae"].model, runs["ae"].dataset.test))
    assert ae.measure == "variance" and np.all(ae.low < ae.high)


def test_grids_render_with_the_cli_renderer(runs):
    grid = make_grid(explore.prior_grid(runs["vae"].model, 3), ncols=3)
    assert grid.shape == (3 * 30 + 2, 3 * 30 + 2)


def test_inputs_follow_the_model_device(runs):
    # CPU here; the functions move inputs to model.device and return CPU numpy either way.
    model = runs["cvae"].model
    x, y = explore.split_images(runs["cvae"].dataset.test, [0, 1, 2])
    r = explore.reconstruct(model, x, y)
    assert isinstance(r.reconstructions, np.ndarray)
    assert explore.decode(model, torch.zeros(8), 3).shape == (1, 28, 28)


def test_grid_cell_at_inverts_make_grid():
    grid = make_grid(np.zeros((7, 28, 28)), ncols=3)
    assert grid.shape == (3 * 30 + 2, 3 * 30 + 2)
    assert explore.grid_cell_at(2, 2, 7, 3) == 0
    assert explore.grid_cell_at(2 + 30 + 27.5, 2 + 2 * 30 + 1, 7, 3) is None  # no 8th image
    assert explore.grid_cell_at(2 + 30 + 5, 2 + 30 + 5, 7, 3) == 4
    assert explore.grid_cell_at(1, 5, 7, 3) is None  # the border
    assert explore.grid_cell_at(30.5, 5, 7, 3) is None  # the gap between columns
    assert explore.grid_cell_at(2 + 3 * 30 + 5, 5, 7, 3) is None  # right of the last column


def test_unused_dimensions_are_those_with_almost_no_kl():
    mu = torch.zeros(100, 3)
    mu[:, 0] = torch.linspace(-2, 2, 100)  # informative: the codes spread out
    ls = torch.zeros(100, 3)
    ls[:, 2] = -1.0  # σ = e^-1 around 0: KL ≈ 0.57 nats, used
    usage = explore.dimension_usage(explore.Encoded(mu, ls, np.zeros(100, np.int64)))
    np.testing.assert_array_equal(explore.unused_dimensions(usage), [False, True, False])
    assert explore.unused_dimensions(usage, threshold=0.6).tolist() == [False, True, True]
    # An AE has no KL: no dimension is called unused, even one that never varies.
    ae = explore.dimension_usage(explore.Encoded(mu, None, np.zeros(100, np.int64)))
    assert not explore.unused_dimensions(ae).any()
