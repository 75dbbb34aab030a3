"""The window asks before a run downloads its dataset, and says what would be fetched; no test
downloads anything (the cache is a temp folder, and a Yes is never given to a real download)."""

from __future__ import annotations

from helpers import LEFT, fill_form
from latent_explorer.training.data import sources
from latent_explorer.training.data.cache_folder import cache_dir


def test_a_source_whose_files_are_not_cached_says_what_it_would_fetch():
    assert sources.download_pending("mnist-sample") is None  # ships with the package
    assert sources.download_pending("sprites") is None  # generated here
    assert sources.download_pending("auto") is None  # falls back to the sample, and says so
    fashion = sources.download_pending("fashion-mnist")
    assert fashion is not None and "about 31 MB" in fashion
    assert str(cache_dir() / "fashion-mnist") in fashion
    cifar = sources.download_pending("cifar10")
    assert cifar is not None and "about 163 MB" in cifar


def test_cached_files_need_no_download(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))  # this test's own cache
    folder = cache_dir() / "kmnist"
    folder.mkdir(parents=True)
    files = list(sources.DOWNLOADS["kmnist"][1])
    for f in files[:-1]:
        (folder / f).write_bytes(b"")
    assert sources.download_pending("kmnist") is not None  # one file still missing
    (folder / files[-1]).write_bytes(b"")
    assert sources.download_pending("kmnist") is None


def test_the_window_asks_before_downloading_and_no_starts_nothing(qtbot, window):
    fill_form(window, dataset="fashion-mnist")
    window.dialogs.answer = False
    n = len(window.runs)
    qtbot.mouseClick(window.form.train_button, LEFT)
    title, text = window.dialogs.confirms[-1]
    assert title == "Download the dataset?" and "about 31 MB" in text
    assert len(window.runs) == n  # nothing queued, nothing fetched
    assert "not downloaded" in window.form.message.text()


def test_a_sweep_asks_too(qtbot, window):
    fill_form(window, dataset="cifar10")
    window.form.sweep.setChecked(True)
    window.form.betas.setText("0.001, 0.01")
    window.dialogs.answer = False
    n = len(window.runs)
    qtbot.mouseClick(window.form.train_button, LEFT)
    assert "about 163 MB" in window.dialogs.confirms[-1][1]
    assert len(window.runs) == n
