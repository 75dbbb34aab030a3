"""Datasets held whole in memory as uint8 tensors; batches are shuffled index slices.

The loaders here read files (idx, the bundled sample, downloads) from what they are given and
know no registry: training/data/sources.py names the sources, holds their mirrors and class names,
and calls these. `load_dataset` lives there too; `from training.data import load_dataset` still works.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from latent_explorer.training.data.cache_folder import cache_dir

SAMPLE_SEED = 1234
SAMPLE_TEST = 500
IDX_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
DIGITS = tuple(str(i) for i in range(10))  # the class names of a dataset that gives none

class DataError(Exception):
    """A dataset could not be read; the message names the file and the problem."""


@dataclass(frozen=True)
class Split:
    """One split on one device: images (N, C, H, W) uint8, labels (N,) int64 and, for a
    dataset whose generative factors are known (sprites), their values (N, F) float32.

    Images given as (N, H, W) are grey: they are stored as (N, 1, H, W).
    """

    images: Tensor
    labels: Tensor
    factors: Tensor | None = None

    def __post_init__(self) -> None:
        if self.images.ndim == 3:
            object.__setattr__(self, "images", self.images.unsqueeze(1))
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got {tuple(self.images.shape)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def to(self, device: torch.device | str) -> "Split":
        return Split(self.images.to(device), self.labels.to(device),
                     None if self.factors is None else self.factors.to(device))

    def subset(self, index: Tensor | slice) -> "Split":
        """The images (and labels, factors) at `index`."""
        return Split(self.images[index], self.labels[index],
                     None if self.factors is None else self.factors[index])

    def float_images(self, index: Tensor | slice | None = None) -> Tensor:
        """Images scaled to [0, 1] as float32, (n, C, H, W)."""
        imgs = self.images if index is None else self.images[index]
        return imgs.float().div_(255.0)


@dataclass(frozen=True)
class Dataset:
    """A named train/test pair with a line saying where it came from."""

    name: str
    train: Split
    test: Split
    description: str
    class_names: tuple[str, ...] = DIGITS
    # The generative factors' names, one per column of each split's `factors` (sprites: shape,
    # scale, orientation, x, y); empty when they are unknown.
    factor_names: tuple[str, ...] = ()
    # The likelihood its source trains with by default (models/likelihoods.py): the course's
    # Bernoulli for binary-ish images, a discretised one for 8-bit colour photographs.
    likelihood: str = "bernoulli"

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return self.train.image_shape

    def to(self, device: torch.device | str) -> "Dataset":
        return dataclasses.replace(self, train=self.train.to(device), test=self.test.to(device))


# -- idx files ---------------------------------------------------------------------------------
def read_idx(path: str | Path) -> np.ndarray:
    """An idx file (gzip or not) as a numpy uint8 array; DataError on any defect."""
    path = Path(path)
    try:
        raw = _read_whole(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: wrong magic number (not an idx file of unsigned bytes)")
    ndim = raw[3]
    if ndim not in (1, 3):
        raise DataError(f"{path}: wrong magic number (idx with {ndim} dimensions)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=object))  # Python ints: int64 would wrap to 0
    if len(raw) - header < expected:
        raise DataError(f"{path}: truncated: {len(raw) - header} of {expected} data bytes")
    return np.frombuffer(raw, dtype=np.uint8, count=expected, offset=header).reshape(shape)


def _read_whole(path: Path) -> bytearray:
    """The file's bytes (gunzipped for .gz), read straight into one writable buffer.

    The buffer is sized from the file (for gzip, from its trailer's ISIZE field, the length
    modulo 2³²), so decompression writes once into memory the array then uses as it is: no
    join of chunks and no copy for torch (0.3-0.5 s for Fashion-MNIST's 47 MB). A trailer that
    does not tell the truth (several members, over 4 GB) only costs a larger read.
    """
    gz = path.suffix == ".gz"
    with open(path, "rb") as f:
        if gz:
            f.seek(-4, 2)
            size = int.from_bytes(f.read(4), "little")
        else:
            size = os.fstat(f.fileno()).st_size
    with (gzip.open if gz else open)(path, "rb") as f:
        raw = bytearray(size)
        n = f.readinto(raw)
        if n < size:
            del raw[n:]
        rest = f.read()
        if rest:
            raw += rest
    return raw


def _find_idx(folder: Path, stem: str) -> Path:
    found = _idx_candidates(folder, stem)
    if found:
        return found[0]
    raise DataError(f"{folder / stem}[.gz]: file not found")


def has_idx_files(folder: Path) -> bool:
    """Whether `folder` holds any of the four MNIST idx files (then it is read as an idx folder)."""
    return any(_idx_candidates(folder, stem) for stem in IDX_FILES.values())


def _idx_candidates(folder: Path, stem: str) -> list[Path]:
    names = (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz")
    return [folder / n for n in names if (folder / n).exists()]


def _split_from_arrays(images: np.ndarray, labels: np.ndarray, where: str,
                       n_classes: int = 10) -> Split:
    if images.ndim not in (3, 4) or min(images.shape[1:]) < 1:
        raise DataError(f"{where}: images are {'x'.join(map(str, images.shape[1:]))}, "
                        "expected H x W (grey) or C x H x W")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"{where}: {labels.shape[0]} labels for {images.shape[0]} images")
    if labels.size and int(labels.max()) >= n_classes:
        raise DataError(f"{where}: label {int(labels.max())} outside 0-{n_classes - 1}")
    # read_idx's arrays are views of a buffer of their own: torch can take them as they are.
    owned = images if images.flags.writeable else images.copy()
    return Split(torch.from_numpy(owned), torch.from_numpy(labels.astype(np.int64)))


def load_idx_folder(folder: str | Path, name: str | None = None,
                    class_names: tuple[str, ...] | None = None) -> Dataset:
    """The four MNIST-format idx files in `folder` (gzip or not), named `name` (else the
    folder's name), with `class_names` (else the digits)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    name = name or folder.name
    if class_names is None:
        class_names = DIGITS
    splits = {}
    for split in ("train", "test"):
        img_path = _find_idx(folder, IDX_FILES[(split, "images")])
        lab_path = _find_idx(folder, IDX_FILES[(split, "labels")])
        images, labels = read_idx(img_path), read_idx(lab_path)
        if images.ndim != 3:
            raise DataError(f"{img_path}: not an image file (1-D idx)")
        if labels.ndim != 1:
            raise DataError(f"{lab_path}: not a label file ({labels.ndim}-D idx)")
        splits[split] = _split_from_arrays(images, labels, str(img_path), len(class_names))
    return Dataset(
        name, splits["train"], splits["test"],
        f"{name}: {len(splits['train']):,} train / {len(splits['test']):,} test images from {folder}",
        tuple(class_names),
    )


# -- bundled sample ----------------------------------------------------------------------------
def sample_path() -> Path:
    return Path(str(resources.files("latent_explorer.training.data") / "mnist_5k.npz"))


def load_mnist_sample() -> Dataset:
    """The 5,000 bundled MNIST digits: fixed-seed shuffle, 4,500 train / 500 test."""
    path = sample_path()
    try:
        with np.load(path) as z:
            images, labels = z["images"], z["labels"]
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{path}: cannot read the bundled sample ({e})") from None
    order = np.random.default_rng(SAMPLE_SEED).permutation(len(images))
    images, labels = images[order], labels[order]
    test = _split_from_arrays(images[:SAMPLE_TEST], labels[:SAMPLE_TEST], str(path))
    train = _split_from_arrays(images[SAMPLE_TEST:], labels[SAMPLE_TEST:], str(path))
    return Dataset("mnist-sample", train, test,
                   f"mnist-sample: {len(train):,} train / {len(test):,} test bundled MNIST digits")


# -- downloads ---------------------------------------------------------------------------------
# cache_dir(): training/data/cache_folder.py (torch-free, so the map code reads it too).
def _is_cached(folder: Path, files: Mapping[str, str]) -> bool:
    return folder.is_dir() and all((folder / f).exists() for f in files)


def mirror_reachable(url: str, timeout: float) -> bool:
    """Whether a TCP connection to `url`'s host opens within `timeout` (tests replace it)."""
    host = urllib.parse.urlsplit(url)
    port = host.port or (443 if host.scheme == "https" else 80)
    try:
        with socket.create_connection((host.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def download(name: str, mirrors: Sequence[str], files: Mapping[str, str],
             root: Path | None = None, timeout: float = 5.0) -> Path:
    """Fetch `files` (name -> md5) of `name` from the first of `mirrors` that has each into the
    cache; checksummed, atomic (a temp folder renamed at the end)."""
    target = (root or cache_dir()) / name
    if _is_cached(target, files):
        return target
    # A quick TCP probe first: offline machines fail in seconds, not a urllib timeout per file.
    live = [m for m in mirrors if mirror_reachable(m, min(timeout, 3.0))]
    if not live:
        raise DataError(f"{name}: no download mirror reachable ({', '.join(mirrors)})")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        for fname, md5 in files.items():
            last: Exception | None = None
            for mirror in live:
                try:
                    with urllib.request.urlopen(mirror + fname, timeout=timeout) as r:
                        data = r.read()
                    if hashlib.md5(data).hexdigest() != md5:
                        raise DataError(f"{mirror + fname}: checksum mismatch")
                    (tmp / fname).write_bytes(data)
                    break
                except (OSError, urllib.error.URLError, DataError) as e:
                    last = e
            else:
                raise DataError(f"{name}: download of {fname} failed ({last})")
        if target.exists():
            shutil.rmtree(target)  # an older partial cache; ours is complete
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_downloaded(name: str, mirrors: Sequence[str], files: Mapping[str, str],
                    allow_download: bool = True,
                    class_names: tuple[str, ...] | None = None) -> Dataset:
    """The idx `files` (name -> md5) of `name` from the cache, fetched from `mirrors` first
    when they are not there and that is allowed."""
    folder = cache_dir() / name
    if not _is_cached(folder, files):
        if not allow_download:
            raise DataError(f"{name}: not in the cache at {folder}")
        folder = download(name, mirrors, files)
    return load_idx_folder(folder, name=name, class_names=class_names)


# -- batches -----------------------------------------------------------------------------------
def iterate_batches(
    split: Split,
    batch_size: int,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Iterator[tuple[Tensor, Tensor]]:
    """(float images in [0,1] flattened to (b, C·H·W), labels) by shuffled index slices."""
    n = len(split)
    if shuffle:
        gen_dev = generator.device if generator is not None else torch.device("cpu")
        order = torch.randperm(n, generator=generator, device=gen_dev).to(split.images.device)
    else:
        order = None
    flat = split.images.reshape(n, -1)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        if order is None:
            xb, yb = flat[i : i + batch_size], split.labels[i : i + batch_size]
        else:
            idx = order[i : i + batch_size]
            xb, yb = flat.index_select(0, idx), split.labels.index_select(0, idx)
        yield xb.float().div_(255.0), yb


def batches_per_epoch(n: int, batch_size: int, drop_last: bool = False) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)
