"""CIFAR-10, SVHN and CelebA from files in their published formats, made small here: no download."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from latent_explorer.training.data import colour_sources as cs
from latent_explorer.training.data.datasets import DataError
from latent_explorer.training.data.sources import get_source, load_dataset

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache folder; any download fails the test."""
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cs, "fetch", lambda name, root: pytest.fail(f"downloaded {name}"))
    return tmp_path / "cache"


def cifar_rows(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """n CIFAR rows: 1,024 red, 1,024 green, 1,024 blue values; image i's planes are i, 2i, 3i
    plus noise in the red plane; labels i % 10."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((n, 3072), np.uint8)
    for i in range(n):
        rows[i, :1024] = rng.integers(0, 50, 1024) + i
        rows[i, 1024:2048] = 2 * i
        rows[i, 2048:] = 3 * i
    return rows, [(i + seed) % 10 for i in range(n)]


def write_cifar(root: Path, per_batch: int = 4, n_test: int = 3) -> dict[str, tuple[np.ndarray, list[int]]]:
    """cifar-10-batches-py/ as the real one: latin1-readable pickled dicts, five training batches."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    written = {}
    for k, name in enumerate([*cs.CIFAR_TRAIN, "test_batch"]):
        rows, labels = cifar_rows(n_test if name == "test_batch" else per_batch, k)
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "labels": labels, "data": rows,
                         "filenames": [f"{i}.png" for i in range(len(rows))]}, f, protocol=2)
        written[name] = (rows, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR_NAMES, "num_cases_per_batch": per_batch,
                     "num_vis": 3072}, f, protocol=2)
    return written


def write_svhn(root: Path, n_train: int = 7, n_test: int = 4) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """train_32x32.mat and test_32x32.mat as the real ones: X (32, 32, 3, N), y (N, 1) in 1-10."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # 10 is the digit 0
        scipy.io.savemat(str(root / cs.SVHN_FILES[split]), {"X": x, "y": y})
        out[split] = (x, y)
    return out


# -- CIFAR-10 ---------------------------------------------------------------------------------
def test_cifar10_reads_the_pickled_batches(cache):
    written = write_cifar(cache / "cifar10")
    ds = load_dataset("cifar10", allow_download=False)
    assert ds.name == "cifar10" and ds.likelihood == "logistic"
    assert ds.class_names == tuple(CIFAR_NAMES) == get_source("cifar10").class_names
    assert ds.train.images.shape == (20, 3, 32, 32) and ds.test.images.shape == (3, 3, 32, 32)
    assert ds.train.images.dtype == torch.uint8 and ds.train.labels.dtype == torch.int64
    assert ds.image_shape == get_source("cifar10").image_shape == (3, 32, 32)
    # batches in order 1..5; each row's planes red, green, blue, row-major
    rows = np.concatenate([written[b][0] for b in cs.CIFAR_TRAIN])
    assert np.array_equal(ds.train.images.numpy().reshape(20, 3072), rows)
    img = ds.train.images[5].numpy()  # the second batch's second image (i = 1)
    assert (img[1] == 2).all() and (img[2] == 3).all() and img[0].min() >= 1
    assert ds.train.labels.tolist() == sum((written[b][1] for b in cs.CIFAR_TRAIN), [])
    assert ds.test.labels.tolist() == written["test_batch"][1]


def test_cifar10_not_cached_and_no_download_names_the_folder(cache):
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", allow_download=False)
    assert "not in the cache" in str(e.value) and str(cache / "cifar10") in str(e.value)


def test_cifar10_downloads_through_the_fetcher_once(cache, monkeypatch):
    calls = []

    def fetch(name, root):
        calls.append((name, root))
        write_cifar(root)

    monkeypatch.setattr(cs, "fetch", fetch)
    notes: list[str] = []
    ds = load_dataset("cifar10", notify=notes.append)
    assert calls == [("cifar10", cache / "cifar10")] and len(ds.train) == 20
    assert any("Downloading cifar10" in n for n in notes)
    load_dataset("cifar10")  # cached now: no second download
    assert len(calls) == 1


def test_a_failed_download_is_a_data_error(cache, monkeypatch):
    def offline(name, root):
        raise OSError("no route to host")

    monkeypatch.setattr(cs, "fetch", offline)
    with pytest.raises(DataError, match="svhn: download failed .no route to host"):
        load_dataset("svhn")


def test_the_fetcher_asks_torchvision_for_each_split(tmp_path, monkeypatch):
    """fetch() passes root and download=True to torchvision's datasets; they are faked here."""
    import torchvision.datasets as tvd

    asked = []
    monkeypatch.setattr(tvd, "CIFAR10", lambda root, train, download: asked.append(("c", root, train, download)))
    monkeypatch.setattr(tvd, "SVHN", lambda root, split, download: asked.append(("s", root, split, download)))
    cs.fetch("cifar10", tmp_path)
    cs.fetch("svhn", tmp_path)
    assert asked == [("c", str(tmp_path), True, True), ("c", str(tmp_path), False, True),
                     ("s", str(tmp_path), "train", True), ("s", str(tmp_path), "test", True)]


def test_a_broken_cifar_batch_names_the_file(cache):
    write_cifar(cache / "cifar10")
    bad = cache / "cifar10" / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", allow_download=False)
    assert str(bad) in str(e.value)


# -- SVHN -------------------------------------------------------------------------------------
def test_svhn_reads_the_mat_files(cache):
    written = write_svhn(cache / "svhn")
    ds = load_dataset("svhn", allow_download=False)
    assert ds.name == "svhn" and ds.likelihood == "logistic" and ds.class_names == tuple("0123456789")
    assert ds.train.images.shape == (7, 3, 32, 32) and ds.test.images.shape == (4, 3, 32, 32)
    assert ds.train.images.dtype == torch.uint8
    x, y = written["train"]
    # X[h, w, c, n] is image n's pixel (h, w) in channel c
    assert ds.train.images[5, 2, 7, 30] == x[7, 30, 2, 5]
    assert np.array_equal(ds.train.images.numpy(), x.transpose(3, 2, 0, 1))
    # labels 1-9 as they are, 10 (the digit 0) as 0
    assert ds.train.labels.tolist() == [1, 2, 3, 4, 5, 6, 7] and y[0, 0] == 1
    assert ds.test.labels.tolist() == [1, 2, 3, 4]


def test_svhn_with_ten_and_without_its_files(cache):
    root = cache / "svhn"
    root.mkdir(parents=True)
    x = np.zeros((32, 32, 3, 11), np.uint8)
    y = (np.arange(11) % 10 + 1).reshape(11, 1)
    for split in ("train", "test"):
        scipy.io.savemat(str(root / cs.SVHN_FILES[split]), {"X": x, "y": y})
    ds = load_dataset("svhn", allow_download=False)
    assert ds.train.labels.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    (root / "test_32x32.mat").unlink()
    with pytest.raises(DataError) as e:
        load_dataset("svhn", allow_download=False)
    assert str(root) in str(e.value)


# -- CelebA -----------------------------------------------------------------------------------
def write_faces(folder: Path, n: int = 12, partition: bool = True) -> Path:
    """img_align_celeba/000001.jpg...: 178x218 blue pages whose centre 148x148 square is red,
    a green spot in its top-left corner; with list_eval_partition.txt (0, 1 and 2)."""
    images = folder / cs.CELEBA_DIR
    images.mkdir(parents=True)
    for i in range(1, n + 1):
        a = np.zeros((218, 178, 3), np.uint8)
        a[..., 2] = 220
        a[35:183, 15:163] = (230, 10, 10)  # the centre 148 square: rows 35-182, columns 15-162
        a[35:65, 15:45] = (10, 230, 10)
        Image.fromarray(a, "RGB").save(images / f"{i:06d}.jpg", quality=95)
    if partition:
        lines = [f"{i:06d}.jpg {0 if i <= 8 else 1 if i <= 10 else 2}" for i in range(1, n + 1)]
        (folder / cs.CELEBA_PARTITION).write_text("\n".join(lines) + "\n")
    return folder


def test_celeba_folder_is_cropped_resized_and_split(tmp_path, cache, monkeypatch):
    folder = write_faces(tmp_path / "CelebA")
    ds = load_dataset(data_dir=folder)  # found by its img_align_celeba/
    assert ds.name == "celeba" and ds.class_names == ("face",) and ds.likelihood == "logistic"
    assert ds.image_shape == (3, 64, 64) and ds.train.images.dtype == torch.uint8
    assert len(ds.train) == 10 and len(ds.test) == 2  # train + validation / test
    assert (ds.train.labels == 0).all() and ds.factor_names == ()
    face = ds.test.images[0].numpy().astype(int)
    # the crop is the red square: no blue page left inside (the outermost pixels blend a
    # little of it in, as bilinear resizing of a box does); the green spot its top-left 13 px
    assert face[2, 1:-1, 1:-1].max() <= 40 and face[2].max() <= 128
    assert face[0, 30:-1, 30:-1].min() >= 190 and face[1, 2:10, 2:10].min() >= 190
    assert face[1, 16:-1, 16:-1].max() <= 60
    # kept in the cache: read again without decoding a JPEG
    assert cs.celeba_cache_path().is_file()
    with monkeypatch.context() as m:
        m.setattr(cs, "read_face", lambda *a, **k: pytest.fail("read the JPEGs again"))
        again = load_dataset(data_dir=folder)
        named = load_dataset("celeba", allow_download=False)
    assert torch.equal(again.train.images, ds.train.images) and "cached" in again.description
    assert torch.equal(named.test.images, ds.test.images)
    grey = load_dataset(data_dir=folder, channels=1)
    assert grey.image_shape == (1, 64, 64)


def test_celeba_without_partition_file_splits_nine_to_one(tmp_path, cache):
    folder = write_faces(tmp_path / "faces", n=20, partition=False)
    ds = cs.load_celeba_folder(folder / cs.CELEBA_DIR, image_size=32)  # the JPEGs' own folder
    assert ds.image_shape == (3, 32, 32) and len(ds.train) == 18 and len(ds.test) == 2
    assert "90:10 split by seed 0" in ds.description
    again = cs.load_celeba_folder(folder / cs.CELEBA_DIR, image_size=32)
    assert torch.equal(again.test.images, ds.test.images)


def test_the_celeba_source_says_how_to_give_the_folder(cache):
    with pytest.raises(DataError) as e:
        load_dataset("celeba", allow_download=False)
    msg = str(e.value)
    assert "--data-dir" in msg and "img_align_celeba" in msg and str(cache / "celeba") in msg
    assert not get_source("celeba").downloads and get_source("celeba").n_classes == 1
