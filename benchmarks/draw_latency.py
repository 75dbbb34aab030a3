"""How long the Draw tab takes from a stroke event to every one of its views updated, offscreen.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/draw_latency.py [--strokes 300]
        [--kind cvae] [--codes 10000] [--while-training] [--checkpoint F]

A real DrawPanel (explorer/panels/draw.py) in an offscreen window shows a run whose test split
is the bundled sample's 500 test digits repeated to --codes images (10,000 by default, like
MNIST's). A synthetic drawing then grows one segment per event on the canvas (a 7, then an 8
traced over it, as benchmarks/draw_core_latency.py draws). Each event is timed from the
canvas change to the tab's last view set (preprocess, encode, decode, the nearest 5 of the
test codes and the map marker, ten restyles and the label scores for a CVAE, set images) plus
one more event-loop turn, so the repaint is counted too. The split is encoded once, before the
first timed event, as the tab does when it is shown.

--while-training also trains a course-default run on the sample in a background thread at the
same time, prepared as the app's training workers are (explorer.session.worker_threads), and with the
GUI thread held to one torch thread as in the app. Target: p99 < 33 ms (two frames at 60 Hz).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import torch

from benchmarks.draw_core_latency import percentiles, stroke_path


def repeated_test_split(split, n: int):
    """A Split of n images: `split`'s images and labels repeated (then cut to n)."""
    from latent_explorer.training.data.datasets import Split

    reps = -(-n // len(split))
    return Split(split.images.repeat(reps, 1, 1)[:n], split.labels.repeat(reps)[:n])


def start_training(dataset, kind: str) -> tuple[threading.Thread, object]:
    """A Trainer on its own model in a background thread, as the app's worker runs one."""
    from latent_explorer.explorer.session.worker_threads import prepare_worker_thread
    from latent_explorer.training.engine.loop import TrainConfig, Trainer

    trainer = Trainer(TrainConfig(kind=kind, epochs=1000, device="cpu", dataset="mnist-sample"),
                      dataset)

    def work() -> None:
        prepare_worker_thread()
        trainer.run()

    thread = threading.Thread(target=work, name="training", daemon=True)
    thread.start()
    return thread, trainer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strokes", type=int, default=300, help="stroke events to time")
    ap.add_argument("--kind", default="cvae", choices=("ae", "vae", "cvae"))
    ap.add_argument("--codes", type=int, default=10_000, help="test images (and codes)")
    ap.add_argument("--arch", default="mlp", choices=("mlp", "conv"),
                    help="the networks (models/architectures.py)")
    ap.add_argument("--checkpoint", default=None, help="a checkpoint instead of fresh weights")
    ap.add_argument("--while-training", action="store_true",
                    help="train a run in a background thread at the same time")
    args = ap.parse_args(argv)

    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from latent_explorer.explorer.panels.draw import DrawPanel
    from latent_explorer.explorer.session.worker_threads import limit_gui_thread_torch
    from latent_explorer.models.autoencoders import build_model
    from latent_explorer.training.data.datasets import Dataset, load_mnist_sample
    from latent_explorer.training.engine.loop import TrainConfig
    from latent_explorer.training.record.run import Run

    app = QApplication.instance() or QApplication([])
    limit_gui_thread_torch()  # as the window does before its first torch op
    sample = load_mnist_sample()
    test = repeated_test_split(sample.test, args.codes)
    dataset = Dataset("bench", sample.train, test, f"sample, test split ×{args.codes}")
    if args.checkpoint:
        from latent_explorer.training.record.checkpoint import load_checkpoint

        model = load_checkpoint(args.checkpoint).model
        config = TrainConfig(kind=model.config.kind, nz=model.config.nz,
                             hidden=tuple(model.config.hidden))
    else:
        config = TrainConfig(kind=args.kind, arch=args.arch)
        model = build_model(config.model_config(), torch.Generator().manual_seed(0))
    model.eval()
    run = Run("bench", config, model, state="finished", dataset=dataset)

    panel = DrawPanel()
    panel.resize(1280, 820)
    panel.show()
    panel.set_runs([run])
    panel.set_run(run)
    app.processEvents()
    # The tab's last view set per update: the restyles for a CVAE, else the neighbours.
    last_view = panel.restyle_view if run.kind == "cvae" else panel.neighbour_view
    done = [False]
    last_view.updated.connect(lambda: done.__setitem__(0, True))

    training = None
    if args.while_training:
        training = start_training(sample, "vae")
        deadline = time.perf_counter() + 60
        while len(training[1].history) < 5 and time.perf_counter() < deadline:
            time.sleep(0.05)  # time only once training is under way, not its start-up
    canvas = panel.canvas
    side = min(canvas.width(), canvas.height())
    k = canvas.resolution / side  # canvas pixels per widget pixel
    x0, y0 = (canvas.width() - side) / 2, (canvas.height() - side) / 2
    warmup = 20
    pts = [QPointF(x0 + px / k, y0 + py / k) for px, py in stroke_path(args.strokes + warmup, 280)]
    print(f"torch {torch.__version__}, GUI thread {torch.get_num_threads()} torch thread(s); "
          f"{run.kind.upper()} {model.config.arch} 784-{'-'.join(map(str, model.config.hidden))}-"
          f"nz={model.config.nz}; "
          f"{len(test):,} test codes; {args.strokes} stroke events"
          + ("; a VAE training in the background" if training else ""))

    wall, cpu = [], []
    canvas.begin_stroke(pts[0])
    try:
        for i, p in enumerate(pts[1:]):
            done[0] = False
            t0, c0 = time.perf_counter(), time.thread_time()
            canvas.extend_stroke(p)  # emits `changed`, as a mouse move would
            deadline = t0 + 10.0
            while not done[0] and time.perf_counter() < deadline:
                app.processEvents()
            app.processEvents()  # the repaint of what was just set
            if not done[0]:
                print("a stroke's update never arrived", file=sys.stderr)
                return 1
            if i >= warmup:
                wall.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.thread_time() - c0) * 1000)
        canvas.end_stroke()
    finally:
        if training is not None:
            thread, trainer = training
            trainer.request_stop()
            thread.join(timeout=30)
        panel.close()
    steps = "" if training is None else f" (training: step {len(training[1].history)} at the end)"
    print(f"stroke event to every view updated{steps}:")
    print(f"  wall clock                 {percentiles(wall)}")
    print(f"  CPU time of the GUI thread {percentiles(cpu)}")
    p99 = float(np.percentile(wall, 99))
    print(f"  target p99 < 33 ms: {'met' if p99 < 33 else 'NOT met'} ({p99:.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
