"""`train`: train a model headless and save a checkpoint; `--resume FILE` continues a saved run.

Plain `train` records the run's timeline and saves what continuing it needs (checkpoint_of).
With `--resume`, the run-defining options come from the file: only those the user typed are
checked against it. Their defaults are therefore marked (`_default`), so a typed `--nz 32`
is told apart from the default 32.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from latent_explorer.models.architectures import DEFAULT_ARCH, arch_names, get_arch, list_archs
from latent_explorer.models.priors import DEFAULT_PRIOR, DEFAULT_PSEUDO_INPUTS, get_prior, list_priors, prior_names
from latent_explorer.models.registry import get_kind, kind_names, list_kinds
from latent_explorer.training.cli.main import CliError
from latent_explorer.training.cli.commands.resume import RUN_OPTIONS, add_resume_arguments, run_resume
from latent_explorer.training.record.names import config_name
from latent_explorer.training.cli.commands._args import (
    run_folder_arg,
    workspace_of,
    _hidden,
    _nonneg_float,
    _positive_float,
    _positive_int,
    _seed,
    add_data_arguments,
    add_image_arguments,
    add_schedule_arguments,
    image_config,
    schedule_option_problems,
    load_data,
)
from latent_explorer.training.data.sources import default_epochs, get_source
from latent_explorer.training.engine.schedules import describe as describe_schedules


def _epochs_help() -> str:
    examples = ", ".join(
        f"{default_epochs(s.n_train, 64)} on {s.name}"
        for s in (get_source("mnist-sample"), get_source("mnist")) if s.n_train is not None)
    return ("epochs to train (default: follow the dataset: enough for about 4,500 steps and at "
            f"least 20 epochs on large sets, e.g. {examples} at batch size 64)")


class _Default:
    """A mixin marking an option's default value (see the module docstring)."""


def _default(value):
    """`value` as an instance of a subclass of its type that says it is the default."""
    base = type(value)
    return type(f"Default{base.__name__.capitalize()}", (_Default, base), {})(value)


def _typed(args: argparse.Namespace, name: str) -> bool:
    """Whether the user gave option `name` (not None, not its marked default)."""
    v = getattr(args, name, None)
    return v is not None and not isinstance(v, _Default)


def _plain(v):
    """A marked default as a value of its plain type (what TrainConfig and JSON should see)."""
    if isinstance(v, _Default):
        return type(v).__mro__[2](v)
    return v


_IMPORTED_AT = time.perf_counter()

# What --resume takes from the file when the option is not typed, besides RUN_OPTIONS.
RESUME_FROM_FILE = ("dataset", "device")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `train`; the defaults are TrainConfig's (a test checks)."""
    p.add_argument("--model", default=None, choices=kind_names(),
                   help="the model to train (required) unless --resume gives it; "
                        + "; ".join(f"{k.name}: {k.description}" for k in list_kinds()))
    p.add_argument("--arch", default=_default(DEFAULT_ARCH), choices=arch_names(),
                   help="the encoder and decoder networks, for any --model; "
                        + "; ".join(f"{a.name}: {a.description}" for a in list_archs()))
    p.add_argument("--prior", default=_default(DEFAULT_PRIOR), choices=prior_names(),
                   help="the prior p(z) of a VAE; "
                        + "; ".join(f"{q.name}: {q.description}" for q in list_priors()))
    p.add_argument("--pseudo-inputs", type=_positive_int, default=_default(DEFAULT_PSEUDO_INPUTS),
                   metavar="K", help="with --prior vamp: its number of learned pseudo-inputs")
    p.add_argument("--beta", type=_nonneg_float, default=_default(0.005),
                   help="KL weight (VAE/CVAE)")
    p.add_argument("--target-rate", type=_positive_float, default=None, metavar="NATS",
                   help="train to this rate (KL, nats per image) instead of at a fixed beta: "
                        "beta starts at --beta and a PI controller steers it each step "
                        "(VAE/CVAE) (default: none, beta stays fixed)")
    p.add_argument("--nz", type=_positive_int, default=_default(32), help="latent dimensions")
    p.add_argument("--hidden", type=_hidden, default=_default((256, 64)),
                   help="encoder hidden sizes, comma-separated (the decoder mirrors them) "
                        "(default: 256,64)")
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help=_epochs_help() + "; with --resume: the total to reach (required)")
    p.add_argument("--batch-size", type=_positive_int, default=_default(64),
                   help="images per step")
    p.add_argument("--lr", type=_positive_float, default=_default(1e-3),
                   help="Adam's learning rate")
    p.add_argument("--seed", type=_seed, default=_default(0),
                   help="seeds the weights, the batch order and the noise")
    p.add_argument("--device", default=_default("auto"),
                   help="auto, cpu, cuda or mps (with --resume: the run's own)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="CPU threads for torch (default: torch's, one per core, or one when "
                        "other programs keep the cores busy); fewer leaves cores to others")
    p.add_argument("--compile", action="store_true",
                   help="train through autograd with a torch.compile'd loss "
                        "(slow start; usually slower than the default hand-written step)")
    p.add_argument("--out", default=None,
                   help="also write the final checkpoint to this file (.safetensors) (default: "
                        "none; the run is written into the workspace from its first step)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--timings", action="store_true",
                   help="print where the process's time went (start-up, data, training, test "
                        "evaluation, timeline, save) as a last line on stderr")
    add_data_arguments(p, _default("auto"), "auto; with --resume: the run's own")
    add_schedule_arguments(p, _default)
    add_image_arguments(p, _default)
    add_resume_arguments(p)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def check_out(value: str | None) -> Path | None:
    """--out as a path whose folder exists (None when not given)."""
    if value is None:
        return None
    out = Path(value)
    if out.is_dir():
        raise CliError(f"--out {out} is a folder; give a file name")
    if not out.parent.exists():
        raise CliError(f"--out {out}: folder {out.parent} does not exist")
    return out


def report_writer(writer) -> None:
    """Where the run was written, or why it could not be (training went on regardless)."""
    if writer.write_error:
        print(f"warning: {writer.write_error}", file=sys.stderr)
    elif writer.folder is not None:
        print(f"run: {writer.folder}", file=sys.stderr)


def _resume(args: argparse.Namespace, ws) -> int:
    """`train --resume`: options not typed are the run's; run_resume does the rest. A run
    folder (or its name in the workspace) continues in that folder: the same run."""
    if args.compile:
        raise CliError("--compile cannot be combined with --resume: a resumed run keeps its "
                       "training engine")
    from latent_explorer.training.cli.progress import LoopProgress

    resumed = argparse.Namespace(**vars(args))
    for name in [opt for opt, _ in RUN_OPTIONS] + list(RESUME_FROM_FILE):
        if not _typed(args, name):
            setattr(resumed, name, None)
    from latent_explorer.training.record.workspace import RunWriter, read_run

    folder = run_folder_arg(args.resume, ws)
    if folder is not None:
        rec = read_run(folder)
        if rec.problem:
            raise CliError(f"{folder}: {rec.problem}")
        if rec.checkpoint_path is None or not rec.checkpoint_path.is_file():
            raise CliError(f"{folder}: the run has no checkpoint yet: it cannot be continued")
        resumed.resume = str(rec.checkpoint_path)
        writer = RunWriter(ws, rec.name, folder=folder, group=rec.group, dataset=rec.dataset)
    else:
        from latent_explorer.training.record.checkpoint import load_checkpoint

        name = Path(args.resume).stem
        try:
            name = load_checkpoint(args.resume).name or name
        except Exception:  # noqa: BLE001 - run_resume reports an unreadable file in one line
            pass
        writer = RunWriter(ws, name)
    try:
        return run_resume(resumed, [LoopProgress(args.quiet), writer])
    finally:
        report_writer(writer)


def _timings_line(started: float, t_data: tuple[float, float], t_trained: float,
                  t_saved: float, result) -> str:
    """Where the process's time went, from `started` (its first line) to `t_saved`."""
    train = t_trained - t_data[1]
    steps = train - result.eval_seconds - result.timeline_seconds
    return (f"time: start-up {t_data[0] - started:.2f} s (Python, torch and the project), data "
            f"{t_data[1] - t_data[0]:.2f} s, training {train:.2f} s (steps {steps:.2f} s, test "
            f"evaluation {result.eval_seconds:.2f} s, timeline {result.timeline_seconds:.2f} s), "
            f"save {t_saved - t_trained:.2f} s; total {t_saved - started:.2f} s; "
            f"{torch_threads()} torch thread(s), OpenMP waits "
            f"{(os.environ.get('OMP_WAIT_POLICY') or 'spinning').lower()}")


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def run(args: argparse.Namespace) -> int:
    """Train (or continue a run) into the workspace, print the test metrics, and save the
    checkpoint to --out when given."""
    from latent_explorer.cpu_policy import training_threads

    threads = getattr(args, "threads", None) or training_threads()  # one when the CPU is busy
    if threads:
        import torch

        torch.set_num_threads(threads)
    from latent_explorer.training.record.checkpoint import checkpoint_of, save_checkpoint
    from latent_explorer.training.data.datasets import batches_per_epoch
    from latent_explorer.training.cli.progress import LoopProgress
    from latent_explorer.training.engine.loop import TrainConfig, Trainer
    from latent_explorer.training.record.timeline import TimelineRecorder

    from latent_explorer.training.record.workspace import RunWriter

    ws = workspace_of(args)
    if getattr(args, "resume", None):
        return _resume(args, ws)
    if args.model is None:
        raise CliError("--model is required (or --resume FILE to continue a saved run)")
    if getattr(args, "allow_other_dataset", False):
        raise CliError("--allow-other-dataset only applies with --resume FILE")
    problems = schedule_option_problems(args, lambda name: _typed(args, name))
    if problems:
        raise CliError("; ".join(problems))
    for name in vars(args):
        setattr(args, name, _plain(getattr(args, name)))

    out = check_out(args.out)
    try:
        # Checked before any data is loaded (a download can take a while); the epochs that
        # follow the dataset are filled in once it is loaded.
        cfg = TrainConfig(kind=args.model, beta=args.beta, nz=args.nz, hidden=args.hidden,
                          epochs=args.epochs or TrainConfig.epochs,
                          batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          device=args.device, dataset=args.dataset or "auto",
                          data_dir=args.data_dir, compile=args.compile, arch=args.arch,
                          target_rate=args.target_rate, prior=args.prior,
                          pseudo_inputs=args.pseudo_inputs, kl_warmup=args.kl_warmup,
                          kl_cycles=args.kl_cycles, kl_ratio=args.kl_ratio,
                          lr_schedule=args.lr_schedule, lr_min=args.lr_min,
                          lr_warmup=args.lr_warmup, keep=args.keep, early_stop=args.early_stop,
                          **image_config(args))
        t_data0 = time.perf_counter()
        ds = load_data(args)
        t_data = (t_data0, time.perf_counter())
        if args.epochs is None:
            cfg = dataclasses.replace(cfg, epochs=default_epochs(len(ds.train), cfg.batch_size))
        writer = RunWriter(ws, out.stem if out is not None else config_name(cfg),
                           dataset=ds.name)
        trainer = Trainer(cfg, ds, [LoopProgress(args.quiet), writer],
                          timeline=TimelineRecorder())
    except ValueError as e:
        raise CliError(str(e)) from None
    steps = cfg.epochs * batches_per_epoch(len(ds.train), cfg.batch_size)
    arch = ", ".join(([] if cfg.arch == DEFAULT_ARCH else [get_arch(cfg.arch).label])
                     + ([] if cfg.prior == DEFAULT_PRIOR else [
                         f"{get_prior(cfg.prior).label}, K = {cfg.pseudo_inputs}"]))
    arch = f" ({arch})" if arch else ""
    schedules = describe_schedules(cfg)
    mc = trainer.model.config
    beta = (f"; beta {cfg.beta:g} per value = {mc.beta_per_image:.3g} per image "
            f"({'x'.join(map(str, mc.image_shape))}, {mc.likelihood})"
            if mc.is_variational and cfg.target_rate is None else "")
    print(f"training {get_kind(cfg.kind).label}{arch} for {_count(cfg.epochs, 'epoch')} "
          f"({_count(steps, 'step')}) on {ds.description} ({trainer.device})" + beta
          + (f"; {schedules}" if schedules else ""), file=sys.stderr)
    result = trainer.run()
    if result.note:  # stopped early, or kept an earlier epoch's weights
        print(f"note: {result.note}", file=sys.stderr)
    t_trained = time.perf_counter()
    report_writer(writer)
    if result.state == "failed":
        raise CliError(f"training failed: {result.error}")
    if result.state == "finished":
        assert result.metrics is not None  # a finished run was tested
        print(f"test: {result.metrics.summary()}")
    if out is not None:  # with the timeline and what continuing needs (`train --resume`)
        save_checkpoint(out, checkpoint_of(trainer, result, name=out.stem))
        print(f"saved {out} ({result.seconds:.1f} s)")
    if args.timings:
        print(_timings_line(process_start(), t_data, t_trained, time.perf_counter(), result),
              file=sys.stderr)
    return 0


def process_start() -> float:
    """This process's start on the `time.perf_counter` clock (Linux: from /proc; elsewhere the
    moment this module was imported, which leaves out the interpreter's own start-up)."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        hz = os.sysconf("SC_CLK_TCK")
        return time.perf_counter() - (uptime - ticks / hz)
    except (OSError, ValueError, IndexError):
        return _IMPORTED_AT
