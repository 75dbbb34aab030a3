"""make_grid (torchvision underneath): cell placement, padding, and the shapes callers rely on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_explorer.training.explore.render import make_grid


def _cells(n: int, h: int = 4, w: int = 3) -> np.ndarray:
    """Image i is filled with (i + 1) / 100: each cell can be found in the grid."""
    return np.stack([np.full((h, w), (i + 1) / 100, np.float32) for i in range(n)])


@pytest.mark.parametrize("n, ncols, pad", [(7, 3, 2), (3, 5, 2), (1, None, 2), (1, None, 0),
                                           (12, 4, 1), (5, 1, 3), (2, None, 2)])
def test_cells_are_placed_row_major_with_the_padding_value_around(n, ncols, pad):
    h, w, pv = 4, 3, 0.5
    grid = make_grid(_cells(n, h, w), ncols=ncols, pad=pad, pad_value=pv)
    cols = ncols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    assert grid.shape == (rows * (h + pad) + pad, cols * (w + pad) + pad)
    assert grid.dtype == np.float32
    expected = np.full(grid.shape, pv, np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        expected[y : y + h, x : x + w] = (i + 1) / 100
    np.testing.assert_array_equal(grid, expected)  # blank cells in the last row: padding value


def test_no_images_give_one_blank_cell():
    grid = make_grid(np.zeros((0, 28, 28), np.float32))
    np.testing.assert_array_equal(grid, np.full((32, 32), 0.5, np.float32))


def test_tensors_flat_images_and_clipping():
    x = torch.linspace(-1, 2, 784 * 2).reshape(2, 784)
    grid = make_grid(x, ncols=2, pad=0)
    assert grid.shape == (28, 56)
    assert grid.min() == 0.0 and grid.max() == 1.0
    np.testing.assert_array_equal(grid[:, :28], np.clip(x[0].reshape(28, 28).numpy(), 0, 1))
