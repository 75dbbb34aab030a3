"""Users' own images as a dataset: one sub-folder per class of PNG/JPEG files.

The layout of torchvision's `ImageFolder`: `DIR/<class>/**/*.png|jpg|jpeg`; the class names
are the sub-folder names, sorted, and the labels 0..K-1 follow that order. Other files are
ignored, as are hidden files and folders. Each image becomes one 28×28 uint8 MNIST-like image:

1. its EXIF orientation is applied, and transparent pixels are laid on white (paper);
2. grey: PIL's "L" conversion (ITU-R 601-2 luma); 16-bit greys are scaled to 8 bits;
3. resized keeping its aspect ratio until the longer side is 28 pixels (Lanczos, which
   antialiases when shrinking), centred, and padded to 28×28 with its own border colour (the
   median of its outermost pixels), so the padding does not show. A plain resize would stretch
   a tall, thin "1" into a thick bar; MNIST too fitted each digit into its box keeping the
   aspect ratio;
4. polarity: MNIST is bright ink on black. When the images' border pixels are light on average
   (over the whole dataset), the images are dark on light and all of them are inverted. It is
   decided once per dataset, not per image, so one odd image cannot come out flipped against
   the rest.

The images are held in memory like the other sources, split per class with a fixed seed:
a sixth of each class (at least one image) is the test split. A folder needs at least 2 classes
of at least 2 images each; fewer is refused with a DataError saying which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latent_explorer.training.data.datasets import DataError, Dataset, Split

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SIZE = 28
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


def _read(path: Path) -> tuple[np.ndarray, float]:
    """One image as 28×28 uint8 grey (steps 1-3 of the module docstring) and its border mean."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.draft("L", (2 * SIZE, 2 * SIZE))  # JPEG: decode at a reduced scale, much faster
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                rgba = im.convert("RGBA")
                im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), rgba)
            if im.mode.startswith("I"):  # 16-bit greys: scale, as "L" would clip them
                a = np.asarray(im, dtype=np.float64)
                a = a / 257.0 if a.max() > 255 else a
                grey = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
            else:
                grey = im.convert("L")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        # OSError covers PIL's UnidentifiedImageError and truncated files; SyntaxError a broken PNG.
        raise DataError(f"{path}: cannot read as an image ({e})") from None
    a = np.asarray(grey)
    border = np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])
    small = ImageOps.pad(grey, (SIZE, SIZE), method=Image.Resampling.LANCZOS,
                         color=int(np.median(border)))
    return np.asarray(small, dtype=np.uint8), float(border.mean())


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


def load_image_folder(folder: str | Path) -> Dataset:
    """A folder with one sub-folder per class of PNG/JPEG images, as a 28×28 dataset."""
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
    images = np.empty((len(files), SIZE, SIZE), np.uint8)
    borders = np.empty(len(files))
    for i, path in enumerate(files):
        images[i], borders[i] = _read(path)
    inverted = borders.mean() > 127.5
    if inverted:
        images = 255 - images
    y = np.asarray(labels, dtype=np.int64)
    train_idx, test_idx = _split(y, len(classes))

    def split(idx: np.ndarray) -> Split:
        return Split(torch.from_numpy(images[idx]), torch.from_numpy(y[idx]))

    train, test = split(train_idx), split(test_idx)
    name = folder.name
    note = "; dark on light, inverted" if inverted else ""
    return Dataset(
        name, train, test,
        f"{name}: {len(train):,} train / {len(test):,} test images in {len(classes)} "
        f"class{'' if len(classes) == 1 else 'es'} from {folder}{note}",
        tuple(p.name for p in classes),
    )


__all__ = ["IMAGE_SUFFIXES", "load_image_folder", "looks_like_image_folder"]
