"""`sweep`: train a β grid at once and write its checkpoints, table and pictures.

    sweep --model vae --betas 0,1e-4,1e-3,1e-2,0.1,1,10 [--seeds 0,1] --epochs N
          [--dataset NAME | --data-dir DIR] [--nz --hidden --batch-size --lr --device]
          [--iw K] [--no-judge] --out DIR

writes DIR/<kind>-beta<β>-seed<s>.safetensors per member, DIR/summary.csv,
DIR/rate-distortion.png and DIR/grid.png, with one progress bar for the whole sweep; for a
dataset with known generative factors (sprites) also each member's MIG and DCI disentanglement
in summary.csv and DIR/mig_vs_beta.png.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from latent_explorer.models.architectures import DEFAULT_ARCH, arch_names, get_arch
from latent_explorer.models.priors import DEFAULT_PRIOR, DEFAULT_PSEUDO_INPUTS, prior_names
from latent_explorer.models.registry import list_kinds
from latent_explorer.training.cli.main import CliError
from latent_explorer.training.cli.commands._args import _hidden, _positive_float, _positive_int, add_data_arguments
from latent_explorer.training.cli.commands._args import load_data, workspace_of
from latent_explorer.training.cli.commands._args import (add_image_arguments, add_schedule_arguments,
                                                       image_config, schedule_option_problems)

DEFAULT_BETAS = "0,1e-4,1e-3,1e-2,0.1,1,10"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sweep's options on `parser` (a sub-command parser)."""
    kinds = [k.name for k in list_kinds() if k.variational]  # the kinds with a β
    parser.add_argument("--model", required=True, choices=kinds,
                        help="the model kind every member shares")
    parser.add_argument("--arch", default=DEFAULT_ARCH, choices=arch_names(),
                        help="the members' networks: "
                             + ", ".join(a for a in arch_names() if get_arch(a).stacked)
                             + " members are stacked and stepped at once, the others one after "
                               "another (default: %(default)s)")
    parser.add_argument("--prior", default=DEFAULT_PRIOR, choices=prior_names(),
                        help="the members' prior p(z) (vamp: members are stepped one after "
                             "another) (default: %(default)s)")
    parser.add_argument("--pseudo-inputs", type=_positive_int, default=DEFAULT_PSEUDO_INPUTS,
                        metavar="K", help="with --prior vamp: its number of learned "
                                          "pseudo-inputs (default: %(default)s)")
    parser.add_argument("--betas", default=DEFAULT_BETAS,
                        help=f"comma-separated KL weights (default: the course's grid {DEFAULT_BETAS})")
    parser.add_argument("--target-rates", default=None, metavar="R1,R2,...",
                        help="train each member to a target rate (nats) instead of at a fixed "
                             "beta: beta is steered each step by a PI controller, starting from "
                             "the one --betas value (default: none, a sweep over --betas; "
                             "with it --betas defaults to 0.005)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--epochs", type=_positive_int, default=20,
                        help="epochs for every member (the course's)")
    parser.add_argument("--nz", type=_positive_int, default=32, help="latent dimensions")
    parser.add_argument("--hidden", type=_hidden, default=(256, 64),
                        help="encoder hidden sizes, comma-separated (the decoder mirrors them)")
    parser.add_argument("--batch-size", type=_positive_int, default=64,
                        help="minibatch size (every member sees the same batches)")
    parser.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="where the members train: local (this process, default) or ray "
                             "(Ray Tune trials: an embedded local cluster, or the one at "
                             "--address; needs pip install 'latent-explorer[cluster]')")
    parser.add_argument("--address", default=None, metavar="HOST:PORT",
                        help="with --engine ray: the head of a running Ray cluster (default: "
                             "none, an embedded local cluster; RAY_ADDRESS is not read)")
    parser.add_argument("--cpus-per-trial", type=_positive_int, default=1, metavar="N",
                        help="with --engine ray: CPUs per trial; each trial trains a stacked "
                             "group of members (default: 1)")
    parser.add_argument("--iw", type=int, default=50, metavar="K",
                        help="samples of the importance-weighted bound in summary.csv "
                             "(0 skips it)")
    parser.add_argument("--no-judge", action="store_true",
                        help="skip the judge of sample quality (no classifier is trained)")
    parser.add_argument("--out", required=True, help="folder for the checkpoints and reports")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_arguments(parser, None, "auto")
    add_schedule_arguments(parser, best=False)  # every member the same schedule
    add_image_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Train the sweep and write its files; CliError (one line) for any user error."""
    from latent_explorer.training.record.checkpoint import Checkpoint, save_checkpoint
    from latent_explorer.training.metrics.judge import get_judge
    from latent_explorer.training.cli.progress import LoopProgress
    from latent_explorer.training.config import parse_rates
    from latent_explorer.training.engine.sweep import SweepConfig, SweepListError, SweepTrainer, parse_betas, parse_seeds
    from latent_explorer.training.metrics.sweep_report import (BEST_MEANINGS, GOOD_QUALITY, NATS_NOTE, best_members,
                                               no_good_quality, comparison_grid,
                                       member_file_names, member_label, save_labelled_grid,
                                       save_mig_png, save_rate_distortion_png, summary_row,
                                       write_summary_csv)

    try:
        rates = parse_rates(args.target_rates) if args.target_rates is not None else ()
        betas_text = args.betas
        if rates and betas_text == DEFAULT_BETAS:  # not typed: the course's β to start from
            betas_text = "0.005"
        betas = parse_betas(betas_text)
        seeds = parse_seeds(args.seeds)
    except SweepListError as e:
        raise CliError(str(e)) from None
    if args.iw < 0:
        raise CliError(f"--iw must be 0 or more, got {args.iw}")
    bad_options = schedule_option_problems(  # typed: other than its default
        args, lambda name: getattr(args, name) != SweepConfig.__dataclass_fields__[name].default)
    if bad_options:
        raise CliError("; ".join(bad_options))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} is a file; give a folder")
    if not out.parent.exists():
        raise CliError(f"--out {out}: folder {out.parent} does not exist")
    try:
        cfg = SweepConfig(kind=args.model, betas=betas, seeds=seeds, nz=args.nz,
                          hidden=tuple(args.hidden), epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, device=args.device,
                          dataset=args.dataset or "auto", data_dir=args.data_dir,
                          target_rates=rates, arch=args.arch, prior=args.prior,
                          pseudo_inputs=args.pseudo_inputs, kl_warmup=args.kl_warmup,
                          kl_cycles=args.kl_cycles, kl_ratio=args.kl_ratio,
                          lr_schedule=args.lr_schedule, lr_min=args.lr_min,
                          lr_warmup=args.lr_warmup, **image_config(args))
    except ValueError as e:
        raise CliError(str(e)) from None
    settings = None
    if args.engine == "ray":
        from latent_explorer.training.engine.ray_sweep import (RaySettings, RayUnavailable, check_address,
                                               import_ray)

        try:
            # Trial checkpoints (what a restarted trial resumes from) in the workspace: on a
            # cluster of several machines it is the storage every node mounts at one path.
            settings = RaySettings(args.address, args.cpus_per_trial,
                                   storage=str(workspace_of(args).root / ".ray"))
            import_ray()
            if args.address:
                check_address(args.address)  # one line within seconds, before any data loads
        except (ValueError, RayUnavailable) as e:
            raise CliError(str(e)) from None
    elif args.address is not None or args.cpus_per_trial != 1:
        raise CliError("--address and --cpus-per-trial apply with --engine ray")
    dataset = load_data(args)
    members = cfg.members()
    targets = [cfg.member_config(m).target_rate for m in range(cfg.n_members)]
    labels = [member_label(v, s, len(seeds), t) for (v, s), t in zip(members, targets)]
    from latent_explorer.training.record.workspace import RunWriter

    ws = workspace_of(args)
    group = out.resolve().name
    writers = [RunWriter(ws, f"{group} {labels[m]}", member=m, group=group,
                         dataset=dataset.name) for m in range(len(members))]
    try:
        if settings is not None:
            from latent_explorer.training.engine.ray_sweep import RaySweepTrainer

            trainer: RaySweepTrainer | SweepTrainer
            trainer = RaySweepTrainer(cfg, dataset, [LoopProgress(args.quiet, labels), *writers],
                                      settings=settings)
        else:
            trainer = SweepTrainer(cfg, dataset, [LoopProgress(args.quiet, labels), *writers])
    except ValueError as e:  # e.g. an unknown or missing device
        raise CliError(str(e)) from None
    where = (f"Ray {'cluster at ' + args.address if args.address else 'embedded local cluster'}"
             if settings is not None else str(trainer.device))
    print(f"training {len(members)} {cfg.kind.upper()}s at once ({len(cfg.values)} "
          f"{cfg.axis_name}s x {len(seeds)} seeds) on {dataset.description} ({where})",
          file=sys.stderr)
    result = trainer.run()
    problems = {w.write_error for w in writers if w.write_error}
    for problem in sorted(problems):
        print(f"warning: {problem}", file=sys.stderr)
    if writers and writers[0].folder is not None and not problems:
        print(f"runs: {len(writers)} member folders in {ws.root}", file=sys.stderr)
    if result.state == "failed":
        raise CliError(f"sweep failed: {result.error}")
    out.mkdir(exist_ok=True)
    judge = None
    if not args.no_judge:
        judge = get_judge(dataset, notify=lambda m: print(f"note: {m}", file=sys.stderr))
        print(judge.summary(), file=sys.stderr)
    rows = []
    # A member trained to a target rate reports the β it ended with.
    final_betas = [value if targets[m] is None else _final_beta(res.history, cfg.betas[0])
                   for m, ((value, _seed), res) in enumerate(zip(members, result.results))]
    names = member_file_names([(cfg.member_config(m), beta)
                               for m, beta in enumerate(final_betas)])
    for m, ((_value, seed), res) in enumerate(zip(members, result.results)):
        target, beta, name = targets[m], final_betas[m], names[m]
        save_checkpoint(out / name, Checkpoint(res.model, cfg.member_config(m), res.history,
                                               res.metrics, name=Path(name).stem,
                                               dataset=dataset.name, state=res.state,
                                               group=group, resume=trainer.resume_state(m)))
        rows.append(summary_row(res.model, beta, seed, res.state, res.metrics, dataset.test,
                                iw_k=args.iw, judge=judge, checkpoint=name, error=res.error,
                                target_rate=target))
    write_summary_csv(out / "summary.csv", rows)
    sweep_title = f"{cfg.kind.upper()} {'target-rate' if rates else 'β'} sweep on {dataset.name}"
    save_rate_distortion_png(rows, out / "rate-distortion.png", title=sweep_title,
                             n_seeds=len(seeds))
    pictures = "rate-distortion.png and grid.png"
    if any(r.mig is not None for r in rows):  # the dataset has factors (sprites)
        save_mig_png(rows, out / "mig_vs_beta.png", title=f"MIG of the {sweep_title}")
        pictures = "rate-distortion.png, mig_vs_beta.png and grid.png"
    grid = comparison_grid([r.model for r in result.results], dataset.test)
    save_labelled_grid(grid, ["test images", *labels], out / "grid.png")
    _print_table(rows, labels, args.iw)
    best = best_members(rows)
    for key, idx in best.items():
        if idx is not None:
            print(f"{BEST_MEANINGS[key]}: {labels[idx]}")
    poor = no_good_quality(rows)
    if poor is not None:
        print(f"sample quality: no member's samples are good (the best, {poor:.0%}, is under "
              f"{GOOD_QUALITY:.0%}): none is marked best")
    print(f"nats: {NATS_NOTE}")
    if any(r.mig is not None for r in rows):
        from latent_explorer.training.cli.commands.eval import CONVENTION

        print(f"MIG, DCI: against {', '.join(dataset.factor_names)}; {CONVENTION}")
    failed = [labels[i] for i, r in enumerate(result.results) if r.state == "failed"]
    if failed:
        print(f"note: {len(failed)} member(s) failed and kept their last good weights: "
              f"{', '.join(failed)}", file=sys.stderr)
    print(f"wrote {len(rows)} checkpoints, summary.csv, {pictures} to "
          f"{out} ({result.seconds:.1f} s of training, sweep {result.state})")
    return 0


def _final_beta(history, start: float) -> float:
    """The β the last step of a target-rate member trained with (its start before any step)."""
    finite = [b for b in history.beta.tolist() if math.isfinite(b)]
    return finite[-1] if finite else start


def _print_table(rows, labels: list[str], iw_k: int) -> None:
    def f(v, d=1):
        return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{d}f}"

    def se(v, d=2):
        return "" if v is None or not math.isfinite(v) else f"±{v:.{d}f}"

    # The rate is exact; the distortion (and so the -ELBO), the IW bound and the quality are
    # Monte-Carlo estimates, printed with their standard errors.
    head = f"{'member':>14} {'BCE/px':>7} {'rate':>7} {'dist.':>7} {'-ELBO':>7} {'±MC':>5}"
    head += f" {'IW k=' + str(iw_k):>8} {'±MC':>5}" if iw_k else ""
    head += f" {'quality':>7} {'±':>4} {'active z':>8}"
    # β per image beside the member's β; bits/dim for 8-bit likelihoods; MIG and DCI's
    # disentanglement for datasets with known factors (columns only where some row has them).
    bpd = any(r.bits_per_dim is not None for r in rows)
    dis = any(r.mig is not None for r in rows)
    head += f" {'β/image':>8}" + (f" {'bits/dim':>8}" if bpd else "")
    head += f" {'MIG':>6} {'DCI-D':>6}" if dis else ""
    print(head)
    for lab, r in zip(labels, rows):
        line = (f"{lab:>14} {f(r.bce, 4):>7} {f(r.rate):>7} {f(r.distortion):>7} "
                f"{f(r.neg_elbo):>7} {se(r.distortion_se):>5}")
        line += f" {f(r.iw_bound):>8} {se(r.iw_bound_se):>5}" if iw_k else ""
        q = "-" if r.quality is None else f"{r.quality:.0%}"
        qse = "" if r.quality_se is None else f"±{r.quality_se:.0%}"
        line += f" {q:>7} {qse:>4} {'-' if r.active_dims is None else r.active_dims:>8}"
        line += f" {'-' if r.beta_per_image is None else format(r.beta_per_image, '.3g'):>8}"
        line += f" {f(r.bits_per_dim, 3):>8}" if bpd else ""
        line += f" {f(r.mig, 3):>6} {f(r.dci_disentanglement, 3):>6}" if dis else ""
        print(line + ("" if r.state == "finished" else f"  ({r.state})"))


__all__ = ["add_arguments", "run"]
