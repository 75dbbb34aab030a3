"""Does the GUI stay responsive while a job trains, and does training keep its speed?

Runs the real main window (offscreen is fine), starts a VAE job on the largest dataset at hand
(full Fashion-MNIST from `apt-get install dataset-fashion-mnist`, cached MNIST, else the bundled
sample) and, while it trains, measures how late a 10 ms QTimer fires (median and 99th
percentile) and the job's training steps/s. The same training runs headless (a fresh process
started by this one, torch on its main thread), before and after, for comparison. The GUI run
is done with the worker at torch's default thread count (the app's choice, explorer/session/worker_threads.py
WORKER_TORCH_THREADS) and with one thread, to justify it.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_responsiveness.py [--epochs 2]
    python benchmarks/gui_responsiveness.py --startup   # launch-to-visible (benchmarks/launch_time.py)

Targets: p99 lateness < 50 ms; GUI throughput >= 90 % of headless (the faster of torch's
default thread count and one thread, each measured before and after). Not a test: it prints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FASHION = Path("/usr/share/datasets/fashion-mnist")


def pick_dataset():
    """(source, data_dir, Dataset): the largest one available without a download."""
    from latent_explorer.training.data.datasets import DataError
    from latent_explorer.training.data.sources import load_dataset

    if FASHION.is_dir():
        try:
            return "folder", str(FASHION), load_dataset("folder", str(FASHION))
        except DataError:
            pass
    ds = load_dataset("auto", allow_download=False)
    return ("mnist" if ds.name == "mnist" else "mnist-sample"), None, ds


def train_rate(epoch_events) -> float:
    """Training steps per second over the epochs (evaluation time left out)."""
    steps = epoch_events[-1].step
    seconds = sum(e.seconds for e in epoch_events)
    return steps / seconds if seconds > 0 else float("nan")


def headless(config, dataset) -> float:
    from latent_explorer.training.engine.loop import Trainer, TrainingObserver

    class Epochs(TrainingObserver):
        def __init__(self) -> None:
            self.events = []

        def on_epoch_end(self, event) -> None:
            self.events.append(event)

    obs = Epochs()
    result = Trainer(config, dataset, observers=[obs]).run()
    assert result.state == "finished", result.error
    return train_rate(obs.events)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def start_lateness_probe(interval_ms: int = 10):
    """A precise QTimer every interval_ms; returns (timer, lateness list in ms), already running."""
    from PySide6.QtCore import QElapsedTimer, Qt, QTimer

    late: list[float] = []
    clock = QElapsedTimer()
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(interval_ms)
    last = [0.0]

    def on_probe_timeout() -> None:
        now = clock.nsecsElapsed() / 1e6
        late.append(max(0.0, now - last[0] - interval_ms))
        last[0] = now

    probe.timeout.connect(on_probe_timeout)
    clock.start()
    probe.start()
    return probe, late


def gui_run(app, window, values: dict, torch_threads: int | None) -> dict:
    """Train one job from the window while a 10 ms timer probes the event loop's lateness."""
    from PySide6.QtCore import QEventLoop

    import latent_explorer.explorer.session.worker_threads as worker_threads
    from latent_explorer.explorer.session.job_events import EpochEvent

    worker_threads.WORKER_TORCH_THREADS = torch_threads
    epochs: list = []

    def on_event(run, ev) -> None:
        if isinstance(ev, EpochEvent):
            epochs.append(ev)

    def on_finished(job) -> None:
        loop.quit()

    session = window.session
    session.run_event.connect(on_event)
    run = window.start_run(values)
    loop = QEventLoop()
    session.queue.job_finished.connect(on_finished)
    probe, late_ms = start_lateness_probe()
    loop.exec()
    probe.stop()
    session.run_event.disconnect(on_event)
    session.queue.job_finished.disconnect(on_finished)
    assert run.state == "finished", run.error
    late_ms = late_ms[5:]  # the first ticks include the job's start-up
    return {"rate": train_rate(epochs), "median": statistics.median(late_ms),
            "p99": percentile(late_ms, 99), "max": max(late_ms), "ticks": len(late_ms),
            "steps": epochs[-1].step}


def gui_sweep_run(app, window, values: dict) -> dict:
    """Train the course's 7-member β sweep from the window while the probe runs."""
    import time as _time

    from PySide6.QtCore import QEventLoop

    betas = (0.0, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)
    sweep = {k: values[k] for k in ("kind", "nz", "epochs", "batch_size", "lr", "dataset",
                                    "data_dir")}
    sweep.update(betas=betas, seeds=(0,))
    session = window.session
    loop = QEventLoop()

    def on_finished(job) -> None:
        loop.quit()

    session.queue.job_finished.connect(on_finished)
    t0 = _time.perf_counter()
    runs = window.start_sweep(sweep)
    probe, late_ms = start_lateness_probe()
    loop.exec()
    probe.stop()
    seconds = _time.perf_counter() - t0
    session.queue.job_finished.disconnect(on_finished)
    assert all(r.state == "finished" for r in runs), [r.error for r in runs]
    late_ms = late_ms[5:]
    model_steps = sum(len(r.history) for r in runs)
    return {"rate": model_steps / seconds, "median": statistics.median(late_ms),
            "p99": percentile(late_ms, 99), "max": max(late_ms), "members": len(runs)}


def idle_lateness(app, seconds: float = 1.0) -> tuple[float, float]:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    probe, late = start_lateness_probe()
    loop.exec()
    probe.stop()
    late = late[2:]
    return statistics.median(late), percentile(late, 99)


def startup(repeats: int) -> None:
    """Seconds from `python main.py` starting to the window painted, and to torch ready."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from launch_time import measure  # one probe parser for both scripts

    measure(repeats)


def plot_cost(app) -> None:
    """Redraw cost of the loss plot holding 3 runs of 100,000 steps, one growing."""
    import numpy as np

    from latent_explorer.explorer.views.loss_plot import LossPlot
    from latent_explorer.training.engine.loop import TrainConfig
    from latent_explorer.training.record.run import Run

    plot = LossPlot()
    plot.resize(1100, 400)
    plot.show()
    rng = np.random.default_rng(0)
    runs = [Run(f"r{i}", TrainConfig()) for i in range(3)]
    for r in runs:
        plot.add_run(r, "#e6550d")
        v = rng.random(100_000).astype(np.float32)
        plot.append_steps(r.id, 0, v, v, v)
    plot.flush()
    app.processEvents()
    n, times = 100_000, []
    for _ in range(30):
        v = rng.random(33).astype(np.float32)
        t0 = time.perf_counter()
        plot.append_steps(runs[-1].id, n, v, v, v)
        n += 33
        plot.flush()
        plot.graphics.viewport().repaint()
        times.append((time.perf_counter() - t0) * 1000)
    print(f"plot with 3 x 100,000 steps: one update + repaint {statistics.median(times):.1f} ms "
          f"median, {percentile(times, 90):.1f} ms p90; the redraw timer then runs every "
          f"{plot.redraw_interval_ms} ms")
    plot.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs per run (default: 2 on full data, 20 on the sample)")
    p.add_argument("--startup", action="store_true", help="measure launch-to-visible instead")
    p.add_argument("--repeats", type=int, default=3, help="launches for --startup")
    p.add_argument("--threads", choices=("both", "1", "default"), default="both",
                   help="worker torch threads to measure (default: both)")
    p.add_argument("--arch", choices=("mlp", "conv"), default="mlp",
                   help="the networks, headless and in the GUI (default: mlp, the course's)")
    p.add_argument("--engine", choices=("fast", "autograd"), default="fast",
                   help="training engine, headless and in the GUI (default: fast, the app's)")
    p.add_argument("--sweep", action="store_true",
                   help="also train the course's 7-member β sweep from the window and report "
                        "its event-loop lateness (same p99 target as a single run)")
    p.add_argument("--busy", type=int, default=0, metavar="N",
                   help="run N busy processes beside it all (a user's busy laptop; compare "
                        "with a run without)")
    p.add_argument("--headless-only", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.busy and not args.headless_only:
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(args.busy)]
        print(f"{args.busy} busy processes run beside the whole measurement")
        try:
            rest = list(argv if argv is not None else sys.argv[1:])
            for i, a in enumerate(rest):
                if a.startswith("--busy"):
                    del rest[i:i + (1 if "=" in a else 2)]
                    break
            return main(rest)
        finally:
            for b in busy:
                b.kill()
                b.wait()
    if args.headless_only:
        import torch

        from latent_explorer.training.engine.loop import TrainConfig

        torch.set_num_threads(args.headless_only)
        source, data_dir, ds = pick_dataset()
        epochs = args.epochs or (2 if len(ds.train) > 10_000 else 20)
        cfg = TrainConfig(kind="vae", beta=0.005, nz=32, epochs=epochs, batch_size=64, lr=1e-3,
                          seed=0, dataset=source, data_dir=data_dir, engine=args.engine,
                          arch=args.arch)
        print(f"rate {headless(cfg, ds):.3f}")
        return 0
    if args.startup:
        startup(args.repeats)
        return 0

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from latent_explorer.explorer.app import create_app

    app = create_app()
    from PySide6.QtCore import QSettings

    import torch

    from latent_explorer.explorer.main_window import MainWindow
    from latent_explorer.training.engine.loop import TrainConfig

    source, data_dir, ds = pick_dataset()
    epochs = args.epochs or (2 if len(ds.train) > 10_000 else 20)
    values = {"kind": "vae", "beta": 0.005, "nz": 32, "epochs": epochs, "batch_size": 64,
              "lr": 1e-3, "seed": 0, "dataset": source, "data_dir": data_dir, "engine": args.engine,
              "arch": args.arch}
    TrainConfig(**values)  # bad values fail here, before any window opens
    print(f"dataset: {ds.description}")
    print(f"VAE {args.arch} nz=32 batch 64, {epochs} epochs, {args.engine} engine; torch {torch.__version__}, "
          f"{torch.get_num_threads()} default threads, {os.cpu_count()} CPUs")

    tmp = tempfile.mkdtemp(prefix="latent-explorer-bench-")
    settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.resize(1400, 900)
    window.show()
    window.finish_startup()
    window.session.datasets.put(source, data_dir, ds)  # dataset loading is not what we measure
    app.processEvents()
    med, p99 = idle_lateness(app)
    print(f"idle GUI: timer lateness median {med:.2f} ms, p99 {p99:.2f} ms")
    plot_cost(app)

    import latent_explorer.explorer.session.worker_threads as worker_threads

    default_threads = worker_threads.DEFAULT_TORCH_THREADS

    def headless_with(threads: int) -> float:
        """The same training in a fresh process: no GUI, torch on its main thread."""
        out = subprocess.run([sys.executable, __file__, "--headless-only", str(threads),
                              "--epochs", str(epochs), "--engine", args.engine, "--arch", args.arch],
                             capture_output=True, text=True,
                             timeout=900, cwd=ROOT)
        line = [x for x in out.stdout.splitlines() if x.startswith("rate ")]
        if not line:
            raise RuntimeError(f"headless run failed: {out.stderr[-2000:]}")
        return float(line[-1].split()[1])

    rows: list[tuple[str, float, dict | None]] = []
    base: dict[str, list[float]] = {"default": [], "1": []}
    base["default"].append(headless_with(default_threads))
    rows.append((f"headless process, {default_threads} torch threads", base["default"][-1], None))
    base["1"].append(headless_with(1))
    rows.append(("headless process, 1 torch thread", base["1"][-1], None))
    for n in {"both": [None, 1], "1": [1], "default": [None]}[args.threads]:
        r = gui_run(app, window, values, n)
        rows.append((f"GUI job, worker torch threads = {n or f'default ({default_threads})'}",
                     r["rate"], r))
    base["default"].append(headless_with(default_threads))
    rows.append((f"headless again, {default_threads} torch threads", base["default"][-1], None))
    base["1"].append(headless_with(1))
    rows.append(("headless again, 1 torch thread", base["1"][-1], None))
    ref = max(statistics.mean(base["default"]), statistics.mean(base["1"]))  # the faster one
    print()
    print(f"{'run':<46} {'steps/s':>8} {'vs best headless':>17} {'late median':>12} "
          f"{'p99':>8} {'max':>8}")
    for label, rate, r in rows:
        extra = (f"{r['median']:>10.2f}ms {r['p99']:>6.1f}ms {r['max']:>6.1f}ms" if r else "")
        print(f"{label:<46} {rate:>8.0f} {rate / ref:>16.0%} {extra}")
    chosen = next(r for r in rows if r[2] is not None)
    ok_latency = chosen[2]["p99"] < 50
    ok_rate = chosen[1] >= 0.9 * ref
    print(f"\ntargets for the app's setting ({chosen[0]}): p99 lateness < 50 ms: "
          f"{'met' if ok_latency else 'MISSED'}; throughput >= 90% of the best headless "
          f"({ref:.0f} steps/s): {'met' if ok_rate else 'MISSED'}")
    if args.sweep:
        r = gui_sweep_run(app, window, values)
        print(f"GUI sweep of {r['members']} members: {r['rate']:.0f} model-steps/s (wall clock, "
              f"start to end); timer lateness median {r['median']:.2f} ms, p99 {r['p99']:.1f} ms, "
              f"max {r['max']:.1f} ms: p99 < 50 ms {'met' if r['p99'] < 50 else 'MISSED'}")
    print(f"machine load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    window.shutdown()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
