"""Colour photographs: CIFAR-10 and SVHN (downloaded by torchvision), CelebA from the user's folder.

CIFAR-10 and SVHN are fetched once by torchvision's own downloaders (their URLs and md5
checksums) into `cache_dir()/cifar10` and `cache_dir()/svhn`; after that, and in tests, the
files are read here in their published formats (CIFAR-10's pickled `cifar-10-batches-py/`
batches, SVHN's MATLAB `*_32x32.mat`), so torchvision is only the fetcher. Both are 8-bit
colour: they train with the discretised logistic likelihood ("logistic"; Salimans et al. 2017,
PixelCNN++), not the Bernoulli of binary-ish digits.

CelebA (Liu et al. 2015): torchvision's download goes through Google Drive (gdown) and often
fails, so the user gives the extracted folder instead (`--data-dir`): it holds
`img_align_celeba/` (the 178x218 aligned JPEGs; or the JPEGs themselves) and, optionally,
`list_eval_partition.txt` (0 train, 1 validation, 2 test: train and validation become the
training split, test the test split; without it a fixed-seed 9:1 split). Each face is
centre-cropped to 148 x 148 and resized to 64 x 64, the usual VAE preprocessing (e.g.
AntixK/PyTorch-VAE's CenterCrop(148) then Resize(64)). Reading 200,000 JPEGs takes
minutes, so the result is kept as .npz in the cache, where the `celeba` source finds it later.
"""

from __future__ import annotations

import math
import pickle
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from latent_explorer.training.data.cache_folder import cache_dir
from latent_explorer.training.data.datasets import DIGITS, DataError, Dataset, Split
from latent_explorer.training.data.resize import check_options

Notify = Callable[[str], None] | None

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_FILES = (*CIFAR_TRAIN, "test_batch", "batches.meta")
SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}

CELEBA_DIR = "img_align_celeba"
CELEBA_PARTITION = "list_eval_partition.txt"
CELEBA_CROP = 148  # the centre square kept of each 178x218 face
CELEBA_SIZE = 64
CELEBA_TEST_FRACTION = 0.1  # without the partition file
CELEBA_SEED = 0
CELEBA_CACHE_VERSION = 1


# -- fetching ----------------------------------------------------------------------------------
def fetch(name: str, root: Path) -> None:
    """Download `name` into `root` with torchvision's downloader (its URLs and md5 checksums).

    The only place that touches the network; tests replace it.
    """
    # lazily: torchvision is heavy and only needed here (it ships no type hints)
    import torchvision.datasets as tvd  # type: ignore[import-untyped]

    if name == "cifar10":
        for train in (True, False):
            tvd.CIFAR10(str(root), train=train, download=True)
    elif name == "svhn":
        for split in SVHN_FILES:
            tvd.SVHN(str(root), split=split, download=True)
    else:
        raise ValueError(f"no downloader for {name!r}")


def required_files(name: str) -> tuple[str, ...]:
    """The files of `name` (cifar10 or svhn) in its cache folder, once downloaded."""
    return _required(name)


def _required(name: str) -> tuple[str, ...]:
    if name == "cifar10":
        return tuple(f"{CIFAR_DIR}/{f}" for f in CIFAR_FILES)
    return tuple(SVHN_FILES.values())


def cached_folder(name: str, allow_download: bool = True, notify: Notify = None) -> Path:
    """`cache_dir()/name` holding the files of `name`, downloaded first when allowed."""
    folder = cache_dir() / name
    needed = _required(name)
    if all((folder / f).is_file() for f in needed):
        return folder
    if not allow_download:
        raise DataError(f"{name}: not in the cache at {folder}")
    if notify:
        notify(f"Downloading {name} into {folder} (once)")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fetch(name, folder)
    except (OSError, RuntimeError) as e:  # URLError is an OSError; torchvision's checksum: RuntimeError
        raise DataError(f"{name}: download failed ({e}); the files go in {folder}") from None
    missing = [f for f in needed if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{name}: download left {folder / missing[0]} missing")
    return folder


# -- CIFAR-10 ----------------------------------------------------------------------------------
def _unpickle(path: Path) -> dict[str, Any]:
    """One CIFAR-10 batch file, as torchvision reads it (latin1: Python 2 pickles)."""
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as e:
        raise DataError(f"{path}: cannot read as a CIFAR-10 batch ({e})") from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: not a CIFAR-10 batch (a {type(d).__name__})")
    return d


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path)
    try:
        data = np.asarray(d["data"], dtype=np.uint8)
        labels = np.asarray(d["labels"], dtype=np.int64)
    except KeyError as e:
        raise DataError(f"{path}: no {e} in this CIFAR-10 batch") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise DataError(f"{path}: {data.shape} data for {len(labels)} labels; expected (N, 3072)")
    # Each row: 1,024 red, then green, then blue values, row-major: (3, 32, 32) as it is.
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar10(folder: str | Path) -> Dataset:
    """CIFAR-10 from `folder` holding `cifar-10-batches-py/` (or being it)."""
    folder = Path(folder)
    batches = folder / CIFAR_DIR if (folder / CIFAR_DIR).is_dir() else folder
    parts = [_cifar_batch(batches / f) for f in CIFAR_TRAIN]
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = _cifar_batch(batches / "test_batch")
    meta = _unpickle(batches / "batches.meta")
    names = tuple(str(n) for n in meta.get("label_names", ()))
    if len(names) < 2:
        raise DataError(f"{batches / 'batches.meta'}: no label_names")
    for y, where in ((train_y, "data_batch_*"), (test_y, "test_batch")):
        if y.size and not 0 <= int(y.min()) <= int(y.max()) < len(names):
            raise DataError(f"{batches / where}: labels outside 0-{len(names) - 1}")
    return Dataset(
        "cifar10", Split(torch.from_numpy(train_x), torch.from_numpy(train_y)),
        Split(torch.from_numpy(test_x), torch.from_numpy(test_y)),
        f"cifar10: {len(train_x):,} train / {len(test_x):,} test 32x32 RGB photographs from {batches}",
        names, likelihood="logistic")


def load_cifar10(allow_download: bool = True, notify: Notify = None) -> Dataset:
    """CIFAR-10 from the cache, downloaded by torchvision first when allowed."""
    return read_cifar10(cached_folder("cifar10", allow_download, notify))


# -- SVHN --------------------------------------------------------------------------------------
def _svhn_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    # scikit-learn's dependency; torchvision's SVHN reads the file the same way
    import scipy.io  # type: ignore[import-untyped]

    try:
        mat = scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, ValueError, TypeError, NotImplementedError) as e:
        raise DataError(f"{path}: cannot read as SVHN's .mat ({e})") from None
    if "X" not in mat or "y" not in mat:
        raise DataError(f"{path}: no X and y arrays in this .mat file")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).astype(np.int64).reshape(-1)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise DataError(f"{path}: X is {x.shape} for {len(y)} labels; expected (32, 32, 3, N)")
    if y.size and not 1 <= int(y.min()) <= int(y.max()) <= 10:
        raise DataError(f"{path}: labels outside 1-10")
    # X is (H, W, C, N): to (N, C, H, W) as torchvision does; the digit 0 is labelled 10.
    images = np.ascontiguousarray(x.transpose(3, 2, 0, 1).astype(np.uint8))
    return images, y % 10


def read_svhn(folder: str | Path) -> Dataset:
    """SVHN's cropped digits from `folder` holding train_32x32.mat and test_32x32.mat."""
    folder = Path(folder)
    train_x, train_y = _svhn_split(folder / SVHN_FILES["train"])
    test_x, test_y = _svhn_split(folder / SVHN_FILES["test"])
    return Dataset(
        "svhn", Split(torch.from_numpy(train_x), torch.from_numpy(train_y)),
        Split(torch.from_numpy(test_x), torch.from_numpy(test_y)),
        f"svhn: {len(train_x):,} train / {len(test_x):,} test 32x32 RGB house-number digits "
        f"from {folder}", DIGITS, likelihood="logistic")


def load_svhn(allow_download: bool = True, notify: Notify = None) -> Dataset:
    """SVHN from the cache, downloaded by torchvision first when allowed."""
    return read_svhn(cached_folder("svhn", allow_download, notify))


# -- CelebA ------------------------------------------------------------------------------------
def _celeba_images(folder: Path) -> Path:
    """The folder of CelebA's JPEGs: img_align_celeba/ (Kaggle's zip nests it twice) or `folder`."""
    inner = folder / CELEBA_DIR
    if (inner / CELEBA_DIR).is_dir() and not (inner / "000001.jpg").is_file():
        return inner / CELEBA_DIR
    return inner if inner.is_dir() else folder


def looks_like_celeba(folder: Path) -> bool:
    """Whether `folder` holds img_align_celeba/ or CelebA's JPEGs (000001.jpg, ...) directly."""
    return (folder / CELEBA_DIR).is_dir() or (folder / "000001.jpg").is_file()


def _partition(folder: Path, images: Path) -> dict[str, int] | None:
    """CelebA's file -> 0/1/2 (train, validation, test) from list_eval_partition.txt, if there."""
    for where in (folder, images, folder / "Eval"):
        path = where / CELEBA_PARTITION
        if path.is_file():
            out: dict[str, int] = {}
            for n, line in enumerate(path.read_text().splitlines(), 1):
                parts = line.replace(",", " ").split()
                if len(parts) == 2 and parts[1].isdigit():
                    out[parts[0]] = int(parts[1])
                elif parts and n > 1:  # Kaggle's CSV has a header line
                    raise DataError(f"{path}: line {n} is not 'file partition'")
            return out
    return None


def read_face(path: Path, size: int = CELEBA_SIZE, crop: int = CELEBA_CROP) -> np.ndarray:
    """One face as (size, size, 3) uint8: the centre crop x crop square, resized to size."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w0, h0 = im.size
            side0 = min(crop, w0, h0)
            # JPEG: decode at 1/2 (or less) when the crop stays at least `size` wide: 4x faster.
            im.draft("RGB", (math.ceil(w0 * size / side0), math.ceil(h0 * size / side0)))
            im = im.convert("RGB")
            f = im.size[0] / w0
            side = side0 * f
            left, top = (im.size[0] - side) / 2, (im.size[1] - side) / 2
            # crop and resize in one step (box): bilinear with antialiasing, as torchvision's
            # Resize of a PIL image
            face = im.resize((size, size), Image.Resampling.BILINEAR,
                             box=(left, top, left + side, top + side))
            return np.asarray(face, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: cannot read as an image ({e})") from None


def celeba_cache_path(size: int = CELEBA_SIZE) -> Path:
    """Where the faces read at `size` are kept (one file per size: the last folder read)."""
    return cache_dir() / "celeba" / f"v{CELEBA_CACHE_VERSION}-celeba-{size}.npz"


def _celeba_dataset(z: dict[str, np.ndarray], channels: int | None, how: str) -> Dataset:
    from latent_explorer.training.data.resize import to_channels

    def split(which: str) -> Split:
        imgs = torch.from_numpy(z[f"{which}_images"])
        if channels is not None:
            imgs = to_channels(imgs, channels)
        return Split(imgs, torch.zeros(len(imgs), dtype=torch.int64))

    train, test = split("train"), split("test")
    c, h, w = train.image_shape
    return Dataset("celeba", train, test,
                   f"celeba: {len(train):,} train / {len(test):,} test {w}x{h} "
                   f"{'RGB' if c == 3 else 'grey'} faces ({how})",
                   ("face",), likelihood="logistic")


def load_celeba_folder(folder: str | Path, image_size: int | None = None,
                       channels: int | None = None, notify: Notify = None) -> Dataset:
    """CelebA's faces from the user's extracted folder, cropped and resized (module docstring);
    from the cache when this folder's faces were read at this size before."""
    check_options(image_size, channels)
    size = image_size or CELEBA_SIZE
    folder = Path(folder).expanduser()
    images_dir = _celeba_images(folder)
    files = sorted(p for p in images_dir.iterdir()
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png") and not p.name.startswith("."))
    if len(files) < 2:
        raise DataError(f"{images_dir}: needs at least 2 face images, found {len(files)}")
    cache = celeba_cache_path(size)
    key = f"{images_dir.resolve()}|{len(files)}|{files[0].name}|{files[-1].name}"
    if cache.is_file():
        try:
            with np.load(cache) as z:
                if str(z["key"]) == key:
                    return _celeba_dataset({k: z[k] for k in z.files}, channels, f"cached in {cache}")
        except (OSError, ValueError, KeyError):
            pass  # damaged: read again
    part = _partition(folder, images_dir)
    if part is not None:
        test = np.array([part.get(p.name, 0) == 2 for p in files])
        how = f"{CELEBA_PARTITION}'s split"
    else:
        rng = np.random.default_rng(CELEBA_SEED)
        test = np.zeros(len(files), bool)
        test[rng.permutation(len(files))[:max(1, round(len(files) * CELEBA_TEST_FRACTION))]] = True
        how = f"a {round(100 * (1 - CELEBA_TEST_FRACTION))}:{round(100 * CELEBA_TEST_FRACTION)} split by seed {CELEBA_SEED}"
    if not test.any() or test.all():
        raise DataError(f"{images_dir}: no {'test' if not test.any() else 'training'} faces in {how}")
    if notify and len(files) > 1000:
        notify(f"Reading {len(files):,} CelebA faces from {images_dir} once (then cached in {cache})")
    t0 = time.perf_counter()
    faces = np.empty((len(files), 3, size, size), np.uint8)
    for i, p in enumerate(files):
        faces[i] = read_face(p, size).transpose(2, 0, 1)
    arrays = {"train_images": faces[~test], "test_images": faces[test], "key": np.array(key)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.stem + ".part.npz")
    np.savez(tmp, **arrays)  # JPEG photos hardly compress: plain .npz loads fastest
    tmp.replace(cache)
    took = time.perf_counter() - t0
    return _celeba_dataset(arrays, channels, f"read from {images_dir} in {took:.0f} s, {how}, "
                           f"{CELEBA_CROP}-px centre crop")


def load_celeba_cached(allow_download: bool = True, notify: Notify = None) -> Dataset:
    """The faces read from a CelebA folder before (the `celeba` source); DataError saying how
    to give the folder when there are none."""
    cache = celeba_cache_path()
    if cache.is_file():
        try:
            with np.load(cache) as z:
                return _celeba_dataset({k: z[k] for k in z.files}, None, f"cached in {cache}")
        except (OSError, ValueError, KeyError) as e:
            raise DataError(f"celeba: cannot read the cache {cache} ({e})") from None
    raise DataError(
        f"celeba: not in the cache at {cache.parent}; download CelebA's img_align_celeba.zip "
        "(and list_eval_partition.txt) from mmlab.ie.cuhk.edu.hk/projects/CelebA.html, extract "
        "it and load that folder once with --data-dir")


LOADERS: dict[str, Callable[..., Dataset]] = {
    "cifar10": load_cifar10, "svhn": load_svhn, "celeba": load_celeba_cached,
}

__all__ = [
    "CIFAR_FILES", "LOADERS", "SVHN_FILES", "cached_folder", "celeba_cache_path", "fetch",
    "load_celeba_cached", "load_celeba_folder", "load_cifar10", "load_svhn", "looks_like_celeba",
    "read_cifar10", "read_face", "read_svhn",
]
