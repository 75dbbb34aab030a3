"""`runs`: list the runs of a workspace, from their run files alone."""

from __future__ import annotations

import argparse
import json
import time


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line and run: name, folder, state (training, "
                        "paused, finished, stopped, failed, interrupted), epoch (epochs "
                        "completed), step (the latest step whose metrics are on disk), "
                        "checkpoint (the latest checkpoint's path) and more")


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def run(args: argparse.Namespace) -> int:
    from latent_explorer.training.cli.commands._args import workspace_of
    from latent_explorer.training.record.workspace import MetricsReader

    ws = workspace_of(args)
    records = ws.runs()
    for rec in records:
        if rec.is_readable:
            # the latest step on disk: the run file's heartbeat may lag the metrics log by
            # seconds, the log by at most its flush interval
            for line in MetricsReader(rec.folder).read_new():
                if line.get("t") == "steps":
                    rec.step = max(rec.step, int(line.get("first", 0)) + len(line.get("total", [])))
                elif line.get("t") == "epoch":
                    rec.epoch = max(rec.epoch, int(line.get("epoch", 0)))
    if args.json:
        for rec in records:
            print(json.dumps(rec.to_json(), ensure_ascii=False))
        return 0
    if not records:
        print(f"no runs in {ws.root}")
        return 0
    now = time.time()
    width = max(len(r.name) for r in records)
    for rec in records:
        if not rec.is_readable:
            print(f"{rec.name:{width}}  unreadable: {rec.problem}  ({rec.folder.name})")
            continue
        when = _age(now - rec.heartbeat) if rec.heartbeat else ""
        print(f"{rec.name:{width}}  {rec.state:11}  epoch {rec.epoch:>4}  step {rec.step:>7,}  "
              f"{when:>12}  {rec.folder.name}")
    print(f"{len(records)} run(s) in {ws.root}")
    return 0
