"""The data-source registry: its entries, kmnist (offline), default epochs, the checkpoint rule."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_explorer import training
import latent_explorer.training.data.datasets as data
import latent_explorer.training.data.sources as sources
from latent_explorer.training.data.datasets import DataError, Dataset, Split
from latent_explorer.training.data.sources import load_dataset
from latent_explorer.training.engine.loop import TrainConfig
from latent_explorer.training.data.sources import (
    DataSource,
    dataset_candidates,
    default_epochs,
    get_source,
    list_sources,
    register_source,
    source_names,
)

ROOT = Path(__file__).resolve().parent.parent
KMNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def idx_gz(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return gzip.compress(head + arr.tobytes())


def tiny_idx_files(seed: int = 0) -> dict[str, tuple[np.ndarray, bytes]]:
    """The four kmnist files, small: 12 train and 5 test images with labels 0-9."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 12, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 5, dtype=np.uint8),
    }
    return {k: (a, idx_gz(a)) for k, a in arrays.items()}


# -- the registry -----------------------------------------------------------------------------
def test_every_source_is_listed_once_in_order():
    names = source_names()
    assert names[:5] == ("auto", "mnist-sample", "mnist", "fashion-mnist", "kmnist")
    assert names[5:] == ("sprites", "sprites-colour", "cifar10", "svhn", "celeba")
    assert [s.name for s in list_sources()] == list(names)
    assert len(set(names)) == len(names)
    for s in list_sources():
        assert get_source(s.name) is s
        assert s.label and s.description and "\n" not in s.description
        # CelebA's faces carry no class: one, 'face' (only AE and VAE models train on it)
        assert s.n_classes == len(s.class_names) >= (1 if s.name == "celeba" else 2)
        assert s.image_shape is None or len(s.image_shape) == 3
        assert s.likelihood in ("bernoulli", "logistic")
    assert training.data.SOURCES == names  # the old name still works
    assert training.data.load_dataset is load_dataset and training.data.Dataset is Dataset


def test_unknown_source_names_the_choices():
    with pytest.raises(ValueError) as e:
        get_source("cifar")
    assert "cifar" in str(e.value) and all(n in str(e.value) for n in source_names())
    with pytest.raises(ValueError, match="already registered"):
        register_source(get_source("mnist"))


def test_kmnist_entry():
    k = get_source("kmnist")
    assert k.class_names == ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
    assert k.downloads and k.n_train == 60_000
    mirrors, md5 = sources.DOWNLOADS["kmnist"]
    assert mirrors == ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    assert sorted(md5) == sorted(KMNIST_FILES)
    # torchvision's KMNIST checksums
    assert md5["train-images-idx3-ubyte.gz"] == "bdb82020997e1d708af4cf47b453dcf7"
    assert md5["t10k-labels-idx1-ubyte.gz"] == "7320c461ea6c1c855c0b718fb2a4b134"
    assert not get_source("mnist-sample").downloads


def test_a_new_source_is_one_entry(monkeypatch, small_dataset):
    """Registered once, it loads by name and the CLI offers it."""
    from latent_explorer.training.cli.main import build_parser

    loaded = []

    def load(notify=None, allow_download=True):
        loaded.append(allow_download)
        return small_dataset

    src = DataSource("tiny", "tiny: 840 digits", "a test source", load, sources.DIGITS,
                     downloads=False, n_train=len(small_dataset.train))
    monkeypatch.setitem(sources.DATA_SOURCES, "tiny", src)
    assert load_dataset("tiny", allow_download=False) is small_dataset and loaded == [False]
    args = build_parser().parse_args(["train", "--model", "ae", "--dataset", "tiny", "--out", "x"])
    assert args.dataset == "tiny"


def test_dataset_n_classes(small_dataset):
    assert small_dataset.n_classes == 10
    one = Split(torch.zeros(1, 28, 28, dtype=torch.uint8), torch.zeros(1, dtype=torch.long))
    assert Dataset("x", one, one, "x", ("a", "b", "c")).n_classes == 3


@pytest.mark.slow  # a process
def test_registries_import_without_torch():
    """The GUI and --help read the registries while torch is still loading (or never)."""
    code = ("import sys\n"
            "from latent_explorer.models import registry\n"
            "from latent_explorer.training import config\n"
            "from latent_explorer.training.cli import main\n"
            "from latent_explorer.training.data import sources\n"
            "main.build_parser()\n"
            "config.TrainConfig(kind='cvae', dataset='kmnist')\n"
            "assert sources.source_names() and registry.kind_names()\n"
            "heavy = sorted(m for m in ('torch', 'numpy') if m in sys.modules)\n"
            "print(heavy); sys.exit(1 if heavy else 0)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


# -- kmnist without a network -----------------------------------------------------------------
def test_kmnist_offline_fails_fast_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "c"))
    probed = []
    monkeypatch.setattr(data, "mirror_reachable",
                        lambda url, timeout: probed.append((url, timeout)) or False)
    with pytest.raises(DataError) as e:
        load_dataset("kmnist")
    assert "kmnist" in str(e.value) and "reachable" in str(e.value)
    assert "codh.rois.ac.jp" in str(e.value)
    # Fast: one short probe, no download tried (the time: benchmarks/refusal_latency.py).
    assert [url for url, _ in probed] == ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    assert all(timeout <= 3.0 for _, timeout in probed)
    with pytest.raises(DataError, match="not in the cache"):
        load_dataset("kmnist", allow_download=False)
    assert not (tmp_path / "c").exists() or list((tmp_path / "c").rglob("*")) == []


def test_kmnist_loads_from_a_seeded_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    monkeypatch.setattr(data, "mirror_reachable", lambda url, timeout: pytest.fail("no probe needed"))
    files = tiny_idx_files()
    (tmp_path / "kmnist").mkdir()
    for name, (_, raw) in files.items():
        (tmp_path / "kmnist" / name).write_bytes(raw)
    ds = load_dataset("kmnist", allow_download=False)
    assert ds.name == "kmnist" and len(ds.train) == 12 and len(ds.test) == 5
    assert ds.class_names == get_source("kmnist").class_names and ds.n_classes == 10
    assert np.array_equal(ds.train.images.numpy()[:, 0], files["train-images-idx3-ubyte.gz"][0])
    assert np.array_equal(ds.test.labels.numpy(), files["t10k-labels-idx1-ubyte.gz"][0])


def test_a_folder_named_after_a_source_keeps_its_class_names(tmp_path):
    """The idx folder format asks the registry; training.data.datasets's loaders know no registry."""
    for name, expected in (("fashion-mnist", sources.FASHION_CLASSES), ("mine", sources.DIGITS)):
        (tmp_path / name).mkdir()
        for fname, (_, raw) in tiny_idx_files().items():
            (tmp_path / name / fname).write_bytes(raw)
        ds = load_dataset(data_dir=tmp_path / name)
        assert ds.name == name and ds.class_names == expected
    direct = data.load_idx_folder(tmp_path / "fashion-mnist")
    assert direct.class_names == data.DIGITS == sources.DIGITS


def test_kmnist_downloads_from_its_mirror_checksummed(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    files = tiny_idx_files(1)
    mirrors, _ = sources.DOWNLOADS["kmnist"]
    monkeypatch.setitem(sources.DOWNLOADS, "kmnist",
                        (mirrors, {k: hashlib.md5(raw).hexdigest() for k, (_, raw) in files.items()}))
    monkeypatch.setattr(data, "mirror_reachable", lambda url, timeout: True)
    fetched = []

    def urlopen(url, timeout=None):
        fetched.append(url)
        return io.BytesIO(files[url.rsplit("/", 1)[-1]][1])

    monkeypatch.setattr(data.urllib.request, "urlopen", urlopen)
    ds = load_dataset("kmnist")
    assert sorted(fetched) == sorted(mirrors[0] + f for f in KMNIST_FILES)
    assert ds.class_names[0] == "o" and len(ds.test) == 5
    assert sorted(p.name for p in (tmp_path / "kmnist").iterdir()) == sorted(KMNIST_FILES)


# -- default epochs ---------------------------------------------------------------------------
def test_default_epochs_reach_the_course_budget():
    sample = get_source("mnist-sample").n_train
    assert default_epochs(sample, 64) in (64, 65)  # 71 steps an epoch
    assert default_epochs(get_source("mnist").n_train, 64) == 20
    for n in (100, 640, 1000, 4500, 9999, 20_000, 60_000, 200_000):
        for b in (16, 64, 100, 512):
            e = default_epochs(n, b)
            steps = e * -(-n // b)
            assert e >= 20
            assert steps >= sources.COURSE_STEPS or e == sources.MAX_EPOCHS
            # not more than needed: one epoch fewer would miss the budget (or the 20 epochs)
            assert e == 20 or (e - 1) * -(-n // b) < sources.COURSE_STEPS
    assert default_epochs(1, 64) == sources.MAX_EPOCHS
    with pytest.raises(ValueError):
        default_epochs(0, 64)


# -- which dataset a checkpoint used ----------------------------------------------------------
def test_dataset_candidates(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    cfg = TrainConfig(dataset="auto", data_dir=str(folder))
    assert dataset_candidates(cfg, "mine") == [("folder", str(folder)), ("auto", None)]
    gone = TrainConfig(dataset="auto", data_dir=str(tmp_path / "gone"))
    assert dataset_candidates(gone, "gone") == [("auto", None)]
    cfg = TrainConfig(dataset="auto")
    assert dataset_candidates(cfg, "mnist-sample") == [("mnist-sample", None), ("auto", None)]
    assert dataset_candidates(TrainConfig(dataset="kmnist"), "kmnist") == [("kmnist", None)]
    assert dataset_candidates(TrainConfig(dataset="mnist"), "") == [("mnist", None)]
    assert dataset_candidates(TrainConfig(dataset="mnist"), "mnist-small") == [("mnist", None)]


# -- image size and depth asked of any source -------------------------------------------------
def test_a_named_source_is_resized_and_recoloured_when_asked(sample_dataset):
    ds = load_dataset("mnist-sample", image_size=32, channels=3)
    assert ds.image_shape == (3, 32, 32) and len(ds.train) == len(sample_dataset.train)
    assert "made 3x32x32" in ds.description and ds.class_names == sample_dataset.class_names
    img = ds.test.images[0].float()
    assert torch.equal(ds.test.images[0, 0], ds.test.images[0, 2])  # grey copied to RGB
    # 28 -> 32 keeps the ink where it was, scaled: the centre of mass moves by 32/28
    src = sample_dataset.test.images[0, 0].float()

    def com(a):
        rows = torch.arange(a.shape[0], dtype=torch.float32) + 0.5
        return float((a.sum(1) * rows).sum() / a.sum())

    assert abs(com(img[0]) - com(src) * 32 / 28) < 0.3
    assert load_dataset("mnist-sample").image_shape == (1, 28, 28)  # nothing asked: as it is
    back = load_dataset("mnist-sample", channels=1, image_size=28)
    assert torch.equal(back.train.images, sample_dataset.train.images)
    with pytest.raises(DataError, match="image size must be at least 1"):
        load_dataset("mnist-sample", image_size=0)


def test_rgb_to_grey_is_pils_luma():
    from PIL import Image

    from latent_explorer.training.data.resize import to_channels

    rgb = np.random.default_rng(0).integers(0, 256, (2, 3, 5, 7), dtype=np.uint8)
    grey = to_channels(torch.from_numpy(rgb), 1).numpy()
    for i in range(2):
        want = np.asarray(Image.fromarray(rgb[i].transpose(1, 2, 0), "RGB").convert("L"))
        assert np.abs(grey[i, 0].astype(int) - want).max() <= 1
