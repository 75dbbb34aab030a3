"""Shared fixtures: offscreen Qt, one torch thread, tiny in-memory datasets, the bundled
sample, trained runs, the main window's settings and datasets. Shared helpers that are not
fixtures are in helpers.py."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# OpenMP threads spin-wait between ops by default: beside other busy processes two torch threads
# took 9-26 s for what one took in 0.4 s. Passive waiting gives the core back (read by OpenMP
# when torch loads, so before the import below; `make test` sets it too, for subprocesses).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Downloads (which tests never make) would land in a throw-away folder, not the user's cache.
os.environ["LATENT_EXPLORER_CACHE"] = tempfile.mkdtemp(prefix="latent-explorer-test-cache-")
# numba's compiled code (pynndescent's, which a map thread's import pulls in, and UMAP's: tens of
# seconds to compile) is kept between test sessions in the checkout's build/ (gitignored), not
# in the throw-away cache above: the first session compiles it, later ones load it. A
# NUMBA_CACHE_DIR set by the user wins (latent_methods.use_numba_cache keeps it too).
os.environ.setdefault("NUMBA_CACHE_DIR",
                      str(Path(__file__).resolve().parents[1] / "build" / "numba-cache"))
# Runs that tests train are written into a throw-away workspace, never the user's data folder.
os.environ["LATENT_EXPLORER_WORKSPACE"] = tempfile.mkdtemp(prefix="latent-explorer-test-runs-")

import pytest  # noqa: E402
import torch  # noqa: E402

from latent_explorer.training.data.datasets import Dataset, Split, load_mnist_sample  # noqa: E402
from latent_explorer.training.engine.loop import TrainConfig, Trainer  # noqa: E402
from latent_explorer.training.record.run import Run  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--torch-threads", type=int, default=None,
        help="torch threads for every test that does not pin its own (default: 1, which is "
             "fastest for the suite's tiny models and holds on a busy machine); `make "
             "test-numerics` runs the numerics tests with 1 and 2")


def _torch_threads(config) -> int:
    asked = config.getoption("--torch-threads")
    return asked if asked else 1


def pytest_configure(config):
    # Before any fixture: session-scoped ones (trained runs, the judge) train on it too.
    torch.set_num_threads(_torch_threads(config))


def pytest_collection_modifyitems(config, items):
    """A numerics comparison is slow too: `make test-fast` (-m "not slow") leaves it out.

    Then the modules with the most tests marked slow by hand run first. `make test` hands whole modules to two
    xdist workers (--dist loadscope) in collection order: collected alphabetically, the Ray
    module (two minutes on one worker) started last and ran alone while the other worker sat
    idle; started first, the other worker works through the rest beside it.
    """
    slow: dict[str, int] = {}  # explicit slow marks (processes, clusters) per module
    for item in items:
        if item.get_closest_marker("slow"):
            slow[item.nodeid.split("::")[0]] = slow.get(item.nodeid.split("::")[0], 0) + 1
    for item in items:
        if item.get_closest_marker("numerics") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: -slow.get(item.nodeid.split("::")[0], 0))  # stable: in-module order


@pytest.fixture(scope="session")
def sample_dataset() -> Dataset:
    """The bundled 5,000 MNIST digits (4,500 train / 500 test)."""
    return load_mnist_sample()


@pytest.fixture(scope="session")
def small_dataset(sample_dataset: Dataset) -> Dataset:
    """640 train / 200 test real digits: enough to learn something in a second."""
    tr, te = sample_dataset.train, sample_dataset.test
    return Dataset("mnist-small", Split(tr.images[:640], tr.labels[:640]),
                   Split(te.images[:200], te.labels[:200]), "mnist-small: 640/200 test digits")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch, request):
    """Tests never touch the network: any socket connection fails at once, but to a server
    this machine runs on loopback (a Ray head the test started on 127.0.0.1)."""
    import socket

    connect = socket.create_connection

    def loopback_only(address, *a, **k):
        host = str(address[0])
        if host == "localhost" or host.startswith("127.") or host == "::1":
            return connect(address, *a, **k)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", loopback_only)


@pytest.fixture(autouse=True)
def _torch_thread_count(request):
    """Each test starts on --torch-threads (default 1) torch threads, or on the number its
    `@pytest.mark.torch_threads(n)` asks for (a test that needs two to be able to fail)."""
    marker = request.node.get_closest_marker("torch_threads")
    torch.set_num_threads(marker.args[0] if marker else _torch_threads(request.config))
    yield
    torch.set_num_threads(_torch_threads(request.config))


@pytest.fixture(scope="session")
def runs(small_dataset: Dataset) -> dict[str, Run]:
    """Small trained AE, VAE and CVAE runs ('ae', 'vae', 'cvae'): 20 epochs × 10 steps each."""
    out = {}
    for kind in ("ae", "vae", "cvae"):
        cfg = TrainConfig(kind=kind, beta=0.005, nz=8, hidden=(64, 32), epochs=20,
                          batch_size=64, lr=3e-3, seed=1, device="cpu", dataset="mnist-sample")
        result = Trainer(cfg, small_dataset).run()
        assert result.state == "finished", result.error
        out[kind] = Run(kind.upper(), cfg, result.model, result.history, state="finished",
                        dataset=small_dataset)
    return out


@pytest.fixture
def small_sample(monkeypatch, small_dataset: Dataset) -> Dataset:
    """For this test, the 'mnist-sample' source loads small_dataset's 640/200 digits under its
    own name: a CLI command trains on it as on the sample, in a seventh of the time."""
    from dataclasses import replace

    from latent_explorer.training.data.sources import DATA_SOURCES

    ds = replace(small_dataset, name="mnist-sample")
    source = DATA_SOURCES["mnist-sample"]
    monkeypatch.setitem(DATA_SOURCES, "mnist-sample", replace(
        source, load=lambda notify=None, allow_download=True: ds, n_train=len(ds.train)))
    return ds


@pytest.fixture(scope="session")
def small_judge(small_dataset: Dataset):
    """small_dataset's judge of sample quality, trained once into the session's cache: a
    window's scorer then reads it from there instead of training it (seconds) in the test."""
    from latent_explorer.training.metrics.judge import get_judge

    return get_judge(small_dataset)


@pytest.fixture
def all_runs(runs) -> list[Run]:
    """The trained AE, VAE and CVAE, as a panel's run list."""
    return [runs["ae"], runs["vae"], runs["cvae"]]


@pytest.fixture(scope="session")
def mnist600(sample_dataset: Dataset) -> Dataset:
    """600 train / 100 test digits: at batch 64, 10 steps an epoch, the last one of 24 images
    (a partial batch, which exact resume must replay as it was)."""
    tr, te = sample_dataset.train, sample_dataset.test
    return Dataset("mnist-600", Split(tr.images[:600], tr.labels[:600]),
                   Split(te.images[:100], te.labels[:100]), "mnist-600: 600/100 digits")


# -- the main window ------------------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path):
    """Settings in a temp file, never the user's real configuration."""
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    return QSettings(str(tmp_path / "latent-explorer.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def datasets(small_dataset):
    """'mnist-sample' answered by the 640-image dataset: each epoch is 10 steps."""
    from latent_explorer.explorer.session.datasets import DatasetCache

    cache = DatasetCache()
    cache.put("mnist-sample", None, small_dataset)
    return cache


@pytest.fixture
def window(qtbot, settings, datasets):
    """The main window (no exploration tabs), shown; shut down and checked idle afterwards."""
    from helpers import make_window

    w = make_window(qtbot, settings, datasets)
    yield w
    w.shutdown()
    assert w.session is not None and not w.session.has_active
    for job in w.session.queue.jobs:
        assert job.is_finished


@pytest.fixture(scope="session", autouse=True)
def _garbage_collected_between_tests():
    """As the app does (explorer/gc_guard.py): no automatic collection, which could destroy Qt
    objects in a worker thread or inside a Qt call and hang; collections happen between tests."""
    import gc

    was = gc.isenabled()
    gc.disable()
    yield
    if was:
        gc.enable()


@pytest.fixture(autouse=True)
def _collect_garbage_after_the_test():
    yield
    from latent_explorer.explorer.gc_guard import collect_if_due

    collect_if_due()


@pytest.fixture(autouse=True)
def _no_dangling_threads_or_timers(monkeypatch):
    """Fail a test that leaves a QThread running or a repeating QTimer ticking (as napari does).

    Every QThread.start and QTimer.start during the test is recorded; afterwards none of those
    threads may still run and none of those timers may still repeat. Single-shot timers end by
    themselves, so only repeating ones count.
    """
    from PySide6.QtCore import QThread, QTimer

    threads: list = []
    timers: list = []
    real_thread_start, real_timer_start = QThread.start, QTimer.start

    def thread_start(self, *args):
        threads.append(self)
        return real_thread_start(self, *args)

    def timer_start(self, *args):
        timers.append(self)
        return real_timer_start(self, *args)

    monkeypatch.setattr(QThread, "start", thread_start)
    monkeypatch.setattr(QTimer, "start", timer_start)
    yield
    running, ticking = [], []
    for t in threads:
        try:
            # A moment to finish quitting: up to 10 s, what a thread asked to stop may need on a
            # busy machine (a scorer's bound chunk at nice 5 beside other processes took over 3).
            if t.isRunning() and not t.wait(10_000):
                running.append(t.objectName() or repr(t))
        except RuntimeError:  # its C++ object is gone: it had finished
            pass
    for t in timers:
        try:
            if t.isActive() and not t.isSingleShot():
                ticking.append(t.objectName() or repr(t.parent()))
        except RuntimeError:
            pass
    assert not running, f"threads still running after the test: {running}"
    assert not ticking, f"repeating timers still active after the test: {ticking}"
