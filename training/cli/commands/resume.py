"""`train --resume FILE --epochs N --out OUT`: continue a saved run to N epochs in total.

Written as functions for the `train` command to take in: `add_resume_arguments(parser)` adds
the two options, `run_resume(args)` does the work when `args.resume` is set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from latent_explorer.training.cli.main import CliError

# train's options that define the run: with --resume they must agree with the saved run.
# (option name in args, TrainConfig field)
RUN_OPTIONS = (("model", "kind"), ("arch", "arch"), ("beta", "beta"), ("nz", "nz"), ("hidden", "hidden"),
               ("batch_size", "batch_size"), ("lr", "lr"), ("seed", "seed"),
               ("target_rate", "target_rate"), ("prior", "prior"),
               ("pseudo_inputs", "pseudo_inputs"), ("kl_warmup", "kl_warmup"),
               ("kl_cycles", "kl_cycles"), ("kl_ratio", "kl_ratio"),
               ("lr_schedule", "lr_schedule"), ("lr_min", "lr_min"),
               ("lr_warmup", "lr_warmup"), ("keep", "keep"), ("early_stop", "early_stop"),
               ("likelihood", "likelihood"), ("conv_widths", "conv_widths"))


def add_resume_arguments(p: argparse.ArgumentParser) -> None:
    """--resume FILE and --allow-other-dataset."""
    p.add_argument("--resume", metavar="FILE|RUN", default=None,
                   help="continue the run saved in FILE, or the run in a workspace folder (its "
                        "path or name: it continues in that folder, from its latest checkpoint), "
                        "to --epochs in total, exactly where it stopped (its model, "
                        "hyper-parameters, data and random state) (default: none, a new run)")
    p.add_argument("--allow-other-dataset", action="store_true",
                   help="with --resume: continue on --dataset/--data-dir even though the run "
                        "was trained on other data (not exact)")


def _shown(v) -> str:
    if isinstance(v, (tuple, list)):
        return ",".join(map(str, v))
    return f"{v:g}" if isinstance(v, float) else str(v)


def resume_conflicts(args: argparse.Namespace, stored) -> list[str]:
    """train options given (not None) that contradict the saved run's TrainConfig `stored`."""
    out = []
    for opt, field in RUN_OPTIONS:
        given = getattr(args, opt, None)
        if given is None:
            continue
        have = getattr(stored, field)
        if (tuple(given) if field in ("hidden", "conv_widths") else given) != have:
            out.append(f"--{opt.replace('_', '-')} {_shown(given)} (the run has {_shown(have)})")
    return out


def run_resume(args: argparse.Namespace, observers: Sequence = ()) -> int:
    """Continue the run in args.resume to args.epochs epochs in total; save it to args.out.

    Options left None are taken from the saved run; the train parser should therefore give
    the run-defining options (RUN_OPTIONS) a default of None when --resume is given.
    """
    from latent_explorer.training.record.checkpoint import checkpoint_of, load_checkpoint, save_checkpoint
    from latent_explorer.training.engine.loop import Trainer
    from latent_explorer.training.engine.resume import ResumeError
    from latent_explorer.training.data.sources import load_dataset

    out = Path(args.out) if args.out is not None else None
    if out is not None and out.is_dir():
        raise CliError(f"--out {out} is a folder; give a file name")
    if out is not None and not out.parent.exists():
        raise CliError(f"--out {out}: folder {out.parent} does not exist")
    epochs = getattr(args, "epochs", None)
    if epochs is None:
        raise CliError("--resume needs --epochs N, the total number of epochs to reach")
    ckpt = load_checkpoint(args.resume)
    conflicts = resume_conflicts(args, ckpt.train_config)
    if conflicts:
        raise CliError(f"{args.resume}: cannot continue with {'; '.join(conflicts)}: a resumed "
                       "run keeps its model and hyper-parameters (leave those options out)")
    notify = lambda m: print(f"note: {m}", file=sys.stderr)  # noqa: E731
    dataset = None
    source, data_dir = getattr(args, "dataset", None), getattr(args, "data_dir", None)
    if source is not None or data_dir is not None:
        dataset = load_dataset(source or "auto", data_dir, notify=notify)
    device = getattr(args, "device", None)
    try:
        trainer = Trainer.from_checkpoint(
            ckpt, epochs, dataset, observers, device=device,
            allow_other_dataset=bool(getattr(args, "allow_other_dataset", False)), notify=notify)
    except (ResumeError, ValueError) as e:
        raise CliError(f"{args.resume}: {e}") from None
    start = trainer.resumed_from
    assert start is not None and trainer.dataset is not None  # from_checkpoint planned both
    for line in start.notices:
        notify(line)
    where = (f"epoch {start.epochs_done + 1}, batch {start.batch_in_epoch}" if start.batch_in_epoch
             else f"the end of epoch {start.epochs_done}")
    print(f"continuing {ckpt.name} ({ckpt.train_config.kind.upper()}) from {where} (step "
          f"{start.step:,}) to {epochs} epochs on {trainer.dataset.description} "
          f"({trainer.device})", file=sys.stderr)
    result = trainer.run()
    if result.note:  # stopped early, or kept an earlier epoch's weights
        notify(result.note)
    if result.state == "failed":
        raise CliError(f"training failed: {result.error}")
    if result.state == "finished":
        assert result.metrics is not None  # a finished run was tested
        print(f"test: {result.metrics.summary()}")
    exact = "" if start.exact else ", not exact: see the notes"
    if out is not None:
        save_checkpoint(out, checkpoint_of(trainer, result, name=ckpt.name))
        print(f"saved {out} ({result.seconds:.1f} s{exact})")
    elif exact:
        print(f"continued{exact}", file=sys.stderr)
    return 0
