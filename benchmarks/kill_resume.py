"""Kill training with SIGKILL at spread moments; check that nothing is lost.

For each of `--kills` moments spread over a run, for `main.py train` and for the app (a window
training a run from its form, offscreen), this starts the process on a fresh workspace, kills
it with SIGKILL at that moment, then checks what a relaunch finds:
- the run is there, and reads as interrupted;
- its metrics log reaches to at most a second before the kill;
- its last epoch checkpoint loads;
- continuing it (`train --resume RUN`) reaches exactly the weights of an uninterrupted run.
Prints one line per kill and a summary.

    QT_QPA_PLATFORM=offscreen python benchmarks/kill_resume.py [--kills 20] [--which both]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 30
TRAIN = ["--model", "vae", "--nz", "2", "--hidden", "8", "--dataset", "mnist-sample",
         "--threads", "1"]

APP = """
import sys, os
from PySide6.QtWidgets import QApplication
app = QApplication(["app", "-platform", "offscreen"])
from latent_explorer.explorer.main_window import MainWindow
from latent_explorer.training.record.workspace import Workspace
w = MainWindow(load_panels=False, workspace=Workspace(sys.argv[1]))
w.show()
w.finish_startup()
import torch
torch.set_num_threads(1)
w.form.set_values({"kind": "vae", "beta": 0.005, "nz": 2, "hidden": "8", "epochs": %d,
                   "batch_size": 64, "lr": 1e-3, "seed": 0, "dataset": "mnist-sample",
                   "data_dir": None})
w.start_run(w.form.values())
app.exec()
""" % EPOCHS


_REFERENCES: dict[str, dict] = {}


def reference_weights(config: dict):
    """The weights of the run's own config trained without interruption (once per config)."""
    import json

    import torch

    from latent_explorer.training.engine.loop import TrainConfig, Trainer

    key = json.dumps(config, sort_keys=True)
    if key not in _REFERENCES:
        torch.set_num_threads(1)
        cfg = TrainConfig.from_dict(config)
        _REFERENCES[key] = Trainer(cfg, None).run().model.state_dict()
    return _REFERENCES[key]


def one_kill(which: str, delay: float, env) -> str:
    import torch

    from latent_explorer.training.cli.main import run_cli
    from latent_explorer.training.record.checkpoint import load_checkpoint
    from latent_explorer.training.record.workspace import (METRICS_FILE, MetricsReader,
                                                           Workspace, read_run)

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        if which == "train":
            cmd = [sys.executable, str(ROOT / "main.py"), "train", *TRAIN, "--epochs",
                   str(EPOCHS), "--quiet", "--workspace", tmp]
        else:
            cmd = [sys.executable, "-c", APP, tmp]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # the moment: `delay` seconds after its first step is on disk
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            folders = list(ws.run_folders())
            if folders and (folders[0] / METRICS_FILE).is_file() and \
                    (folders[0] / METRICS_FILE).stat().st_size > 0:
                break
            time.sleep(0.02)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.time()
        proc.wait()
        folders = list(ws.run_folders())
        if not folders:
            return "FAIL: no run folder"
        rec = read_run(folders[0])
        if rec.state == "finished":
            return f"finished before the kill ({delay:.1f} s)"
        problems = []
        if rec.state != "interrupted":
            problems.append(f"state {rec.state}")
        lines = MetricsReader(rec.folder).read_new()
        last_w = max((r.get("w", 0) for r in lines if r.get("t") == "steps"), default=0)
        gap = killed - last_w
        if gap > 1.0:
            problems.append(f"metrics end {gap:.2f} s before the kill")
        if rec.checkpoint_path is None:
            return (f"killed {delay:4.1f} s in, epoch {rec.epoch}: before the first epoch "
                    f"checkpoint; metrics to {gap:.2f} s before the kill"
                    + ("; FAIL: " + ", ".join(problems) if problems else ""))
        ckpt = load_checkpoint(rec.checkpoint_path)
        rc = run_cli(["train", "--resume", rec.folder.name, "--epochs", str(EPOCHS), "--quiet",
                      "--workspace", tmp])
        after = read_run(rec.folder)
        weights = load_checkpoint(after.checkpoint_path).model.state_dict()
        reference = reference_weights(rec.config)
        exact = rc == 0 and all(torch.equal(weights[k], v) for k, v in reference.items())
        if not exact:
            problems.append("continued weights differ from the uninterrupted run's")
        return (f"killed {delay:4.1f} s in at epoch {rec.epoch}: metrics to {gap:.2f} s before "
                f"the kill, checkpoint of epoch {ckpt.resume.epochs_done if ckpt.resume else '?'}"
                f" loads, continued {'exactly' if exact else 'NOT exactly'}"
                + ("; FAIL: " + ", ".join(problems) if problems else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--which", choices=("train", "app", "both"), default="both")
    ap.add_argument("--span", type=float, default=6.0, help="kill moments spread over seconds")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    env = {**os.environ, "LATENT_EXPLORER_CHECKPOINT_INTERVAL_S": "1"}
    whiches = ("train", "app") if args.which == "both" else (args.which,)
    failures = 0
    for which in whiches:
        print(f"== {which}: {args.kills} kills spread over {args.span:.0f} s of training")
        for i in range(args.kills):
            delay = args.span * (i + 0.5) / args.kills
            line = one_kill(which, delay, env)
            failures += "FAIL" in line
            print(f"  {i + 1:2d}. {line}", flush=True)
    print(f"{failures} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
