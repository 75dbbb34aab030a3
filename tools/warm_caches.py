"""Fill the two caches a fresh install lacks, once, with every core: Python's bytecode for the
venv's packages, and numba's compiled code for the latent map's UMAP and t-SNE.

`make test` runs this beside the linters (mypy keeps one core busy for about 15 s), so a fresh
clone's suite starts warm. Measured on a fresh clone (2 cores): the installed packages carry no
bytecode (`pip install --no-compile`), and the suite's processes (two pytest workers, Ray's
workers, the CLI tests' subprocesses) each compiled what they imported, racing for the same
files: the suite took 223 s against 151 s with the bytecode compiled first, which
`compileall` does in about 25 s on both cores. numba's first UMAP and t-SNE (pynndescent's
neighbour search) then cost about 35 s more, once per pytest worker that fitted one.

    python tools/warm_caches.py [--numba-cache DIR]

Each part is skipped when already done: compileall leaves fresh .pyc files alone, and numba loads
what its cache holds. A failure here fails nothing: a file that does not compile compiles (or
fails) at import as before.
"""

from __future__ import annotations

import argparse
import compileall
import os
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def compile_bytecode() -> float:
    """Byte-compile the venv's site-packages on every core; seconds taken."""
    t = time.perf_counter()
    site = sysconfig.get_paths()["purelib"]
    # quiet=2: the few files that are not Python 3 (templates, test data) stay silent.
    compileall.compile_dir(site, quiet=2, workers=0)
    return time.perf_counter() - t


def compile_numba(cache: Path) -> float:
    """Fit a tiny UMAP and t-SNE so numba's cache holds their code; seconds taken."""
    os.environ["NUMBA_CACHE_DIR"] = str(cache)
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from latent_explorer.training.explore import latent_methods as lm

    t = time.perf_counter()
    codes = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    for method in ("umap", "tsne"):
        lm.fit_map(codes, method).place(codes[:2])
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numba-cache", type=Path, default=ROOT / "build" / "numba-cache",
                        help="numba's cache folder to fill (default: build/numba-cache, the "
                             "one tests/conftest.py uses)")
    parser.add_argument("--no-numba", action="store_true", help="bytecode only")
    args = parser.parse_args(argv)
    took = f"bytecode {compile_bytecode():.0f} s"
    if not args.no_numba:
        took += f", numba {compile_numba(args.numba_cache):.0f} s"
    print(f"warm_caches: {took}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
