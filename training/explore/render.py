"""Image grids as numpy arrays, shared by the CLI's PNG export and the GUI panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def to_numpy_images(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """(n, H, W) float32 in [0, 1] from a tensor or array of images (flat 784 accepted)."""
    a = images.detach().float().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images, np.float32)
    if a.ndim == 2 and a.shape[1] == 784:
        a = a.reshape(-1, 28, 28)
    if a.ndim == 2:
        a = a[None]
    return np.clip(a.astype(np.float32, copy=False), 0.0, 1.0)


def make_grid(images: torch.Tensor | np.ndarray, ncols: int | None = None, pad: int = 2,
              pad_value: float = 0.5) -> np.ndarray:
    """Tile (n, H, W) images row-major into one (rows·(H+pad)+pad, cols·(W+pad)+pad) array.

    torchvision.utils.make_grid's layout (a `pad` border around every cell), written out in
    numpy: importing torchvision costs ~3 s of start-up for what is one reshape. A last row
    that is not full is filled with blank cells, so the grid keeps the shape grid_cell_at
    expects.
    """
    a = to_numpy_images(images)
    n, h, w = a.shape
    ncols = ncols or int(np.ceil(np.sqrt(max(n, 1))))
    nrows = max(1, int(np.ceil(n / ncols)))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), pad_value, np.float32)
    cells = grid[pad:, pad:].reshape(nrows, h + pad, ncols, w + pad)[:, :h, :, :w]
    flat = np.full((nrows * ncols, h, w), pad_value, np.float32)
    flat[:n] = a
    cells[...] = flat.reshape(nrows, ncols, h, w).transpose(0, 2, 1, 3)
    return grid


def to_uint8(grid: np.ndarray) -> np.ndarray:
    return (np.clip(grid, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_png(grid: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Write a [0,1] grayscale array as PNG (nearest-neighbour upscaled by `scale`)."""
    from PIL import Image  # torchvision's own dependency; imported late to keep start-up fast

    img = to_uint8(grid)
    if scale > 1:
        img = img.repeat(scale, axis=0).repeat(scale, axis=1)
    path = Path(path)
    Image.fromarray(img).save(path, format="PNG")
    return path


def stack_grids(grids: list[np.ndarray], gap: int = 6, pad_value: float = 0.5) -> np.ndarray:
    """Mosaics one above the other (left-aligned), e.g. two runs' images as one PNG."""
    grids = [g for g in grids if g is not None]
    width = max(g.shape[1] for g in grids)
    parts = []
    for i, g in enumerate(grids):
        if i:
            parts.append(np.full((gap, width), pad_value, np.float32))
        parts.append(np.pad(g, ((0, 0), (0, width - g.shape[1])), constant_values=pad_value))
    return np.concatenate(parts)


def side_by_side(grids: list[np.ndarray], gap: int = 6, pad_value: float = 0.5) -> np.ndarray:
    """Mosaics next to each other (top-aligned)."""
    return stack_grids([g.T for g in grids], gap, pad_value).T.copy()
