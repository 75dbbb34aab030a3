"""How soon Stop, Pause and Close act, in seconds: the figures the tests used to assert.

The tests check where the loop acts, in steps (tests/test_control.py: a stop or a pause takes
effect at the next batch boundary); this prints how long that is on this machine, each case
--repeats times (median and worst):

  stop            Trainer / SweepTrainer running in a thread, stopped from another: from
                  request_stop() to run() returning (was: < 0.5 s single, < 1 s sweep)
  stop-paused     the same, paused at its first batch boundary (was: < 0.5 s)
  close-running   the main window closed while a run trains (was: < 2 s)
  close-paused    the main window closed with one run paused and one queued (was: < 2 s)
  ray-stop        with --ray: a 3-member Ray sweep on the embedded 2-CPU cluster, stopped from
                  the driver after its first epoch: from request_stop() to run() returning
                  (was: the whole run < 60 s)

    QT_QPA_PLATFORM=offscreen python benchmarks/control_latency.py [--repeats 5] [--ray]
        [--threads 1]

The models are the tests' small ones, on the bundled sample's first 640 digits (10 steps an
epoch at batch 64), on one torch thread unless --threads says otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from latent_explorer.training.data.datasets import Dataset, Split, load_mnist_sample  # noqa: E402
from latent_explorer.training.engine.events import Observer  # noqa: E402
from latent_explorer.training.engine.loop import TrainConfig, Trainer  # noqa: E402
from latent_explorer.training.engine.sweep import SweepConfig, SweepTrainer  # noqa: E402

SMALL = dict(kind="vae", beta=0.005, nz=4, hidden=(32,), batch_size=64, lr=1e-3, seed=0,
             device="cpu", dataset="mnist-sample")
SWEEP = dict(kind="vae", betas=(0.0, 0.005, 1.0), seeds=(0,), nz=8, hidden=(64, 32),
             batch_size=64, lr=2e-3, device="cpu", dataset="mnist-sample")
LONG = 2000  # epochs: far longer than any case waits


def small_dataset() -> Dataset:
    s = load_mnist_sample()
    tr, te = s.train, s.test
    return Dataset("mnist-sample", Split(tr.images[:640], tr.labels[:640]),
                   Split(te.images[:200], te.labels[:200]), "the sample's first 640/200 digits")


def make_trainer(kind: str, data: Dataset, observers=()):
    if kind == "single":
        return Trainer(TrainConfig(**SMALL, epochs=LONG), data, list(observers))
    return SweepTrainer(SweepConfig(**SWEEP, epochs=LONG), data, list(observers))


class AfterSteps(Observer):
    def __init__(self, n: int) -> None:
        self.n, self.reached = n, threading.Event()

    def on_steps(self, event) -> None:
        if event.last_step + 1 >= self.n:
            self.reached.set()


def stop_seconds(kind: str, data: Dataset) -> float:
    """From request_stop() to run() returning, the loop running in a thread."""
    obs = AfterSteps(5)
    trainer = make_trainer(kind, data, [obs])
    done = threading.Event()
    worker = threading.Thread(target=lambda: (trainer.run(), done.set()), daemon=True)
    worker.start()
    obs.reached.wait(120)
    t0 = time.perf_counter()
    trainer.request_stop()
    done.wait(120)
    seconds = time.perf_counter() - t0
    worker.join()
    return seconds


def stop_paused_seconds(kind: str, data: Dataset) -> float:
    """From request_stop() to run() returning, the loop blocked in a pause before its first step."""
    trainer = make_trainer(kind, data)
    trainer.pause()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (trainer.run(), done.set()), daemon=True)
    worker.start()
    while not trainer.is_waiting:  # blocked at its first batch boundary
        time.sleep(0.001)
    t0 = time.perf_counter()
    trainer.request_stop()
    done.wait(120)
    seconds = time.perf_counter() - t0
    worker.join()
    return seconds


class _Dialogs:
    """The window's dialogs answered without asking (as the tests' FakeDialogs)."""

    def confirm_close(self, active, unsaved) -> bool:
        return True

    def __getattr__(self, name):
        return lambda *a, **k: None


def close_seconds(data: Dataset, paused: bool, tmp: Path) -> float:
    """w.close() with one run training (or paused, with a second queued)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from latent_explorer.explorer.main_window import MainWindow
    from latent_explorer.explorer.session.datasets import DatasetCache

    app = QApplication.instance() or QApplication([])
    cache = DatasetCache()
    cache.put("mnist-sample", None, data)
    settings = QSettings(str(tmp / "bench.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings=settings, load_panels=False, datasets=cache)
    w.dialogs = _Dialogs()
    w.show()
    w.finish_startup()
    w.form.set_values({"kind": "vae", "beta": 0.005, "nz": 8, "epochs": LONG, "batch_size": 64,
                       "lr": 1e-3, "seed": 0, "dataset": "mnist-sample", "data_dir": None})
    w.form.train_button.click()
    first = w.runs[-1]
    if paused:
        w.form.train_button.click()  # a second run, queued behind the first
    deadline = time.monotonic() + 120
    while w.loss_plot.step_count(first.id) == 0 and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    if paused:
        w.run_table.select_run(first)
        w.toggle_pause()
        job = w.session.job_for(first)
        while not job.worker.is_paused:
            app.processEvents()
    t0 = time.perf_counter()
    w.close()
    seconds = time.perf_counter() - t0
    w.deleteLater()
    app.processEvents()
    return seconds


def ray_stop_seconds(data: Dataset) -> float:
    from latent_explorer.training.engine.ray_sweep import RaySettings, RaySweepTrainer

    class StopAfterFirstEpoch(Observer):
        def __init__(self) -> None:
            self.asked: float | None = None

        def on_epoch_end(self, event) -> None:
            if self.asked is None:
                self.asked = time.perf_counter()
                trainer.request_stop()

    obs = StopAfterFirstEpoch()
    trainer = RaySweepTrainer(SweepConfig(**SWEEP, epochs=50), data, [obs],
                              settings=RaySettings(cpus_per_trial=1))
    trainer.run()
    assert obs.asked is not None
    return time.perf_counter() - obs.asked


def report(name: str, was: str, times: list[float]) -> None:
    print(f"{name:<28} median {statistics.median(times) * 1000:8.1f} ms   "
          f"worst {max(times) * 1000:8.1f} ms   ({len(times)} runs; the tests asserted {was})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--ray", action="store_true", help="also the Ray sweep's stop (starts a cluster)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = small_dataset()
    print(f"{torch.get_num_threads()} torch thread(s), {os.cpu_count()} CPUs; {data.description}")
    r = range(args.repeats)
    report("stop, single model", "< 0.5 s", [stop_seconds("single", data) for _ in r])
    report("stop, stacked sweep", "< 1 s", [stop_seconds("sweep", data) for _ in r])
    report("stop while paused, single", "< 0.5 s", [stop_paused_seconds("single", data) for _ in r])
    report("stop while paused, sweep", "< 0.5 s", [stop_paused_seconds("sweep", data) for _ in r])
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report("close, a run training", "< 2 s",
               [close_seconds(data, False, Path(tmp)) for _ in r])
        report("close, paused + queued", "< 2 s",
               [close_seconds(data, True, Path(tmp)) for _ in r])
    if args.ray:
        import ray

        from latent_explorer.training.engine.ray_sweep import RaySettings, init_ray

        init_ray(ray, RaySettings())
        try:
            report("Ray sweep stop", "< 60 s for the run",
                   [ray_stop_seconds(data) for _ in range(max(1, args.repeats // 2))])
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
