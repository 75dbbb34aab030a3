"""The sprites dataset: dSprites' factor grid drawn here, its geometry, determinism and loading."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latent_explorer.training.data import sprites
from latent_explorer.training.data.sources import default_epochs, get_source, load_dataset
from latent_explorer.training.data.sprites import render

def heart_area() -> float:
    """The heart's area in its own units, by a fine grid (independent of the renderer's
    sampling). A second of work: done by the test that needs it, not at every collection."""
    g = np.linspace(-1.5, 1.5, 3001)
    x, y = np.meshgrid(g, g)
    return float((((x**2 + y**2 - 1) ** 3 - x**2 * y**3) <= 0).sum() * (g[1] - g[0]) ** 2)


def one(shape, scale=1.0, orientation=0.0, x=0.5, y=0.5) -> np.ndarray:
    """One sprite as (64, 64) int."""
    return render([shape], [scale], [orientation], [x], [y])[0].astype(int)


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    """(column, row) of the mean inside pixel centre."""
    rows, cols = np.nonzero(img)
    return float(cols.mean() + 0.5), float(rows.mean() + 0.5)


def reference(shape, scale, orientation, x, y, pad: int = 0) -> np.ndarray:
    """The same sprite by the plainest route: every pixel of the frame, float64, one image;
    `pad` pixels more on every side (a frame of 64 + 2 pad, the image in its middle)."""
    j = np.arange(-pad, 64 + pad) + 0.5
    px, py = np.meshgrid(j, j)  # columns, rows
    unit = 13.0 * scale
    cx, cy = 16 + 32 * x, 16 + 32 * y
    right, up = (px - cx) / unit, (cy - py) / unit
    c, s = math.cos(orientation), math.sin(orientation)
    u, v = c * right + s * up, -s * right + c * up  # turned back by the orientation
    if shape == 0:
        inside = (abs(u) <= 0.85) & (abs(v) <= 0.85)
    elif shape == 1:
        inside = (u / 1.2) ** 2 + (v / 0.6) ** 2 <= 1
    else:
        hx, hy = u / 0.9, v / 0.9 + 0.118
        inside = (hx**2 + hy**2 - 1) ** 3 - hx**2 * hy**3 <= 0
    return inside.astype(int) * 255


# -- the grid ---------------------------------------------------------------------------------
def test_the_factor_grid_is_dsprites():
    assert sprites.FACTOR_NAMES == ("shape", "scale", "orientation", "x", "y")
    assert sprites.SHAPE_NAMES == ("square", "ellipse", "heart")
    assert sprites.SHAPES.tolist() == [0, 1, 2]
    assert np.allclose(sprites.SCALES, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], atol=1e-12)
    o = sprites.ORIENTATIONS
    assert len(o) == 40 and o[0] == 0.0 and o[-1] == 2 * math.pi  # both ends
    assert np.allclose(np.diff(o), 2 * math.pi / 39)
    p = sprites.POSITIONS
    assert len(p) == 32 and p[0] == 0.0 and p[-1] == 1.0 and np.allclose(np.diff(p), 1 / 31)
    assert sprites.GRID_SHAPE == (3, 6, 40, 32, 32) and math.prod(sprites.GRID_SHAPE) == 737_280
    assert len(sprites.HUES) == 6 and sprites.HUES[1] == 1 / 6


def test_sampled_factors_are_distinct_grid_points_and_seeded():
    idx = sprites.sample_factors(5000, seed=1)
    assert idx.shape == (5000, 5) and idx.dtype == np.int64
    assert (idx >= 0).all() and (idx < np.array(sprites.GRID_SHAPE)).all()
    assert len({tuple(r) for r in idx}) == 5000  # no grid point twice
    assert np.array_equal(idx, sprites.sample_factors(5000, seed=1))
    assert not np.array_equal(idx, sprites.sample_factors(5000, seed=2))
    # uniform: each shape about a third, each orientation about 1/40
    assert np.allclose(np.bincount(idx[:, 0]) / 5000, 1 / 3, atol=0.03)
    assert np.bincount(idx[:, 2], minlength=40).min() > 5000 / 40 * 0.6
    values = sprites.factor_values(idx[:3])
    assert values[0, 2] == sprites.ORIENTATIONS[idx[0, 2]] and values[1, 3] == sprites.POSITIONS[idx[1, 3]]
    with pytest.raises(ValueError):
        sprites.sample_factors(737_281, seed=0)


# -- the drawing ------------------------------------------------------------------------------
def test_render_matches_a_plain_full_frame_drawing():
    """The vectorised, windowed float32 renderer against a per-pixel float64 one."""
    rng = np.random.default_rng(0)
    n = 30
    f = np.stack([rng.integers(0, 3, n), rng.uniform(0.5, 1, n), rng.uniform(0, 2 * math.pi, n),
                  rng.uniform(0, 1, n), rng.uniform(0, 1, n)], axis=1)
    got = render(*f.T)
    assert got.shape == (n, 64, 64) and got.dtype == np.uint8
    assert set(np.unique(got).tolist()) <= {0, 255}  # binary, like dSprites
    for i in range(n):
        want = reference(int(f[i, 0]), *f[i, 1:])
        # float32 against float64: a pixel centre on the very boundary may go either way
        assert (got[i] != want).sum() <= 1, i


def test_centre_of_mass_follows_x_right_and_y_down():
    for shape in (0, 1, 2):
        # the heart's centre of mass sits above its box's centre (the lobes weigh more): by
        # the same amount wherever it is
        lift = 16 + 32 * 0.5 - centre_of_mass(one(shape))[1]
        assert abs(lift) < 0.3 if shape < 2 else 1.0 < lift < 3.0
        for x, y in ((0.0, 0.0), (0.25, 0.75), (1.0, 0.5), (0.6, 1.0)):
            cx, cy = centre_of_mass(one(shape, 1.0, 0.0, x, y))
            # the centre at 16 + 32 x px right, 16 + 32 y px down
            assert abs(cx - (16 + 32 * x)) < 0.3
            assert abs(cy + lift - (16 + 32 * y)) < 0.3
    # moving by one grid step moves the sprite by 32/31 px
    a = centre_of_mass(one(1, 0.7, 0.0, sprites.POSITIONS[3], 0.5))[0]
    b = centre_of_mass(one(1, 0.7, 0.0, sprites.POSITIONS[4], 0.5))[0]
    assert abs((b - a) - 32 / 31) < 0.2


def test_every_sprite_stays_inside_the_frame():
    """Scale 1, every orientation, at all four corners of the position range: drawn on a
    larger canvas, nothing lies outside the 64 x 64 image, and the image shows all of it."""
    for shape in (0, 1, 2):
        for o in sprites.ORIENTATIONS[::3]:
            for x, y in ((0, 0), (0, 1), (1, 0), (1, 1)):
                big = reference(shape, 1.0, o, x, y, pad=6)
                inner = big[6:-6, 6:-6]
                assert big.sum() == inner.sum(), (shape, o, x, y)
                assert (one(shape, 1.0, o, x, y) != inner).sum() <= 1


def test_area_grows_with_the_square_of_the_scale():
    # Areas averaged over the 32 x positions: one binary sprite's area depends on where its
    # edges fall between pixel centres (a 11.05-px square covers 11 or 12 columns).
    def area(shape, scale):
        n = 32 * 4
        xs = np.repeat(sprites.POSITIONS, 4)
        ys = np.tile(sprites.POSITIONS[[3, 10, 17, 24]], 32)
        imgs = render(np.full(n, shape), np.full(n, scale), np.full(n, 0.3), xs, ys)
        return (imgs > 0).sum() / n

    unit_area = {0: 1.7**2, 1: math.pi * 1.2 * 0.6, 2: heart_area() * 0.9**2}
    for shape, units in unit_area.items():
        full = area(shape, 1.0)
        assert abs(full / (units * 13.0**2) - 1) < 0.02  # the drawn area is the shape's
        for s in sprites.SCALES:
            ratio = area(shape, s) / full
            assert abs(ratio / s**2 - 1) < 0.03, (shape, s, ratio)
    # at scale 1 the square is a third of the image wide, the ellipse nearly a half
    cols = np.nonzero(one(0).any(0))[0]
    assert 20 <= len(cols) <= 24
    assert 29 <= len(np.nonzero(one(1).any(0))[0]) <= 33


def test_orientation_turns_counter_clockwise_and_wraps_at_two_pi():
    for shape in (0, 1, 2):
        for x, y, s in ((0.3, 0.6, 1.0), (sprites.POSITIONS[7], sprites.POSITIONS[20], 0.5)):
            assert np.array_equal(one(shape, s, 0.0, x, y), one(shape, s, 2 * math.pi, x, y))
    # a square a quarter turn round is the same square, exactly
    for x in (0.5, sprites.POSITIONS[11]):
        assert np.array_equal(one(0, 0.9, 0.0, x, 0.3), one(0, 0.9, math.pi / 2, x, 0.3))
    # the ellipse at 45 degrees counter-clockwise runs from bottom-left to top-right
    rows, cols = np.nonzero(one(1, 1.0, math.pi / 4))
    # rows count down: up-right is negative; an ellipse of axes a, b at 45 degrees has the
    # correlation (a^2 - b^2) / (a^2 + b^2) = 0.6 between its coordinates
    assert abs(np.corrcoef(cols, rows)[0, 1] + 0.6) < 0.03
    # the heart, point down at 0, is not the same upside down; half a turn flips it about its
    # centre (32, 32), as it is symmetric left to right
    up, down = one(2, 1.0, 0.0), one(2, 1.0, math.pi)
    assert (up != down).sum() > 50
    assert (np.flip(up, (0, 1)) != down).sum() <= 2
    # two lobes at the top (the dip between them is 0.236 units, 2.8 px, deep), one point below
    rows = np.nonzero(up)[0]
    runs = [(np.diff(up[r]) != 0).sum() // 2 for r in range(rows.min(), rows.max() + 1)]
    assert runs[0] == 2 and runs[1] == 2 and runs[-1] == 1 and max(runs) == 2


def test_colour_sprites_are_the_grey_ones_painted_one_hue():
    idx = sprites.sample_factors(60, seed=4, colour=True)
    assert idx.shape == (60, 6)
    colour = sprites.render_index(idx)
    grey = sprites.render_index(idx[:, :5])
    assert colour.shape == (60, 3, 64, 64) and grey.shape == (60, 1, 64, 64)
    assert set(np.unique(colour).tolist()) <= {0, 255}  # each channel binary: Bernoulli fits
    for i in range(60):
        mask = grey[i, 0] > 0
        want = sprites.PALETTE[idx[i, 5]]
        assert (colour[i][:, mask] == want[:, None]).all()
        assert colour[i][:, ~mask].max() == 0  # black around it
    assert len(set(idx[:, 5].tolist())) == 6


# -- generation, caching, loading -------------------------------------------------------------
def test_generation_is_deterministic_and_train_test_disjoint():
    a = sprites.generate(300, 100, seed=7)
    b = sprites.generate(300, 100, seed=7)
    for k in a:
        assert a[k].tobytes() == b[k].tobytes()
    c = sprites.generate(300, 100, seed=8)
    assert a["train_images"].tobytes() != c["train_images"].tobytes()
    assert a["train_images"].shape == (300, 1, 64, 64) and a["test_factors"].shape == (100, 5)
    points = {tuple(r) for r in np.concatenate([a["train_factors"], a["test_factors"]])}
    assert len(points) == 400


def test_load_sprites_labels_factors_and_images_agree():
    ds = sprites.load_sprites(200, 50, seed=3)
    assert ds.name == "sprites" and ds.class_names == ("square", "ellipse", "heart")
    assert ds.factor_names == sprites.FACTOR_NAMES and ds.likelihood == "bernoulli"
    assert ds.image_shape == (1, 64, 64) and len(ds.train) == 200 and len(ds.test) == 50
    for split in (ds.train, ds.test):
        f = split.factors
        assert f.dtype == torch.float32 and f.shape == (len(split), 5)
        assert torch.equal(split.labels, f[:, 0].long()) and split.labels.dtype == torch.int64
        for k, grid in enumerate(sprites.GRID):  # every value a grid value
            assert np.isin(f[:, k].numpy(), grid.astype(np.float32)).all()
        # the images are the factors' drawings
        again = render(*f.numpy().astype(np.float64).T)
        assert (split.images[:, 0].numpy() != again).sum() <= len(split)
    col = sprites.load_sprites(40, 10, seed=3, colour=True)
    assert col.name == "sprites-colour" and col.image_shape == (3, 64, 64)
    assert col.factor_names == (*sprites.FACTOR_NAMES, "hue") and col.likelihood == "bernoulli"
    assert np.isin(col.train.factors[:, 5].numpy(), sprites.HUES.astype(np.float32)).all()


def test_large_sets_are_cached_by_size_seed_and_colour(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    monkeypatch.setattr(sprites, "CACHE_FROM", 100)
    small = sprites.load_sprites(40, 10, seed=1)  # under CACHE_FROM: drawn, not kept
    assert not (tmp_path / "sprites").exists() and "generated" in small.description
    first = sprites.load_sprites(150, 30, seed=1)
    path = sprites.cache_path(150, 30, 1, False)
    assert path.is_file() and path.parent == tmp_path / "sprites"
    monkeypatch.setattr(sprites, "generate", lambda *a, **k: pytest.fail("should load the cache"))
    second = sprites.load_sprites(150, 30, seed=1)
    assert "cached" in second.description
    assert torch.equal(first.train.images, second.train.images)
    assert torch.equal(first.test.factors, second.test.factors)
    assert sprites.cache_path(150, 30, 2, False) != path != sprites.cache_path(150, 30, 1, True)


def test_the_sources_load_by_name(monkeypatch):
    monkeypatch.setattr(sprites, "N_TRAIN", 120)
    monkeypatch.setattr(sprites, "N_TEST", 30)
    for name, shape in (("sprites", (1, 64, 64)), ("sprites-colour", (3, 64, 64))):
        src = get_source(name)
        assert not src.downloads and src.image_shape == shape and src.likelihood == "bernoulli"
        assert src.class_names == sprites.SHAPE_NAMES
        ds = load_dataset(name, allow_download=False)
        assert ds.name == name and ds.image_shape == shape and len(ds.train) == 120
        assert torch.equal(ds.train.labels, ds.train.factors[:, 0].long())
    # the registered size gives the course budget of steps in a sensible number of epochs
    n = get_source("sprites").n_train
    assert n == 12_000 and get_source("sprites-colour").n_train == 12_000
    assert default_epochs(n, 64) == 24  # ceil(4500 / 188)
