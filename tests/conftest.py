"""Shared fixtures: offscreen Qt, a tiny in-memory dataset, the bundled sample."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# OpenMP threads spin-wait between ops by default: beside other busy processes two torch threads
# took 9-26 s for what one took in 0.4 s. Passive waiting gives the core back (read by OpenMP
# when torch loads, so before the import below; `make test` sets it too, for subprocesses).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Downloads (which tests never make) would land in a throw-away folder, not the user's cache.
os.environ["LATENT_EXPLORER_CACHE"] = tempfile.mkdtemp(prefix="latent-explorer-test-cache-")

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
    torch.set_num_threads(_torch_threads(request.config))


@pytest.fixture
def one_torch_thread():
    """Tiny matmuls: one torch thread is fastest, and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def runs(small_dataset: Dataset) -> dict[str, Run]:
    """Small trained AE, VAE and CVAE runs ('ae', 'vae', 'cvae'): 20 epochs × 10 steps each."""
    out = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: one thread is fastest, and 4x faster on a busy machine
    try:
        for kind in ("ae", "vae", "cvae"):
            cfg = TrainConfig(kind=kind, beta=0.005, nz=8, hidden=(64, 32), epochs=20,
                              batch_size=64, lr=3e-3, seed=1, device="cpu", dataset="mnist-sample")
            result = Trainer(cfg, small_dataset).run()
            assert result.state == "finished", result.error
            out[kind] = Run(kind.upper(), cfg, result.model, result.history, state="finished",
                            dataset=small_dataset)
    finally:
        torch.set_num_threads(threads)
    return out


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
            if t.isRunning() and not t.wait(1000):  # a moment to finish quitting
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
