"""Datasets: idx files, the bundled sample, the offline fallback, and batching."""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.error

import numpy as np
import pytest
import torch

import latent_explorer.training.data.datasets as data
import latent_explorer.training.data.sources as sources
from latent_explorer.training.data.datasets import (
    DataError,
    Split,
    batches_per_epoch,
    iterate_batches,
    load_idx_folder,
    load_mnist_sample,
    read_idx,
)
from latent_explorer.training.data.sources import load_dataset


def idx_bytes(arr: np.ndarray, dtype_code: int = 0x08) -> bytes:
    """An idx file: magic (0, 0, type, ndim), big-endian sizes, then the raw bytes."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    head = bytes([0, 0, dtype_code, arr.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in arr.shape)
    return head + arr.tobytes()


def write_idx(path, arr: np.ndarray, gz: bool | None = None) -> None:
    raw = idx_bytes(arr)
    gz = str(path).endswith(".gz") if gz is None else gz
    path.write_bytes(gzip.compress(raw) if gz else raw)


def rand_images(n: int, seed: int = 0, size: int = 28) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def rand_labels(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 10, n, dtype=np.uint8)


def make_idx_folder(folder, n_train=30, n_test=12, gz_train=True, gz_test=False, size=28):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rand_images(n_train, 1, size),
        "train-labels-idx1-ubyte": rand_labels(n_train, 2),
        "t10k-images-idx3-ubyte": rand_images(n_test, 3, size),
        "t10k-labels-idx1-ubyte": rand_labels(n_test, 4),
    }
    for stem, arr in arrays.items():
        gz = gz_train if stem.startswith("train") else gz_test
        write_idx(folder / (stem + (".gz" if gz else "")), arr)
    return arrays


# -- read_idx ---------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_reads_images_and_labels(tmp_path, gz):
    imgs, labels = rand_images(5), rand_labels(5)
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"img{suffix}", imgs)
    write_idx(tmp_path / f"lab{suffix}", labels)
    got_imgs, got_labels = read_idx(tmp_path / f"img{suffix}"), read_idx(tmp_path / f"lab{suffix}")
    assert got_imgs.dtype == np.uint8 and got_imgs.shape == (5, 28, 28)
    assert np.array_equal(got_imgs, imgs)
    assert np.array_equal(got_labels, labels)


def test_read_idx_wrong_magic_number(tmp_path):
    p = tmp_path / "floats-idx3"
    p.write_bytes(idx_bytes(rand_images(2), dtype_code=0x0D))  # an idx of float32, not bytes
    with pytest.raises(DataError) as e:
        read_idx(p)
    assert str(p) in str(e.value) and "magic" in str(e.value)

    q = tmp_path / "text.idx"
    q.write_bytes(b"hello, this is not an idx file at all")
    with pytest.raises(DataError) as e:
        read_idx(q)
    assert str(q) in str(e.value) and "magic" in str(e.value)


def test_read_idx_rejects_other_dimensions(tmp_path):
    p = tmp_path / "matrix-idx2-ubyte"
    p.write_bytes(idx_bytes(np.zeros((4, 784), np.uint8)))  # 2-D: neither images nor labels
    with pytest.raises(DataError) as e:
        read_idx(p)
    assert str(p) in str(e.value) and "2 dimensions" in str(e.value)


def test_load_idx_folder_label_out_of_range(tmp_path):
    folder = tmp_path / "labels"
    make_idx_folder(folder, gz_train=False)
    write_idx(folder / "train-labels-idx1-ubyte", np.full(30, 12, np.uint8))
    with pytest.raises(DataError) as e:
        load_idx_folder(folder)
    assert "train-images-idx3-ubyte" in str(e.value) and "12" in str(e.value)


def test_read_idx_plain_file_named_gz(tmp_path):
    p = tmp_path / "images.gz"
    p.write_bytes(idx_bytes(rand_images(2)))  # not gzip-compressed despite the name
    with pytest.raises(DataError) as e:
        read_idx(p)
    assert str(p) in str(e.value)


@pytest.mark.parametrize("cut", [3, 10, 100])
def test_read_idx_truncated_file(tmp_path, cut):
    raw = idx_bytes(rand_images(3))
    p = tmp_path / "images-idx3-ubyte"
    p.write_bytes(raw[:-cut] if cut > 10 else raw[:cut])
    with pytest.raises(DataError) as e:
        read_idx(p)
    msg = str(e.value)
    assert str(p) in msg
    assert "truncated" in msg or "magic" in msg  # 3 bytes: not even the magic number


def test_read_idx_truncated_data_says_how_much(tmp_path):
    raw = idx_bytes(rand_images(3))
    p = tmp_path / "images-idx3-ubyte"
    p.write_bytes(raw[:-100])
    with pytest.raises(DataError, match="truncated") as e:
        read_idx(p)
    assert str(p) in str(e.value)
    assert str(3 * 784) in str(e.value)


def test_read_idx_sizes_that_overflow_int64(tmp_path):
    # 2^31 · 2^31 · 4 = 2^64: wraps to 0 in int64 arithmetic; the file holds 10 data bytes
    p = tmp_path / "huge-idx3-ubyte"
    p.write_bytes(bytes([0, 0, 8, 3]) + (2**31).to_bytes(4, "big") * 2 + (4).to_bytes(4, "big")
                  + bytes(10))
    with pytest.raises(DataError, match="truncated") as e:
        read_idx(p)
    assert str(p) in str(e.value)


def test_read_idx_truncated_gzip_stream(tmp_path):
    p = tmp_path / "images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(idx_bytes(rand_images(4)))[:-40])
    with pytest.raises(DataError) as e:
        read_idx(p)
    assert str(p) in str(e.value)


def test_read_idx_missing_file(tmp_path):
    p = tmp_path / "nope-idx3-ubyte"
    with pytest.raises(DataError) as e:
        read_idx(p)
    assert str(p) in str(e.value) and "not found" in str(e.value)


# -- load_idx_folder --------------------------------------------------------------------------
def test_load_idx_folder_reads_gz_and_plain_files(tmp_path):
    folder = tmp_path / "digits"
    arrays = make_idx_folder(folder)
    ds = load_idx_folder(folder)
    assert ds.name == "digits"
    assert len(ds.train) == 30 and len(ds.test) == 12
    # grey: one channel, (N, 1, 28, 28)
    assert ds.train.images.dtype == torch.uint8 and ds.train.images.shape == (30, 1, 28, 28)
    assert ds.image_shape == (1, 28, 28)
    assert ds.train.labels.dtype == torch.int64
    assert np.array_equal(ds.train.images.numpy()[:, 0], arrays["train-images-idx3-ubyte"])
    assert np.array_equal(ds.train.labels.numpy(), arrays["train-labels-idx1-ubyte"])
    assert np.array_equal(ds.test.images.numpy()[:, 0], arrays["t10k-images-idx3-ubyte"])
    assert np.array_equal(ds.test.labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert "30" in ds.description and "12" in ds.description
    # load_dataset takes the folder by data_dir or as the source itself
    assert torch.equal(load_dataset(data_dir=folder).test.images, ds.test.images)
    assert torch.equal(load_dataset(str(folder)).train.labels, ds.train.labels)


def test_load_idx_folder_images_not_28x28(tmp_path):
    """Any size loads now (models take the dataset's image shape), as it is."""
    folder = tmp_path / "small"
    arrays = make_idx_folder(folder, size=20)
    ds = load_idx_folder(folder)
    assert ds.image_shape == (1, 20, 20) and ds.test.images.shape == (12, 1, 20, 20)
    assert np.array_equal(ds.train.images.numpy()[:, 0], arrays["train-images-idx3-ubyte"])


def test_load_idx_folder_label_count_mismatch(tmp_path):
    folder = tmp_path / "mismatch"
    make_idx_folder(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", rand_labels(11))
    with pytest.raises(DataError) as e:
        load_idx_folder(folder)
    assert "t10k-images-idx3-ubyte" in str(e.value) and "11 labels" in str(e.value)


def test_load_idx_folder_swapped_files(tmp_path):
    folder = tmp_path / "swapped"
    make_idx_folder(folder, gz_train=False)
    # a label file where the image file should be
    write_idx(folder / "train-images-idx3-ubyte", rand_labels(30))
    with pytest.raises(DataError) as e:
        load_idx_folder(folder)
    assert "train-images-idx3-ubyte" in str(e.value)


def test_load_idx_folder_missing_file(tmp_path):
    folder = tmp_path / "partial"
    make_idx_folder(folder, gz_test=False)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as e:
        load_idx_folder(folder)
    assert "t10k-labels-idx1-ubyte" in str(e.value) and "not found" in str(e.value)


def test_load_idx_folder_not_a_folder(tmp_path):
    with pytest.raises(DataError) as e:
        load_idx_folder(tmp_path / "missing")
    assert str(tmp_path / "missing") in str(e.value)


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("cifar-1000")


# -- the bundled sample -----------------------------------------------------------------------
def test_mnist_sample_split(sample_dataset):
    ds = sample_dataset
    assert ds.name == "mnist-sample"
    assert len(ds.train) == 4500 and len(ds.test) == 500
    assert ds.train.images.shape == (4500, 1, 28, 28) and ds.train.images.dtype == torch.uint8
    assert ds.test.labels.dtype == torch.int64
    assert set(ds.test.labels.tolist()) == set(range(10))
    assert set(ds.train.labels.tolist()) == set(range(10))
    assert int(ds.train.images.max()) > 200  # real digits, not an empty array


def test_mnist_sample_shuffle_is_fixed_and_disjoint(sample_dataset):
    again = load_mnist_sample()
    assert torch.equal(again.train.images, sample_dataset.train.images)
    assert torch.equal(again.test.labels, sample_dataset.test.labels)
    with np.load(data.sample_path()) as z:
        raw_images, raw_labels = z["images"], z["labels"]
    order = np.random.default_rng(data.SAMPLE_SEED).permutation(len(raw_images))
    assert not np.array_equal(order[:500], np.arange(500))  # really shuffled
    assert np.array_equal(sample_dataset.test.images.numpy()[:, 0], raw_images[order[:500]])
    assert np.array_equal(sample_dataset.train.labels.numpy(), raw_labels[order[500:]])


# -- auto: offline fallback -------------------------------------------------------------------
def offline_probes(monkeypatch) -> list[tuple[str, float]]:
    """The (mirror, timeout) of every reachability probe, each answered as offline (the
    conftest refuses the connection); a download tried anyway fails the test."""
    probes: list[tuple[str, float]] = []
    real = data.mirror_reachable

    def probe(url, timeout):
        probes.append((url, timeout))
        return real(url, timeout)

    def no_download(*args, **kwargs):
        raise AssertionError(f"a download was tried offline: {args}")

    monkeypatch.setattr(data, "mirror_reachable", probe)
    monkeypatch.setattr(data.urllib.request, "urlopen", no_download)
    return probes


def test_auto_falls_back_to_the_sample_offline_fast_and_clean(tmp_path, monkeypatch):
    # Fast: one short probe per mirror, then the sample; no download tried, nothing waited on
    # (the time it takes: benchmarks/refusal_latency.py).
    cache = tmp_path / "cache"
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(cache))
    probes = offline_probes(monkeypatch)
    notes: list[str] = []
    ds = load_dataset("auto", notify=notes.append)
    assert [url for url, _ in probes] == sources.DOWNLOADS["mnist"][0]
    assert all(timeout <= 3.0 for _, timeout in probes)
    assert ds.name == "mnist-sample" and len(ds.train) == 4500
    assert len(notes) == 1
    assert "\n" not in notes[0]
    assert "sample" in notes[0] and "mnist" in notes[0]
    # nothing half-written: no 'mnist' folder, no temp folder
    leftovers = list(cache.rglob("*")) if cache.exists() else []
    assert leftovers == []


def test_named_download_offline_raises_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "c"))
    probes = offline_probes(monkeypatch)
    with pytest.raises(DataError, match="reachable"):
        load_dataset("fashion-mnist")
    assert [url for url, _ in probes] == sources.DOWNLOADS["fashion-mnist"][0]
    assert all(timeout <= 3.0 for _, timeout in probes)
    with pytest.raises(DataError, match="not in the cache"):
        load_dataset("mnist", allow_download=False)
    assert not (tmp_path / "c").exists() or list((tmp_path / "c").rglob("*")) == []


def _fake_mnist(monkeypatch, fail_on: str | None = None):
    """Serve small idx.gz files for 'mnist' with matching checksums; no real network."""
    files = {}
    for stem, arr in [("train-images-idx3-ubyte", rand_images(20, 5)),
                      ("train-labels-idx1-ubyte", rand_labels(20, 6)),
                      ("t10k-images-idx3-ubyte", rand_images(8, 7)),
                      ("t10k-labels-idx1-ubyte", rand_labels(8, 8))]:
        files[stem + ".gz"] = gzip.compress(idx_bytes(arr))
    mirror = "https://example.invalid/mnist/"
    monkeypatch.setitem(sources.DOWNLOADS, "mnist",
                        ([mirror], {k: hashlib.md5(v).hexdigest() for k, v in files.items()}))
    monkeypatch.setattr(data, "mirror_reachable", lambda url, timeout: True)
    fetched = []

    def urlopen(url, timeout=None):
        name = url.rsplit("/", 1)[-1]
        fetched.append(name)
        if name == fail_on:
            raise urllib.error.URLError("connection reset")
        return io.BytesIO(files[name])

    monkeypatch.setattr(data.urllib.request, "urlopen", urlopen)
    return files, fetched


def test_download_is_checksummed_cached_and_loadable(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    files, fetched = _fake_mnist(monkeypatch)
    ds = load_dataset("mnist")
    assert ds.name == "mnist" and len(ds.train) == 20 and len(ds.test) == 8
    assert sorted(fetched) == sorted(files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist"]  # no temp folder left
    fetched.clear()
    assert len(load_dataset("auto").test) == 8  # from the cache: no download
    assert fetched == []


def test_failed_download_leaves_no_half_written_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    _, fetched = _fake_mnist(monkeypatch, fail_on="t10k-images-idx3-ubyte.gz")
    notes: list[str] = []
    ds = load_dataset("auto", notify=notes.append)
    assert ds.name == "mnist-sample"
    assert len(notes) == 1 and "t10k-images" in notes[0]
    assert "train-images-idx3-ubyte.gz" in fetched  # some files had been written
    assert list(tmp_path.rglob("*")) == []


def test_corrupt_download_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    files, _ = _fake_mnist(monkeypatch)
    files["train-labels-idx1-ubyte.gz"] = b"\x1f\x8b garbage"  # checksum no longer matches
    with pytest.raises(DataError, match="checksum"):
        load_dataset("mnist")
    assert list(tmp_path.rglob("*")) == []


# -- batches ----------------------------------------------------------------------------------
def _indexed_split(n: int) -> Split:
    """Image i is filled with the value i, label i: batches reveal which rows they hold."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1).expand(n, 28, 28).contiguous()
    return Split(images, torch.arange(n))


def _epoch_order(split, batch_size, gen, **kw):
    seen, sizes = [], []
    for xb, yb in iterate_batches(split, batch_size, gen, **kw):
        assert xb.dtype == torch.float32 and xb.shape == (len(yb), 784)
        assert float(xb.min()) >= 0.0 and float(xb.max()) <= 1.0
        ids = (xb * 255).round().long()
        assert torch.equal(ids.min(dim=1).values, ids.max(dim=1).values)  # one row = one image
        assert torch.equal(ids[:, 0], yb)  # images and labels stay paired
        seen += yb.tolist()
        sizes.append(len(yb))
    return seen, sizes


def test_iterate_batches_covers_every_index_once_shuffled():
    split = _indexed_split(103)
    gen = torch.Generator().manual_seed(0)
    seen, sizes = _epoch_order(split, 10, gen)
    assert sorted(seen) == list(range(103))
    assert sizes == [10] * 10 + [3]
    assert len(sizes) == batches_per_epoch(103, 10)
    assert seen != list(range(103))
    seen2, _ = _epoch_order(split, 10, gen)  # next epoch, same generator: a new order
    assert sorted(seen2) == list(range(103)) and seen2 != seen


def test_iterate_batches_order_follows_the_generator_seed():
    split = _indexed_split(64)
    a, _ = _epoch_order(split, 16, torch.Generator().manual_seed(3))
    b, _ = _epoch_order(split, 16, torch.Generator().manual_seed(3))
    c, _ = _epoch_order(split, 16, torch.Generator().manual_seed(4))
    assert a == b and a != c


def test_iterate_batches_unshuffled_and_drop_last():
    split = _indexed_split(25)
    seen, sizes = _epoch_order(split, 8, None, shuffle=False)
    assert seen == list(range(25)) and sizes == [8, 8, 8, 1]
    seen, sizes = _epoch_order(split, 8, torch.Generator().manual_seed(0), drop_last=True)
    assert sizes == [8, 8, 8] and len(set(seen)) == 24
    assert batches_per_epoch(25, 8, drop_last=True) == 3


def test_iterate_batches_scales_real_images(small_dataset):
    xb, yb = next(iterate_batches(small_dataset.train, 64, torch.Generator().manual_seed(0)))
    assert xb.shape == (64, 784) and yb.shape == (64,)
    assert float(xb.max()) == 1.0 and float(xb.min()) == 0.0
    f = small_dataset.train.float_images(slice(0, 2))
    assert f.shape == (2, 1, 28, 28) and f.dtype == torch.float32 and float(f.max()) <= 1.0


def test_cache_dir_follows_the_override_then_the_platform(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    from latent_explorer.training.data.datasets import cache_dir

    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("LATENT_EXPLORER_CACHE")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir() == tmp_path / "xdg" / "latent-explorer"
        monkeypatch.delenv("XDG_CACHE_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert cache_dir() == tmp_path / "home" / ".cache" / "latent-explorer"
    elif sys.platform == "darwin":  # not ~/.cache, as the hand-written version had it
        assert cache_dir().parent == Path.home() / "Library" / "Caches"
    else:
        assert cache_dir().name in ("latent-explorer", "Cache")
