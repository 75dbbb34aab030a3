"""Loaded images made another size or depth: `load_dataset(image_size=, channels=)` for sources
that do not read their originals at the size asked (MNIST at 32x32 for a conv net, CIFAR grey).

Image folders and CelebA shape their images as they read them (image_folder.py,
colour_sources.py), from the originals; the rule is the same everywhere: the shorter side is
resized to N (antialiased bilinear, as torchvision's Resize), then the centre N x N is kept.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor

from latent_explorer.training.data.datasets import DataError, Dataset, Split

# ITU-R 601-2 luma, PIL's "L" conversion: L = R 299/1000 + G 587/1000 + B 114/1000.
LUMA = (0.299, 0.587, 0.114)
CHUNK = 4096  # images resized at once


def check_options(image_size: int | None, channels: int | None) -> None:
    """DataError for a size below 1 or a depth other than 1 or 3."""
    if image_size is not None and image_size < 1:
        raise DataError(f"image size must be at least 1 pixel, got {image_size}")
    if channels is not None and channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")


def crop_box(width: int, height: int, out_w: int, out_h: int) -> tuple[int, int, float]:
    """(new width, new height, scale) of an image resized to cover out_w x out_h, aspect kept."""
    scale = max(out_w / width, out_h / height)
    return max(out_w, round(width * scale)), max(out_h, round(height * scale)), scale


def to_channels(images: Tensor, channels: int) -> Tensor:
    """uint8 (N, C, H, W) images with `channels` channels: grey copied to RGB, RGB to luma."""
    c = images.shape[1]
    if c == channels:
        return images
    if channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    w = torch.tensor(LUMA, dtype=torch.float32).view(1, 3, 1, 1)
    return (images.float() * w).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)


def resize_images(images: Tensor, size: int) -> Tensor:
    """uint8 (N, C, H, W) images as (N, C, size, size): shorter side to `size`, centre crop."""
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images
    new_w, new_h, _ = crop_box(w, h, size, size)
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    for i in range(0, n, CHUNK):
        x = images[i:i + CHUNK].float()
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", antialias=True,
                          align_corners=False)
        out[i:i + CHUNK] = x[:, :, top:top + size, left:left + size].round_().clamp_(0, 255)
    return out


def shape_dataset(ds: Dataset, image_size: int | None, channels: int | None) -> Dataset:
    """`ds` with its images `image_size` square and `channels` deep (None: as they are)."""
    check_options(image_size, channels)
    c, h, w = ds.image_shape
    if (image_size is None or (h, w) == (image_size, image_size)) and channels in (None, c):
        return ds

    def shape(split: Split) -> Split:
        imgs = split.images.cpu()
        if channels is not None:
            imgs = to_channels(imgs, channels)
        if image_size is not None:
            imgs = resize_images(imgs, image_size)
        return Split(imgs, split.labels.cpu(), None if split.factors is None else split.factors.cpu())

    train, test = shape(ds.train), shape(ds.test)
    c2, h2, w2 = train.image_shape
    return dataclasses.replace(ds, train=train, test=test,
                               description=f"{ds.description}; made {c2}x{h2}x{w2}")


__all__ = ["LUMA", "check_options", "crop_box", "resize_images", "shape_dataset", "to_channels"]
