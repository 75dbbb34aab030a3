"""Image grids as numpy arrays, shared by the CLI's PNG export and the GUI panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def to_numpy_images(images: torch.Tensor | np.ndarray,
                    image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Display arrays in [0, 1], float32: (n, H, W) for grey images, (n, H, W, 3) for colour.

    Takes images as models and datasets hold them, (n, C, H, W) with C = 1 or 3, or grey
    (n, H, W), one image (H, W) or (C, H, W) when `image_shape` says so, or rows flattened to
    C·H·W with `image_shape` (C, H, W) (a flat 784 is read as a 28×28 digit).
    """
    a = images.detach().float().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images, np.float32)
    if image_shape is not None:
        a = a.reshape(-1, *image_shape)
    elif a.ndim == 2 and a.shape[1] == 784:
        a = a.reshape(-1, 28, 28)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 4:
        if a.shape[1] == 1:
            a = a[:, 0]
        elif a.shape[1] == 3:
            a = a.transpose(0, 2, 3, 1)
        elif a.shape[-1] not in (1, 3):
            raise ValueError(f"images of {a.shape[1]} channels cannot be shown")
    return np.clip(a.astype(np.float32, copy=False), 0.0, 1.0)


def is_colour(a: np.ndarray) -> bool:
    """Whether a display array (one image, a stack or a grid) is RGB: a last axis of 3."""
    return a.ndim >= 3 and a.shape[-1] == 3


def make_grid(images: torch.Tensor | np.ndarray, ncols: int | None = None, pad: int = 2,
              pad_value: float = 0.5, image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Tile images row-major into one (rows·(H+pad)+pad, cols·(W+pad)+pad[, 3]) array.

    torchvision.utils.make_grid's layout (a `pad` border around every cell), written out in
    numpy: importing torchvision costs ~3 s of start-up for what is one reshape. A last row
    that is not full is filled with blank cells, so the grid keeps the shape grid_cell_at
    expects. Grey images give a 2-D grid, colour ones an RGB (…, 3) grid.
    """
    a = to_numpy_images(images, image_shape)
    n, h, w = a.shape[:3]
    extra = a.shape[3:]  # () grey, (3,) colour
    ncols = ncols or int(np.ceil(np.sqrt(max(n, 1))))
    nrows = max(1, int(np.ceil(n / ncols)))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, *extra), pad_value,
                   np.float32)
    cells = grid[pad:, pad:].reshape(nrows, h + pad, ncols, w + pad, *extra)[:, :h, :, :w]
    flat = np.full((nrows * ncols, h, w, *extra), pad_value, np.float32)
    flat[:n] = a
    cells[...] = flat.reshape(nrows, ncols, h, w, *extra).swapaxes(1, 2)
    return grid


def to_uint8(grid: np.ndarray) -> np.ndarray:
    return (np.clip(grid, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_png(grid: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Write a [0,1] grey (H, W) or RGB (H, W, 3) array as PNG (nearest-neighbour upscaled by
    `scale`)."""
    from PIL import Image  # torchvision's own dependency; imported late to keep start-up fast

    img = to_uint8(grid)
    if scale > 1:
        img = img.repeat(scale, axis=0).repeat(scale, axis=1)
    path = Path(path)
    Image.fromarray(img).save(path, format="PNG")
    return path


def _as_rgb(grids: list[np.ndarray]) -> list[np.ndarray]:
    """The grids unchanged when all are grey; else every one as RGB (a grey one repeated)."""
    if not any(is_colour(g) for g in grids):
        return grids
    return [g if is_colour(g) else np.repeat(g[..., None], 3, axis=2) for g in grids]


def stack_grids(grids: list[np.ndarray], gap: int = 6, pad_value: float = 0.5) -> np.ndarray:
    """Mosaics one above the other (left-aligned), e.g. two runs' images as one PNG; grey and
    colour mosaics together come out in colour."""
    grids = _as_rgb([g for g in grids if g is not None])
    width = max(g.shape[1] for g in grids)
    extra = grids[0].shape[2:]
    parts = []
    for i, g in enumerate(grids):
        if i:
            parts.append(np.full((gap, width, *extra), pad_value, np.float32))
        widen = ((0, 0), (0, width - g.shape[1])) + ((0, 0),) * len(extra)
        parts.append(np.pad(g, widen, constant_values=pad_value))
    return np.concatenate(parts)


def side_by_side(grids: list[np.ndarray], gap: int = 6, pad_value: float = 0.5) -> np.ndarray:
    """Mosaics next to each other (top-aligned)."""
    grids = _as_rgb([g for g in grids if g is not None])
    flipped = [g.swapaxes(0, 1) for g in grids]
    return stack_grids(flipped, gap, pad_value).swapaxes(0, 1).copy()
