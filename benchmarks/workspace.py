"""The workspace's costs: the writer on the fastest step, the delay from a `train` process to
the window, and a window over 1,000 runs.

Prints, in one run:
1. the run writer's overhead on the MLP fast step (the fastest there is): epochs of the bundled
   sample with and without a RunWriter, alternating, median of the per-round ratios (target
   at most 3 %);
2. the delay from a `main.py train` process logging a step to the window's session having it
   (median and p95 over the steps of ~15 s of training; target at most 2 s); the loss plot
   redraws within its 200 ms tick after that;
3. a workspace of 1,000 generated runs: the window visible (s), the run list complete (s),
   memory growth (MB), and p99 event-loop lateness while the list scrolls and sorts (targets
   1 s, 2 s, 300 MB, 50 ms).

    QT_QPA_PLATFORM=offscreen python benchmarks/workspace.py [--rounds 5] [--runs 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


EPOCHS = 24


def writer_overhead(rounds: int) -> None:
    import torch

    from latent_explorer.training.data.datasets import load_mnist_sample
    from latent_explorer.training.engine.loop import TrainConfig, Trainer
    from latent_explorer.training.record.workspace import RunWriter, Workspace

    torch.set_num_threads(1)
    ds = load_mnist_sample()
    # 24 epochs (~6 s a run): the per-step cost of a course-length run, where the run file at
    # the start and the final checkpoint at the end (~50 ms together) are a small share, as
    # they are in a real run; in 2 s runs they alone read as +2.5 %.
    cfg = TrainConfig(kind="vae", epochs=EPOCHS, dataset="mnist-sample", device="cpu")
    ratios, plain_rates = [], []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        for r in range(rounds):
            times = {}
            # Alternate which goes first: a machine that speeds up or slows down within a
            # round favours neither.
            for with_writer in ((False, True) if r % 2 == 0 else (True, False)):
                observers = [RunWriter(ws, "bench")] if with_writer else []
                t0 = time.perf_counter()
                Trainer(cfg, ds, observers).run()
                times[with_writer] = time.perf_counter() - t0
            ratios.append(times[True] / times[False])
            plain_rates.append(EPOCHS * 71 / times[False])
    print(f"1. run writer on the MLP fast step ({statistics.median(plain_rates):.0f} steps/s "
          f"without it, {EPOCHS} epochs of the bundled sample, {rounds} rounds): overhead "
          f"{(statistics.median(ratios) - 1) * 100:+.1f} % (median; rounds "
          f"{', '.join(f'{(r - 1) * 100:+.1f}' for r in ratios)} %; target <= 3 %)")


def _app():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["bench", "-platform", "offscreen"])


def _spin(app, seconds: float, until=None) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until is not None and until():
            return True
        time.sleep(0.005)
    return False


def watch_delay(seconds: float) -> None:
    from latent_explorer.explorer.main_window import MainWindow
    from latent_explorer.explorer.session.session import RunSession
    from latent_explorer.training.record.workspace import Workspace

    app = _app()
    delays: list[float] = []
    real = RunSession._apply_metrics

    def timed(self, run, lines):
        now = time.time()
        delays.extend(now - rec["w"] for rec in lines if rec.get("t") == "steps" and "w" in rec)
        return real(self, run, lines)

    RunSession._apply_metrics = timed
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        w = MainWindow(load_panels=False, workspace=ws)
        w.show()
        w.finish_startup()
        proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", "--model", "vae",
                                 "--epochs", "100000", "--dataset", "mnist-sample", "--quiet",
                                 "--workspace", tmp], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            _spin(app, 60, lambda: len(delays) > 0)
            delays.clear()  # from the first record the window followed on
            _spin(app, seconds)
        finally:
            proc.kill()
            proc.wait()
            w.shutdown()
            w.close()
    RunSession._apply_metrics = real
    if not delays:
        print("2. no steps reached the window")
        return
    delays.sort()
    p95 = delays[int(0.95 * (len(delays) - 1))]
    print(f"2. train process -> window: median {statistics.median(delays):.2f} s, p95 "
          f"{p95:.2f} s over {len(delays)} logged step records (target <= 2 s)")


def many_runs(n: int) -> None:
    import numpy as np
    from PySide6.QtCore import Qt, QTimer

    from latent_explorer.explorer.main_window import MainWindow
    from latent_explorer.training.config import TrainConfig
    from latent_explorer.training.record.workspace import FORMAT, Workspace

    app = _app()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        rng = np.random.default_rng(0)
        for i in range(n):
            folder = ws.root / f"run-{i:04d}"
            folder.mkdir()
            beta = float(rng.choice([0, 1e-3, 5e-3, 1e-2, 0.1, 1]))
            cfg = TrainConfig(kind=str(rng.choice(["ae", "vae", "cvae"])), beta=beta,
                              nz=int(rng.choice([2, 8, 32])), epochs=20)
            (folder / "run.json").write_text(json.dumps({
                "format": FORMAT, "name": f"run {i}", "state": "finished", "kind": cfg.kind,
                "dataset": "mnist-sample", "config": cfg.to_dict(), "epoch": 20, "step": 1420,
                "checkpoint": None, "host": "elsewhere", "pid": 1, "heartbeat": 0,
                "created": float(i)}))
        t0 = time.perf_counter()
        w = MainWindow(load_panels=False, workspace=ws)
        w.show()
        _spin(app, 10, lambda: w._painted)
        visible = time.perf_counter() - t0
        t1 = time.perf_counter()
        w.finish_startup()  # torch loads here, then the session lists the workspace
        startup = time.perf_counter() - t1
        rss0 = _rss_mb()
        _spin(app, 60, lambda: w.run_model.rowCount() >= n)
        listed = time.perf_counter() - t0
        rows = w.run_model.rowCount()
        late: list[float] = []
        last = [time.perf_counter()]
        timer = QTimer(interval=10)

        def tick():
            now = time.perf_counter()
            late.append(max(0.0, now - last[0] - 0.010))
            last[0] = now

        timer.timeout.connect(tick)
        timer.start()
        table = w.run_table
        bar = table.verticalScrollBar()
        t_end = time.perf_counter() + 5
        k = 0
        while time.perf_counter() < t_end:
            bar.setValue((k * 37) % max(bar.maximum(), 1))
            if table.isSortingEnabled() and k % 20 == 0:
                table.sortByColumn((k // 20) % table.model().columnCount(),
                                  Qt.SortOrder.AscendingOrder)
            k += 1
            _spin(app, 0.02)
        timer.stop()
        rss = _rss_mb() - rss0
        w.shutdown()
        w.close()
    late.sort()
    p99 = late[int(0.99 * (len(late) - 1))] * 1000 if late else float("nan")
    sorting = "scrolling and sorting" if table.isSortingEnabled() else "scrolling (no sorting)"
    print(f"3. {n} runs: window visible {visible:.2f} s (target < 1 s), run list complete "
          f"{listed:.2f} s with {rows} rows, of which {startup:.2f} s loading torch (target "
          f"< 2 s), memory growth {rss:.0f} MB (target "
          f"< 300 MB), p99 event-loop lateness while {sorting} {p99:.0f} ms (target < 50 ms)")


def _rss_mb() -> float:
    """This process's resident memory now (Linux), else its peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--watch-seconds", type=float, default=15.0)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    many_runs(args.runs)
    writer_overhead(args.rounds)
    watch_delay(args.watch_seconds)


if __name__ == "__main__":
    main()
