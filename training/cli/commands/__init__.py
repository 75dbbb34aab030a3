"""The CLI's sub-commands, one module each: a new one is one `register_command` line below
plus its module.

Each module defines `add_arguments(parser)` and `run(args) -> int`, and imports torch only
inside `run`, so `--help`, `--version` and the parser are quick.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import NamedTuple

from latent_explorer.models.registries import Registry


class Command(NamedTuple):
    """A sub-command: its line in `--help` and the module that defines it."""

    help: str
    module: str


# name -> Command, in the order `--help` lists them.
COMMANDS: Registry[Command] = Registry("command")


def register_command(name: str, help: str, module: str) -> Command:
    """Add sub-command `name` (which must be new), defined by `module`."""
    return COMMANDS.register(name, Command(help, module))


def load_command(name: str) -> ModuleType:
    """The module of sub-command `name` (imported on first use)."""
    return importlib.import_module(COMMANDS.get(name)[1])  # [1]: a plain (help, module) too


register_command("train", "train a model headless and save a checkpoint",
                 "latent_explorer.training.cli.commands.train")
register_command("eval", "print the test metrics of a checkpoint", "latent_explorer.training.cli.commands.eval")
register_command("sample", "write prior samples as a PNG grid or a .npy array",
                 "latent_explorer.training.cli.commands.sample")
register_command("sweep", "train a β grid at once and write checkpoints, summary.csv and the "
                 "rate-distortion plane", "latent_explorer.training.cli.commands.sweep")
register_command("encode", "write the posterior codes (μ, log σ) of image files, preprocessed "
                 "like MNIST", "latent_explorer.training.cli.commands.encode")
register_command("timeline", "write a run's training timeline as an animated GIF or a contact "
                 "sheet", "latent_explorer.training.cli.commands.timeline")
register_command("map", "write a 2-D map (PCA, UMAP or t-SNE) of a checkpoint's test codes "
                 "as a PNG scatter, or its numbers as .npz, .npy or .csv", "latent_explorer.training.cli.commands.map")
register_command("runs", "list the runs of the workspace (their state, epoch, step and "
                 "latest checkpoint)", "latent_explorer.training.cli.commands.runs")
register_command("vector", "decode an attribute vector (class A minus class B, or a factor's "
                 "high minus low end) added to an image at several strengths, or an analogy; "
                 "save it with the run", "latent_explorer.training.cli.commands.vector")
register_command("restyle", "re-render image files as every class with a CVAE (one row per image)",
                 "latent_explorer.training.cli.commands.restyle")


__all__ = ["COMMANDS", "Command", "load_command", "register_command"]
