"""`timeline`: a checkpoint's training timeline as an animated GIF or a PNG contact sheet."""

from __future__ import annotations

import argparse
from pathlib import Path

from latent_explorer.training.cli.main import CliError


def _steps(s: str) -> list[int]:
    try:
        steps = [int(x) for x in s.replace(" ", "").split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected steps like 0,100,1000, got {s!r}") from None
    if not steps or min(steps) < 0:
        raise argparse.ArgumentTypeError(f"expected steps >= 0 like 0,100,1000, got {s!r}")
    return steps


def _count(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
    if not 1 <= v <= 1000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000, got {v}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `timeline`."""
    p.add_argument("file", help="checkpoint file (.safetensors) with a timeline")
    p.add_argument("--out", required=True,
                   help="OUT.gif (an animation of every snapshot) or OUT.png (a contact sheet)")
    p.add_argument("--steps", type=_steps, default=None,
                   help="comma-separated steps to show (the nearest snapshot of each); "
                        "(default: every snapshot in a GIF, --count evenly spread in a sheet)")
    p.add_argument("--count", type=_count, default=8,
                   help="snapshots in a contact sheet when --steps is not given")
    p.add_argument("--frame-ms", type=_count, default=150, help="GIF frame time in ms")
    p.add_argument("--scale", type=_count, default=2, help="pixel upscaling")


def run(args: argparse.Namespace) -> int:
    """Write the GIF or the sheet."""
    from latent_explorer.training.record.checkpoint import load_checkpoint
    from latent_explorer.training.record.timeline import pick_snapshots, write_contact_sheet, write_gif

    out = Path(args.out)
    kind = out.suffix.lower()
    if kind not in (".gif", ".png"):
        raise CliError(f"--out must end in .gif (animation) or .png (contact sheet), "
                       f"got {out.name}")
    if out.is_dir():
        raise CliError(f"--out {out} is a folder; give a file name")
    if not out.parent.exists():
        raise CliError(f"--out {out}: folder {out.parent} does not exist")
    if args.scale > 16:
        raise CliError(f"--scale must be at most 16, got {args.scale}")
    ckpt = load_checkpoint(args.file)
    tl = ckpt.timeline
    if tl is None or not tl.snapshots:
        from latent_explorer.training.record.run_state import no_timeline_reason

        name = ckpt.name or Path(args.file).stem
        why = ("its timeline holds no snapshot yet" if tl is not None
               else no_timeline_reason(name, group=ckpt.group, state=ckpt.state))
        raise CliError(f"{args.file}: no training timeline in this checkpoint: {why}")
    if kind == ".gif":
        idx = pick_snapshots(tl, args.steps) if args.steps else None
        write_gif(tl, out, idx, frame_ms=args.frame_ms, scale=args.scale)
        n = len(idx) if idx is not None else len(tl)
        print(f"wrote {n} frames (steps {tl.snapshots[(idx or [0])[0]].step:,} to "
              f"{tl.snapshots[(idx or [len(tl) - 1])[-1]].step:,}) to {out}")
    else:
        idx = pick_snapshots(tl, args.steps, args.count)
        write_contact_sheet(tl, out, idx, scale=args.scale)
        print(f"wrote a sheet of {len(idx)} snapshots (steps "
              f"{', '.join(f'{tl.snapshots[i].step:,}' for i in idx)}) to {out}")
    return 0
