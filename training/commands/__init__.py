"""The CLI's sub-commands, one module each: a new one is one line in COMMANDS plus its module.

Each module defines `add_arguments(parser)` and `run(args) -> int`, and imports torch only
inside `run`, so `--help`, `--version` and the parser are quick.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# name -> (help line, module), in the order `--help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train a model headless and save a checkpoint", "training.commands.train"),
    "eval": ("print the test metrics of a checkpoint", "training.commands.eval"),
    "sample": ("write prior samples as a PNG grid or a .npy array", "training.commands.sample"),
    "sweep": ("train a β grid at once and write checkpoints, summary.csv and the rate-distortion "
              "plane", "training.commands.sweep"),
    "encode": ("write the posterior codes (μ, log σ) of image files, preprocessed like MNIST",
               "training.commands.encode"),
    "timeline": ("write a run's training timeline as an animated GIF or a contact sheet",
                 "training.commands.timeline"),
    "restyle": ("re-render image files as every class with a CVAE (one row per image)",
                "training.commands.restyle"),
}


def load_command(name: str) -> ModuleType:
    """The module of sub-command `name` (imported on first use)."""
    return importlib.import_module(COMMANDS[name][1])


__all__ = ["COMMANDS", "load_command"]
