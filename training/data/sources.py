"""The data sources, listed once: the CLI, the training form, `load_dataset` and the README read them.

Plain data at import (no torch, no numpy): the GUI fills its dataset box from here while torch
is still loading; each loader imports `training.data.datasets` (or `training.data.image_folder`) only when it
runs. Those loaders take what they need (mirrors, class names) as arguments and never import
this module: the registry uses the loaders, not the other way round.

A named source is one `register_source(DataSource(...))` entry plus its loader; a source
downloaded as the four MNIST idx files needs only `idx_download(...)` as its loader. A folder
format (what `--data-dir` accepts) is one `register_folder_format(...)` entry plus its loader.
`load_dataset` loads any of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from latent_explorer.models.registries import Registry

if TYPE_CHECKING:
    from latent_explorer.training.config import TrainConfig
    from latent_explorer.training.data.datasets import Dataset

DIGITS = tuple(str(i) for i in range(10))
FASHION_CLASSES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Boot")
# Romanised hiragana as torchvision's KMNIST names them (rois-codh/kmnist, kmnist_classmap.csv).
KMNIST_CLASSES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
SPRITE_CLASSES = ("square", "ellipse", "heart")  # dSprites' shapes, in its order
# CIFAR-10's batches.meta label_names (torchvision's CIFAR10.classes)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

# The course budget: ~4,500 Adam steps at batch 64 give recognisable digits (issue 10), and
# full MNIST wants ~20 epochs. MAX_EPOCHS: a tiny folder would need thousands of epochs, each
# with its test pass (~50 ms here whatever the size), to learn its few images by heart.
COURSE_STEPS = 4500
MIN_EPOCHS_LARGE = 20
MAX_EPOCHS = 200

# Mirrors and md5 checksums of the idx.gz files of each downloaded source, filled by
# idx_download() and read when its loader runs (so a test can replace an entry).
DOWNLOADS: dict[str, tuple[list[str], dict[str, str]]] = {}


@dataclass(frozen=True)
class DataSource:
    """A dataset that can be loaded by name."""

    name: str  # 'auto', 'mnist-sample', 'mnist', ...: the value in configs and --dataset
    label: str  # for the GUI combo box
    description: str  # one line (README table, help)
    load: Callable[..., "Dataset"]  # load(notify=None, allow_download=True) -> Dataset
    class_names: tuple[str, ...]
    downloads: bool  # fetched from the internet on first use
    n_train: int | None  # images in the training split (None: unknown until loaded)
    # The likelihood a model of it trains with by default (models/likelihoods.py): Bernoulli
    # for binary-ish images, the discretised logistic for 8-bit colour photographs.
    likelihood: str = "bernoulli"
    # (C, H, W) of its images, for the form to show before loading (None: unknown until loaded).
    image_shape: tuple[int, int, int] | None = None
    download_mb: float | None = None  # what a download fetches, for the question before it

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class FolderFormat:
    """A layout of files in a folder that `load_dataset(data_dir=...)` can read."""

    name: str  # 'idx', 'image-folder'
    label: str  # what it holds, short: for messages, the GUI and the README
    description: str  # one line (README table, help)
    detect: Callable[[Path], bool]  # does this folder look like this format?
    load: Callable[..., "Dataset"]  # load(folder, notify=None[, image_size, channels]) -> Dataset
    classes: str = ""  # where its class names come from, in words (README table)
    # Whether `load` takes image_size= and channels= and shapes the images as it reads them
    # (from the originals: better than resizing the loaded images, which other formats get).
    shapes_images: bool = False
    # Fewer classes are refused: a folder of one class is a mistake (issue 21), unless the
    # format has no labels to give (CelebA's faces: one class).
    min_classes: int = 2


DATA_SOURCES: Registry[DataSource] = Registry("dataset")
FOLDER_FORMATS: Registry[FolderFormat] = Registry("folder format")
_SOURCES, _FOLDER_FORMATS = DATA_SOURCES, FOLDER_FORMATS  # their older names


def register_source(src: DataSource) -> DataSource:
    """Add a named source (its name must be new); returns it."""
    return DATA_SOURCES.register(src.name, src)


def get_source(name: str) -> DataSource:
    """The source called `name`; ValueError naming the choices for an unknown one."""
    return DATA_SOURCES.get(name)


def list_sources() -> list[DataSource]:
    """Every named source, in registration order."""
    return DATA_SOURCES.list()


def source_names() -> tuple[str, ...]:
    """The names of every named source, in registration order."""
    return DATA_SOURCES.names()


def register_folder_format(fmt: FolderFormat) -> FolderFormat:
    """Add a folder format (its name must be new); formats are tried in registration order."""
    return FOLDER_FORMATS.register(fmt.name, fmt)


def list_folder_formats() -> list[FolderFormat]:
    """Every folder format, in the order `load_dataset` tries them."""
    return FOLDER_FORMATS.list()


# -- loading by name ---------------------------------------------------------------------------
def load_dataset(
    source: str = "auto",
    data_dir: str | Path | None = None,
    notify: Callable[[str], None] | None = None,
    allow_download: bool = True,
    image_size: int | None = None,
    channels: int | None = None,
) -> Dataset:
    """A dataset by source name, or from a folder (`data_dir`, or a folder path as `source`).

    `image_size` N makes every image N x N (shorter side resized to N, then centre-cropped)
    and `channels` 1 grey or 3 RGB; None keeps what the source gives.
    """
    if data_dir is not None:
        return load_folder(data_dir, notify, image_size=image_size, channels=channels)
    if source not in DATA_SOURCES:
        from latent_explorer.training.data.datasets import DataError

        p = Path(source).expanduser()
        if p.is_dir():
            return load_folder(p, notify, image_size=image_size, channels=channels)
        raise DataError(f"unknown dataset {source!r}; choose one of "
                        f"{', '.join(source_names())} or a folder")
    ds = get_source(source).load(notify=notify, allow_download=allow_download)
    return _shaped(ds, image_size, channels)


def _shaped(ds: "Dataset", image_size: int | None, channels: int | None) -> "Dataset":
    """`ds` with its images made image_size x image_size and `channels` deep, where asked."""
    if image_size is None and channels is None:
        return ds
    from latent_explorer.training.data.resize import shape_dataset

    return shape_dataset(ds, image_size, channels)


def _check_trainable(ds: "Dataset", folder: Path, min_classes: int = 2) -> "Dataset":
    """`ds` if a model can learn from it: 2 classes or more (or `min_classes`), train and
    test images both."""
    from latent_explorer.training.data.datasets import DataError

    if ds.n_classes < min_classes:
        raise DataError(f"{folder}: needs at least {min_classes} classes to train on, "
                        f"found {ds.n_classes}")
    if len(ds.train) == 0 or len(ds.test) == 0:
        which = "training" if len(ds.train) == 0 else "test"
        raise DataError(f"{folder}: no {which} images")
    return ds


def load_folder(folder: str | Path, notify: Callable[[str], None] | None = None,
                image_size: int | None = None, channels: int | None = None) -> Dataset:
    """A dataset folder in the first registered format that recognises it (idx, CelebA,
    then images), its images shaped as `load_dataset` says."""
    from latent_explorer.training.data.datasets import DataError

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    formats = list_folder_formats()
    for fmt in formats:
        if fmt.detect(folder):
            if fmt.shapes_images:
                ds = fmt.load(folder, notify=notify, image_size=image_size, channels=channels)
            else:
                ds = _shaped(fmt.load(folder, notify=notify), image_size, channels)
            return _check_trainable(ds, folder, fmt.min_classes)
    raise DataError(f"{folder}: dataset files not found: expected "
                    + " or ".join(f.label for f in formats))


# -- rules shared by the CLI and the GUI -------------------------------------------------------
def default_epochs(n_train: int, batch_size: int) -> int:
    """Epochs a default run needs: at least COURSE_STEPS steps and, on large sets, 20 epochs.

    64 on the 4,500-digit sample at batch 64 (71 steps an epoch), 20 on full MNIST; at most
    MAX_EPOCHS (200) on sets so small that the budget would take more.
    """
    if n_train < 1 or batch_size < 1:
        raise ValueError(f"need at least one image and a batch size >= 1, got {n_train}, {batch_size}")
    steps_per_epoch = -(-n_train // batch_size)
    return min(MAX_EPOCHS, max(MIN_EPOCHS_LARGE, math.ceil(COURSE_STEPS / steps_per_epoch)))


def dataset_candidates(train_config: "TrainConfig", recorded: str) -> list[tuple[str, str | None]]:
    """Where to find the data a checkpoint was trained on, best first, as (source, data_dir).

    Its data folder when that still exists (as ('folder', dir)), then the dataset name the
    checkpoint recorded, then the config's dataset; names that are not sources are skipped.
    """
    candidates: list[tuple[str, str | None]] = []
    data_dir = train_config.data_dir
    if data_dir and Path(data_dir).expanduser().is_dir():
        candidates.append(("folder", data_dir))
    for name in (recorded, train_config.dataset):
        if name and name in DATA_SOURCES and (name, None) not in candidates:
            candidates.append((name, None))
    return candidates


# -- loaders (each imports training.data.datasets when it runs) -----------------------------------------
def idx_download(name: str, mirrors: list[str], md5: Mapping[str, str],
                 class_names: tuple[str, ...] = DIGITS) -> Callable[..., "Dataset"]:
    """A loader for the four MNIST idx.gz files of `name`, downloaded from `mirrors` and
    checked against `md5` (file name -> checksum); cached after the first download."""
    DOWNLOADS[name] = (list(mirrors), dict(md5))

    def load(notify: Callable[[str], None] | None = None, allow_download: bool = True) -> "Dataset":
        from latent_explorer.training.data.datasets import load_downloaded

        mirrors, files = DOWNLOADS[name]
        return load_downloaded(name, mirrors, files, allow_download=allow_download,
                               class_names=class_names)

    return load


def download_pending(name: str) -> str | None:
    """What loading source `name` would fetch from the internet first, in a sentence ("cifar10:
    about 163 MB from its mirrors into ~/.cache/latent-explorer/cifar10"), or None when nothing
    would be (a source that downloads nothing, or whose files are in the cache already). The
    window asks before such a load; `auto` is left out: it falls back to the bundled sample and
    says so."""
    from latent_explorer.training.data.cache_folder import cache_dir

    src = DATA_SOURCES.get(name)
    if not src.downloads or name == "auto":
        return None
    folder = cache_dir() / name
    if name in DOWNLOADS:
        files: tuple[str, ...] = tuple(DOWNLOADS[name][1])
    else:
        from latent_explorer.training.data.colour_sources import required_files

        files = required_files(name)
    if all((folder / f).is_file() for f in files):
        return None
    size = f"about {src.download_mb:,.0f} MB" if src.download_mb else "its files"
    return f"{name}: {size} from the internet into {folder}, once"


def load_auto(notify: Callable[[str], None] | None = None, allow_download: bool = True) -> Dataset:
    """Full MNIST when we can have it, else the bundled sample with one notice saying why."""
    from latent_explorer.training.data.datasets import DataError, cache_dir, load_mnist_sample

    try:
        return load_dataset("mnist", notify=notify, allow_download=allow_download)
    except DataError as e:
        if notify:
            notify(
                f"Using the bundled 5,000-digit MNIST sample: full MNIST is unavailable ({e}). "
                "Connect to the internet and choose 'mnist' to download it "
                f"(into {cache_dir() / 'mnist'})."
            )
        return load_mnist_sample()


def _load_sample(notify: Callable[[str], None] | None = None, allow_download: bool = True) -> "Dataset":
    from latent_explorer.training.data.datasets import load_mnist_sample

    return load_mnist_sample()


def _is_idx_folder(folder: Path) -> bool:
    from latent_explorer.training.data.datasets import has_idx_files

    return has_idx_files(folder)


def _load_idx_folder(folder: Path, notify: Callable[[str], None] | None = None) -> "Dataset":
    from latent_explorer.training.data.datasets import load_idx_folder

    # A folder named after a source (a copy of fashion-mnist) keeps that source's class names.
    known = DATA_SOURCES.get(folder.name, None)
    return load_idx_folder(folder, class_names=known.class_names if known else None)


def _is_image_folder(folder: Path) -> bool:
    from latent_explorer.training.data.image_folder import looks_like_image_folder

    return looks_like_image_folder(folder)


def _load_image_folder(folder: Path, notify: Callable[[str], None] | None = None,
                       image_size: int | None = None, channels: int | None = None) -> "Dataset":
    from latent_explorer.training.data.image_folder import load_image_folder

    return load_image_folder(folder, image_size=image_size, channels=channels)


def _is_celeba_folder(folder: Path) -> bool:
    from latent_explorer.training.data.colour_sources import looks_like_celeba

    return looks_like_celeba(folder)


def _load_celeba_folder(folder: Path, notify: Callable[[str], None] | None = None,
                        image_size: int | None = None, channels: int | None = None) -> "Dataset":
    from latent_explorer.training.data.colour_sources import load_celeba_folder

    return load_celeba_folder(folder, image_size=image_size, channels=channels, notify=notify)


def _sprites(colour: bool) -> Callable[..., "Dataset"]:
    def load(notify: Callable[[str], None] | None = None, allow_download: bool = True) -> "Dataset":
        from latent_explorer.training.data.sprites import load_sprites

        return load_sprites(colour=colour, notify=notify)

    return load


def _colour(name: str) -> Callable[..., "Dataset"]:
    def load(notify: Callable[[str], None] | None = None, allow_download: bool = True) -> "Dataset":
        from latent_explorer.training.data import colour_sources

        return colour_sources.LOADERS[name](allow_download=allow_download, notify=notify)

    return load


# -- the registry ------------------------------------------------------------------------------
register_source(DataSource(
    "auto", "auto: MNIST, else the bundled sample",
    "full MNIST when it is cached or can be downloaded; otherwise the bundled sample, "
    "with a one-line notice saying so",
    load_auto, DIGITS, downloads=True, n_train=None, image_shape=(1, 28, 28)))
register_source(DataSource(
    "mnist-sample", "mnist-sample: 5,000 bundled digits",
    "5,000 real MNIST digits shipped inside the package (`training/data/datasets/mnist_5k.npz`); "
    "fixed-seed shuffle into 4,500 train / 500 test. Works offline.",
    _load_sample, DIGITS, downloads=False, n_train=4500, image_shape=(1, 28, 28)))
register_source(DataSource(
    "mnist", "mnist: 70,000 digits (downloaded once)",
    "full MNIST (60,000 / 10,000), downloaded on first use",
    # Mirrors and checksums as torchvision's MNIST dataset lists them.
    idx_download("mnist", ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                           "http://yann.lecun.com/exdb/mnist/"], {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }),
    DIGITS, downloads=True, n_train=60_000, image_shape=(1, 28, 28),
    download_mb=12))
register_source(DataSource(
    "fashion-mnist", "fashion-mnist: 70,000 clothes (downloaded once)",
    "full Fashion-MNIST (60,000 / 10,000), downloaded on first use",
    idx_download("fashion-mnist", ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"], {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }, FASHION_CLASSES),
    FASHION_CLASSES, downloads=True, n_train=60_000, image_shape=(1, 28, 28),
    download_mb=31))
register_source(DataSource(
    "kmnist", "kmnist: 70,000 cursive hiragana (downloaded once)",
    "Kuzushiji-MNIST (60,000 / 10,000): ten hiragana in classical cursive script, "
    "downloaded on first use",
    # Mirror and checksums as torchvision's KMNIST dataset lists them.
    idx_download("kmnist", ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"], {
        "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
        "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
        "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
        "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
    }, KMNIST_CLASSES),
    KMNIST_CLASSES, downloads=True, n_train=60_000, image_shape=(1, 28, 28),
    download_mb=21))
# sprites: 12,000 train images, 188 steps an epoch at batch 64: default_epochs gives the course's
# 4,500 steps in 24 epochs (about 2 minutes of the course MLP on 2 cores; sprites.py).
register_source(DataSource(
    "sprites", "Sprites (dSprites factors, 64x64)",
    "dSprites' factor grid (3 shapes x 6 scales x 40 orientations x 32 x 32 positions) drawn "
    "here as binary 64x64 images: 12,000 train / 2,000 test, each with its factor values; "
    "the class is the shape. Works offline.",
    _sprites(False), SPRITE_CLASSES, downloads=False, n_train=12_000, image_shape=(1, 64, 64)))
register_source(DataSource(
    "sprites-colour", "Sprites in colour (dSprites factors + hue, 64x64)",
    "the sprites, each in one of six saturated hues on black (a sixth factor, hue): "
    "12,000 train / 2,000 test 64x64 RGB images. Works offline.",
    _sprites(True), SPRITE_CLASSES, downloads=False, n_train=12_000, image_shape=(3, 64, 64)))
register_source(DataSource(
    "cifar10", "cifar10: 60,000 colour photos, 32x32 (downloaded once)",
    "CIFAR-10 (50,000 / 10,000 RGB 32x32 photographs in ten classes), downloaded on first use "
    "by torchvision (checksummed); trains with the discretised logistic likelihood",
    _colour("cifar10"), CIFAR10_CLASSES, downloads=True, n_train=50_000,
    likelihood="logistic", image_shape=(3, 32, 32), download_mb=163))
register_source(DataSource(
    "svhn", "svhn: 99,289 house-number digits, 32x32 colour (downloaded once)",
    "Street View House Numbers (73,257 / 26,032 RGB 32x32 crops of one digit each), "
    "downloaded on first use by torchvision (checksummed); discretised logistic likelihood",
    _colour("svhn"), DIGITS, downloads=True, n_train=73_257,
    likelihood="logistic", image_shape=(3, 32, 32), download_mb=246))
register_source(DataSource(
    "celeba", "celeba: faces, 64x64 colour (from your folder)",
    "CelebA's aligned faces, centre-cropped to 148 px and resized to 64x64 (the usual VAE "
    "preprocessing), one class; read once from the folder given with --data-dir (holding "
    "img_align_celeba/), then from the cache",
    _colour("celeba"), ("face",), downloads=False, n_train=None,
    likelihood="logistic", image_shape=(3, 64, 64)))

register_folder_format(FolderFormat(
    "idx", "the four MNIST idx files",
    "the four MNIST-format idx files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, "
    "`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, gzipped or not), "
    "e.g. `/usr/share/datasets/fashion-mnist`",
    _is_idx_folder, _load_idx_folder, classes="0–9"))
register_folder_format(FolderFormat(
    "celeba", "CelebA's img_align_celeba folder",
    "CelebA's aligned faces: a folder holding `img_align_celeba/` (or its JPEGs) and, "
    "optionally, `list_eval_partition.txt` for the official split (else 9:1 by a fixed seed); "
    "centre-cropped to 148 px and resized to 64×64 RGB, kept in the cache as .npz",
    _is_celeba_folder, _load_celeba_folder, classes="one: face", shapes_images=True,
    min_classes=1))
register_folder_format(FolderFormat(
    "image-folder", "one sub-folder per class of PNG/JPEG images",
    "one sub-folder per class holding PNG or JPEG images (torchvision's `ImageFolder` layout); "
    "kept at their size and in colour when they share one size (else the most common size, the "
    "others resized and centre-cropped); grey images inverted when dark on light; "
    "split 5:1 into train / test with a fixed seed",
    _is_image_folder, _load_image_folder, classes="the sub-folders' names, sorted",
    shapes_images=True))


__all__ = [
    "DATA_SOURCES", "FOLDER_FORMATS", "DataSource", "FolderFormat", "dataset_candidates",
    "default_epochs", "get_source", "idx_download", "list_folder_formats", "list_sources",
    "load_auto", "load_dataset", "load_folder", "register_folder_format", "register_source",
    "source_names",
]
