"""Headless command line: builds the parser from the sub-command registry and dispatches.

The sub-commands live in `training/cli/commands/` (one module each, listed in its COMMANDS).
Bad input: one line on stderr, non-zero exit. `--help` and `--version` never import torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


# Re-exported: other command modules import the argument types from here.
from latent_explorer.training.cli.commands._args import (  # noqa: E402 - CliError first: the commands import it
    _hidden,
    add_workspace_argument,
    _label,
    _nonneg_float,
    _positive_float,
    _positive_int,
    _seed,
)


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors raise CliError: one line, not argparse's block."""

    def error(self, message: str):  # one line, not argparse's usage block
        raise CliError(message)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help says its default, or that it is required."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or "(required" in text or action.default is argparse.SUPPRESS:
            return text
        if action.required or not action.option_strings:
            return f"{text} (required)"
        if action.nargs == 0 and action.default is False:  # a flag
            return f"{text} (default: off)"
        if action.default is None:
            return text  # its help must say what happens without it (the test checks)
        if isinstance(action.default, (tuple, list)):  # as it is typed: 256,64, not (256, 64)
            return f"{text} (default: {','.join(str(v) for v in action.default)})"
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    """The top parser with one sub-parser per registered command."""
    from latent_explorer.training.cli.commands import COMMANDS, load_command
    from latent_explorer.training.version import version

    p = CliParser(prog="latent-explorer", description="Train and explore auto-encoders. "
                "Run without arguments to open the app.")
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=CliParser,
                           metavar="{" + ",".join(COMMANDS) + "}")
    for name, (help_line, _) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_line, description=help_line[0].upper() + help_line[1:],
                            formatter_class=HelpFormatter)
        load_command(name).add_arguments(sp)
        add_workspace_argument(sp)
    return p


def _checkpoint_of_run(args: argparse.Namespace) -> None:
    """A command's FILE may be a run: its folder, or its folder's name in the workspace,
    standing for the run's latest checkpoint."""
    value = getattr(args, "file", None)
    if not isinstance(value, str) or Path(value).is_file():
        return
    from latent_explorer.training.cli.commands._args import run_folder_arg, workspace_of
    from latent_explorer.training.record.workspace import read_run

    folder = run_folder_arg(value, workspace_of(args))
    if folder is None:
        return  # the command says the file is missing
    rec = read_run(folder)
    if rec.problem:
        raise CliError(f"{folder}: {rec.problem}")
    if rec.checkpoint_path is None:
        raise CliError(f"{folder}: the run has no checkpoint yet (it writes one at the end "
                       "of its first epoch)")
    args.file = str(rec.checkpoint_path)


def run_cli(argv: list[str]) -> int:
    """Parse and run; every user error becomes one line on stderr and exit status 2."""
    try:
        args = build_parser().parse_args(argv)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help and --version print, then exit 0
        return e.code if isinstance(e.code, int) else 0

    # Imported after parsing: --help and --version need no torch.
    from latent_explorer.training.record.checkpoint import CheckpointError
    from latent_explorer.training.cli.commands import load_command
    from latent_explorer.training.data.datasets import DataError
    from latent_explorer.training.explore.drawing import DrawingError
    from latent_explorer.training.metrics.evaluate import NonFiniteMetrics

    try:
        _checkpoint_of_run(args)
        return load_command(args.command).run(args)
    except (CliError, CheckpointError, DataError, DrawingError, NonFiniteMetrics) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1


__all__ = ["CliError", "HelpFormatter", "build_parser", "run_cli", "_hidden", "_label",
           "_nonneg_float", "_positive_float", "_positive_int", "_seed"]
