"""Sprites: dSprites' factor grid, rendered here, with the factor values kept per image.

dSprites (Higgins et al. 2017, "beta-VAE"; google-deepmind/dsprites-dataset) is every
combination of 3 shapes (square, ellipse, heart) x 6 scales (linspace(0.5, 1, 6)) x 40
orientations (linspace(0, 2 pi, 40), both ends included, so 0 and 2 pi are the same picture)
x 32 x 32 positions (linspace(0, 1, 32) each): 737,280 binary 64x64 images. Its renderer was
never published, so this one draws the same grid with numpy, vectorised and deterministic:

- each pixel is inside or not (0 or 255, no anti-aliasing, binary like dSprites), tested at
  its centre (j + 0.5, i + 0.5) against the continuous shape, so sub-pixel changes of scale,
  position and rotation still move the boundary;
- shapes in units of `UNIT` pixels: a square of half-side 0.85, an ellipse of semi-axes
  1.2 x 0.6 and the heart (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 shrunk by 0.9 and centred on its
  bounding box; every one fits in a circle of radius 1.21 units (15.7 px at scale 1), so at
  scale 1 the square is 22 px wide, the ellipse 31 px long and the heart 27 px wide: a third
  to a half of the image, as in dSprites;
- x moves the centre right, y down, over [16, 48] px: the shape stays inside the frame
  whatever its scale and orientation; the orientation turns it counter-clockwise on screen.

The colour variant (`colour=True`) paints each sprite in one of six fully saturated hues on
black (red, yellow, green, cyan, blue, magenta: hue k/6), kept as a sixth factor "hue"; every
channel is still 0 or 255, so the Bernoulli likelihood still fits exactly.

Default size (`N_TRAIN` / `N_TEST` = 12,000 / 2,000, distinct grid points): 188 steps of 64 an
epoch, so the course budget (COURSE_STEPS, training/data/sources.py) is 24 epochs. Measured on
this project's 2-core machine (load about 2 from other work; /tmp/epoch_time.py in the report):
one epoch of the course VAE widened to 4,096 inputs (4096-256-64-2x32, Adam, batch 64, 2 torch
threads) takes about 4.5 s, so a default run trains in about 2 minutes (the app's own
`train --model vae --dataset sprites --epochs 1`, with its progress bar and test pass, took 14 s
for the epoch with other work on both cores: 5-6 minutes at worst). Generating the 14,000
images takes 0.6-1.0 s; from CACHE_FROM images on, they are kept as .npz in the cache folder
(one file per size, seed and colour), smaller sets are drawn again each time.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import numpy as np

SIZE = 64
FACTOR_NAMES = ("shape", "scale", "orientation", "x", "y")
COLOUR_FACTOR_NAMES = (*FACTOR_NAMES, "hue")
SHAPE_NAMES = ("square", "ellipse", "heart")
# The dSprites grid (dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz, its `latents_possible_values`).
SHAPES = np.array([0.0, 1.0, 2.0])
SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40)  # 0 and 2 pi both: dSprites' grid has them both
POSITIONS = np.linspace(0.0, 1.0, 32)
# Six hues on the colour wheel, each fully saturated: channels all 0 or 255.
HUES = np.arange(6) / 6.0
PALETTE = np.array([[255, 0, 0], [255, 255, 0], [0, 255, 0],
                    [0, 255, 255], [0, 0, 255], [255, 0, 255]], dtype=np.uint8)
GRID = (SHAPES, SCALES, ORIENTATIONS, POSITIONS, POSITIONS)
GRID_SHAPE = tuple(len(g) for g in GRID)  # (3, 6, 40, 32, 32): 737,280 images
COLOUR_GRID_SHAPE = (*GRID_SHAPE, len(HUES))

UNIT = 13.0  # pixels per shape unit at scale 1
RADIUS = 1.21  # every shape lies within this many units of its centre (square corner: 1.202)
MARGIN = 16.0  # > RADIUS * UNIT + 0.5: the centre's distance to the frame at x or y = 0 or 1
SQUARE_HALF = 0.85
ELLIPSE_AXES = (1.2, 0.6)
HEART_SHRINK = 0.9
HEART_CENTRE = 0.118  # half of (1.236 - 1): the curve spans y in [-1, 1.236]

N_TRAIN = 12_000
N_TEST = 2_000
CHUNK = 2048  # images rendered at once: (2048, 34, 34) float32 arrays of 9 MB
WINDOW = 34  # the box tested around each centre: > 2 * (RADIUS * UNIT + 1)
CACHE_FROM = 10_000  # images: about 0.7 s to draw; from here on a cached .npz loads faster
RENDER_VERSION = 1  # part of the cache key: bump when the drawing changes


def factor_values(index: np.ndarray) -> np.ndarray:
    """Grid indices (n, 5) or (n, 6) as the factors' values, float64 (hue: k/6)."""
    index = np.asarray(index)
    grids = (*GRID, HUES)[: index.shape[1]]
    return np.stack([g[index[:, k]] for k, g in enumerate(grids)], axis=1)


def sample_factors(n: int, seed: int, colour: bool = False) -> np.ndarray:
    """`n` distinct grid points drawn uniformly, as indices (n, 5) int64 ((n, 6) with hue)."""
    shape = COLOUR_GRID_SHAPE if colour else GRID_SHAPE
    total = math.prod(shape)
    if not 0 <= n <= total:
        raise ValueError(f"the grid has {total:,} images, asked for {n:,}")
    flat = np.random.default_rng(seed).choice(total, size=n, replace=False)
    return np.stack(np.unravel_index(flat, shape), axis=1).astype(np.int64)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether shape-frame points (u right, v up, in units) are inside `shape`."""
    if shape == 0:
        return np.maximum(np.abs(u), np.abs(v)) <= SQUARE_HALF
    if shape == 1:
        a, b = ELLIPSE_AXES
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    x = u / HEART_SHRINK
    y = v / HEART_SHRINK + HEART_CENTRE
    x2 = x * x
    return (x2 + y * y - 1.0) ** 3 - x2 * y ** 3 <= 0.0


def render(shape: np.ndarray, scale: np.ndarray, orientation: np.ndarray,
           x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Binary sprites (n, 64, 64) uint8 in {0, 255}, one per row of the factor values given.

    `shape` is 0/1/2 (square, ellipse, heart), `scale` a size factor (1: the full size),
    `orientation` in radians, `x`, `y` in [0, 1]; any values, not only the grid's.
    """
    shape, scale, orientation, x, y = (np.atleast_1d(np.asarray(a, dtype=np.float64))
                                       for a in (shape, scale, orientation, x, y))
    n = len(shape)
    out = np.zeros((n, SIZE, SIZE), np.uint8)
    # cos/sin rounded to 12 places: a quarter turn is then exactly (0, 1), so a turned square
    # tests the same points as an unturned one (cos(pi/2) is 6e-17, not 0); angles mod 2 pi,
    # so 2 pi draws exactly what 0 does.
    theta = np.mod(orientation, 2 * np.pi)
    cos, sin = np.round(np.cos(theta), 12), np.round(np.sin(theta), 12)
    cx = MARGIN + x * (SIZE - 2 * MARGIN)
    cy = MARGIN + y * (SIZE - 2 * MARGIN)
    size = scale * UNIT  # pixels per unit
    # Only a WINDOW x WINDOW box around each centre is tested: the shape lies within
    # RADIUS * UNIT = 15.7 px of it, so the box covers it (and costs a quarter of the frame).
    ox = np.clip(np.floor(cx).astype(np.int64) - WINDOW // 2, 0, SIZE - WINDOW)
    oy = np.clip(np.floor(cy).astype(np.int64) - WINDOW // 2, 0, SIZE - WINDOW)
    steps = np.arange(WINDOW)
    for s in range(3):
        rows = np.flatnonzero(shape == s)
        for start in range(0, len(rows), CHUNK):
            r = rows[start:start + CHUNK]
            col = ox[r, None] + steps  # (m, WINDOW) pixel columns and rows
            row = oy[r, None] + steps
            px = col.astype(np.float32) + np.float32(0.5)  # pixel centres
            py = row.astype(np.float32) + np.float32(0.5)

            def f32(a: np.ndarray) -> np.ndarray:
                return a[r].astype(np.float32)[:, None, None]

            dx = (px[:, None, :] - f32(cx)) / f32(size)  # (m, 1, W): right
            up = (f32(cy) - py[:, :, None]) / f32(size)  # (m, W, 1): up
            c, sn = f32(cos), f32(sin)
            # the pixel in the shape's own frame: rotated back by the orientation
            u = c * dx + sn * up
            v = c * up - sn * dx
            inside = _inside(s, u, v).view(np.uint8) * np.uint8(255)
            out[r[:, None, None], row[:, :, None], col[:, None, :]] = inside
    return out


def render_index(index: np.ndarray) -> np.ndarray:
    """Images for grid indices (n, 5): (n, 1, 64, 64); with a hue column (n, 6): (n, 3, 64, 64)."""
    values = factor_values(index)
    grey = render(*values[:, :5].T)
    if index.shape[1] == 5:
        return grey[:, None]
    colours = PALETTE[index[:, 5]]  # (n, 3)
    return (grey[:, None] // 255) * colours[:, :, None, None]


def generate(n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0,
             colour: bool = False) -> dict[str, np.ndarray]:
    """Train and test images, labels and factors as numpy arrays (disjoint grid points)."""
    index = sample_factors(n_train + n_test, seed, colour)
    images = render_index(index)
    factors = factor_values(index).astype(np.float32)
    labels = index[:, 0].astype(np.int64)
    return {"train_images": images[:n_train], "train_labels": labels[:n_train],
            "train_factors": factors[:n_train], "test_images": images[n_train:],
            "test_labels": labels[n_train:], "test_factors": factors[n_train:]}


def cache_path(n_train: int, n_test: int, seed: int, colour: bool) -> Path:
    """Where the generated arrays of one (size, seed, colour) are kept."""
    from latent_explorer.training.data.cache_folder import cache_dir

    kind = "colour" if colour else "grey"
    return cache_dir() / "sprites" / f"v{RENDER_VERSION}-{kind}-{n_train}-{n_test}-seed{seed}.npz"


def _arrays(n_train: int, n_test: int, seed: int, colour: bool,
            notify: Callable[[str], None] | None) -> tuple[dict[str, np.ndarray], str]:
    """The arrays from the cache, else generated (and cached when there are many)."""
    path = cache_path(n_train, n_test, seed, colour)
    if path.is_file():
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}, f"cached in {path}"
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file: generated again and replaced
    t0 = time.perf_counter()
    arrays = generate(n_train, n_test, seed, colour)
    took = time.perf_counter() - t0
    if n_train + n_test >= CACHE_FROM:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".part.npz")
        np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub: allow_pickle
        tmp.replace(path)  # atomic: a half-written cache is never read
        if notify:
            notify(f"Generated {n_train + n_test:,} sprites in {took:.1f} s; cached in {path}")
    return arrays, f"generated in {took:.1f} s"


def load_sprites(n_train: int | None = None, n_test: int | None = None, seed: int = 0,
                 colour: bool = False, notify: Callable[[str], None] | None = None):  # -> Dataset
    """A dSprites-style dataset: labels are the shape, `factors` each image's factor values.

    n_train, n_test: None for N_TRAIN, N_TEST (read when called, so a test can make them small).
    """
    import torch

    from latent_explorer.training.data.datasets import Dataset, Split

    n_train = N_TRAIN if n_train is None else n_train
    n_test = N_TEST if n_test is None else n_test
    arrays, how = _arrays(n_train, n_test, seed, colour, notify)

    def split(which: str) -> Split:
        return Split(torch.from_numpy(arrays[f"{which}_images"]),
                     torch.from_numpy(arrays[f"{which}_labels"]),
                     torch.from_numpy(arrays[f"{which}_factors"]))

    name = "sprites-colour" if colour else "sprites"
    look = "sprites in six hues on black" if colour else "binary sprites"
    return Dataset(
        name, split("train"), split("test"),
        f"{name}: {n_train:,} train / {n_test:,} test 64x64 {look} on dSprites' factor "
        f"grid (seed {seed}, {how})",
        SHAPE_NAMES, COLOUR_FACTOR_NAMES if colour else FACTOR_NAMES, "bernoulli")


__all__ = [
    "COLOUR_FACTOR_NAMES", "FACTOR_NAMES", "GRID", "GRID_SHAPE", "HUES", "N_TEST", "N_TRAIN",
    "ORIENTATIONS", "PALETTE", "POSITIONS", "SCALES", "SHAPES", "SHAPE_NAMES", "cache_path",
    "factor_values", "generate", "load_sprites", "render", "render_index", "sample_factors",
]
