"""The entry point: no arguments opens the window; `train|eval|sample|...` is the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m latent_explorer`, `python main.py` and `latent-explorer`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-V"]):
        from latent_explorer.training.version import version  # no torch, no Qt: answers at once

        print(f"latent-explorer {version()}")
        return 0
    if not argv or argv[0] in ("gui", "--gui"):
        from latent_explorer.explorer.app import run_app  # Qt only when the GUI is asked for

        return run_app(argv[1:])
    from latent_explorer.training.cli.main import run_cli

    return run_cli(argv)
