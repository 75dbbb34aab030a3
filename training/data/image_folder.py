"""Users' own images as a dataset: one sub-folder per class of PNG/JPEG files.

The layout of torchvision's `ImageFolder`: `DIR/<class>/**/*.png|jpg|jpeg`; the class names
are the sub-folder names, sorted, and the labels 0..K-1 follow that order. Other files are
ignored, as are hidden files and folders. Each image becomes one uint8 (C, H, W) image:

1. its EXIF orientation is applied, and transparent pixels are laid on white (paper); 16-bit
   greys are scaled to 8 bits;
2. size: kept when every image has the same size. Otherwise, or when `image_size` N is given,
   each is resized (Lanczos, which antialiases when shrinking) until it covers the size
   wanted, keeping its aspect ratio, and the centre is cropped: torchvision's
   Resize(N) + CenterCrop(N). Without `image_size` the size wanted is the most common one among
   the images (the first met of those tied), and the description says so;
3. depth: RGB when any image has colour, else grey (one channel); `channels` 1 converts to grey
   with PIL's "L" (ITU-R 601-2 luma), 3 keeps or makes RGB;
4. polarity, for grey datasets only: MNIST is bright ink on black. When the images' border
   pixels are light on average (over the whole dataset), the images are dark on light and all
   of them are inverted. It is decided once per dataset, not per image, so one odd image cannot
   come out flipped against the rest. Colour photographs are never inverted.

The images are held in memory like the other sources, split per class with a fixed seed:
a sixth of each class (at least one image) is the test split. A folder needs at least 2 classes
of at least 2 images each; fewer is refused with a DataError saying which.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch

from latent_explorer.training.data.datasets import DataError, Dataset, Split
from latent_explorer.training.data.resize import check_options, crop_box

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
TEST_FRACTION = 1 / 6
# Fewer cannot train a model worth exploring: one class has nothing to tell apart (and a CVAE
# cannot train at all), and a class of one image has none left to test on.
MIN_CLASSES = 2
MIN_PER_CLASS = 2
SPLIT_SEED = 0


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _class_folders(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and _visible(p.name)), key=lambda p: p.name)


def _images_in(folder: Path, recursive: bool = True) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p for p in found
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        and all(_visible(part) for part in p.relative_to(folder).parts)
    )


def looks_like_image_folder(folder: Path) -> bool:
    """Whether `folder` has class sub-folders or images at its top (then read it as images)."""
    return bool(_class_folders(folder)) or bool(_images_in(folder, recursive=False))


def _open_error(path: Path, e: Exception) -> DataError:
    # OSError covers PIL's UnidentifiedImageError and truncated files; SyntaxError a broken PNG.
    return DataError(f"{path}: cannot read as an image ({e})")


def _size(path: Path) -> tuple[int, int]:
    """(width, height) as the image will be shown (EXIF orientation applied), from its header."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            # EXIF orientations 5-8 turn the picture a quarter: width and height swap.
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                w, h = h, w
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise _open_error(path, e) from None
    return w, h


def read_rgb(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """One image as (H, W, 3) uint8 RGB (step 1 of the module docstring), resized to cover
    `size` (width, height) and centre-cropped to it (step 2) when it is given."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            if size is not None:
                # JPEG: decode at a reduced scale (1/2, 1/4, 1/8) that still covers the size
                # wanted, much faster. Both sides at least max(size): turned pictures too.
                side = max(size)
                im.draft(None, (side, side))
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                rgba = im.convert("RGBA")
                im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), rgba)
            if im.mode.startswith("I"):  # 16-bit greys: scale, as "L" would clip them
                a = np.asarray(im, dtype=np.float64)
                a = a / 257.0 if a.max() > 255 else a
                im = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
            rgb = im.convert("RGB")
            if size is not None and rgb.size != size:
                new_w, new_h, _ = crop_box(*rgb.size, *size)
                rgb = rgb.resize((new_w, new_h), Image.Resampling.LANCZOS)
                left, top = (new_w - size[0]) // 2, (new_h - size[1]) // 2
                rgb = rgb.crop((left, top, left + size[0], top + size[1]))
            return np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise _open_error(path, e) from None


def luma(rgb: np.ndarray) -> np.ndarray:
    """PIL's "L" of uint8 RGB (..., 3): (R 19595 + G 38470 + B 7471 + 2^15) >> 16 (ITU-R 601-2)."""
    r, g, b = (rgb[..., k].astype(np.uint32) for k in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def _border(grey: np.ndarray) -> np.ndarray:
    return np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])


def _split(labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the train and test images: a sixth of each class is test, by a fixed seed."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_test = 0 if len(idx) < 2 else max(1, int(len(idx) * TEST_FRACTION + 0.5))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    # Shuffled, so the first test images (the panels' default) show every class.
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_image_folder(folder: str | Path, image_size: int | None = None,
                      channels: int | None = None) -> Dataset:
    """A folder with one sub-folder per class of PNG/JPEG images, as a dataset; `image_size`
    N makes the images N x N, `channels` 1 grey and 3 RGB (None: as the images are)."""
    check_options(image_size, channels)
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    classes = _class_folders(folder)
    if not classes:
        loose = _images_in(folder, recursive=False)
        where = f" (found {loose[0].name} at the top)" if loose else ""
        raise DataError(f"{folder}: put the images in one sub-folder per class{where}")
    if len(classes) < MIN_CLASSES:
        raise DataError(f"{folder}: needs at least {MIN_CLASSES} classes, one sub-folder each; "
                        f"found 1 ({classes[0].name})")
    files: list[Path] = []
    labels: list[int] = []
    for c, sub in enumerate(classes):
        found = _images_in(sub)
        if not found:
            raise DataError(f"{sub}: no PNG or JPEG images in this class folder")
        if len(found) < MIN_PER_CLASS:
            raise DataError(f"{sub}: {len(found)} image; each class needs at least "
                            f"{MIN_PER_CLASS} (one to train on, one to test)")
        files += found
        labels += [c] * len(found)
    sizes = [_size(p) for p in files]
    counts = Counter(sizes)
    if image_size is not None:
        size = (image_size, image_size)
        how = f"resized and centre-cropped to {image_size}x{image_size}"
    else:
        size = counts.most_common(1)[0][0]  # ties: the first met (Counter keeps that order)
        how = "" if len(counts) == 1 else (
            f"{len(counts)} sizes: made the most common, {size[0]}x{size[1]} "
            f"({counts[size]} of {len(files)}), by resizing and centre-cropping the others")
    rgb = np.empty((len(files), size[1], size[0], 3), np.uint8)
    borders = np.empty(len(files))
    grey = True
    for i, path in enumerate(files):
        rgb[i] = read_rgb(path, size if sizes[i] != size else None)
        # The border of what is kept: a crop's edge, as the picture will be seen.
        borders[i] = _border(luma(rgb[i])).mean()
        grey = grey and bool((rgb[i, ..., 0] == rgb[i, ..., 1]).all()
                             and (rgb[i, ..., 1] == rgb[i, ..., 2]).all())
    depth = channels if channels is not None else (1 if grey else 3)
    if depth == 1:
        images = rgb[..., 0] if grey else luma(rgb)
        images = np.ascontiguousarray(images[:, None])  # (N, 1, H, W)
    else:
        images = np.ascontiguousarray(rgb.transpose(0, 3, 1, 2))  # (N, 3, H, W)
    del rgb
    inverted = depth == 1 and borders.mean() > 127.5
    if inverted:
        images = 255 - images
    y = np.asarray(labels, dtype=np.int64)
    train_idx, test_idx = _split(y, len(classes))

    def split(idx: np.ndarray) -> Split:
        return Split(torch.from_numpy(images[idx]), torch.from_numpy(y[idx]))

    train, test = split(train_idx), split(test_idx)
    name = folder.name
    c, h, w = train.image_shape
    note = (f"; {how}" if how else "") + ("; dark on light, inverted" if inverted else "")
    return Dataset(
        name, train, test,
        f"{name}: {len(train):,} train / {len(test):,} test {w}x{h} "
        f"{'grey' if c == 1 else 'RGB'} images in {len(classes)} "
        f"class{'' if len(classes) == 1 else 'es'} from {folder}{note}",
        tuple(p.name for p in classes),
    )


__all__ = ["IMAGE_SUFFIXES", "load_image_folder", "looks_like_image_folder", "luma", "read_rgb"]
