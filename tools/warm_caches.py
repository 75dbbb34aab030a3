"""Fill the two caches a fresh install lacks: Python's bytecode for the venv's packages and the
project, and numba's compiled code for the latent map's UMAP and t-SNE.

`make test` runs both beside the linters, so a fresh clone's suite starts warm. Measured on a
fresh clone (2 cores): the installed packages carry no bytecode (`pip install --no-compile`),
and where PYTHONDONTWRITEBYTECODE is set no process writes any, so each of the suite's
processes (two pytest workers, Ray's workers, the CLI tests' subprocesses) compiled all it
imported from source: the suite took 223 s against 151 s with the bytecode compiled first.
numba's first UMAP and t-SNE (pynndescent's neighbour search) cost about 30 s more, in each
pytest worker that fitted one.

    python tools/warm_caches.py bytecode [--workers N]  # site-packages and the project
    python tools/warm_caches.py numba [--numba-cache DIR]

Each part is quick when already done: compileall leaves fresh .pyc files alone, and numba loads
what its cache holds. A failure here fails nothing: a file that does not compile compiles (or
fails) at import as before.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import re
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# What nothing here imports: packages' own test suites and a few large packages the app, the
# tests and the linters never load (41 % of site-packages' files; a traced suite imported 10 of
# them). Leaving one out costs time, never correctness: it compiles at import as before.
SEP = r"[/\\]"
NOT_IMPORTED = (rf"(.*{SEP})?(tests?|testing{SEP}_internal|examples){SEP}"
                rf"|(mypy|mypyc|networkx|ray{SEP}(rllib|serve|llm|workflow)|numba{SEP}cuda"
                rf"|numpy{SEP}distutils|fontTools{SEP}(ttLib|varLib)|triton{SEP}experimental"
                rf"|sympy{SEP}(physics|combinatorics|stats|holonomic|liealgebras|categories"
                rf"|diffgeom|vector|codegen|crypto)){SEP}")


def not_imported(site: str) -> re.Pattern:
    """NOT_IMPORTED below `site` (not above it: a checkout in a folder named tests compiles)."""
    return re.compile(re.escape(site) + SEP + "(" + NOT_IMPORTED + ")")


PROJECT = ("latent_explorer", "models", "training", "explorer")


def compile_bytecode(workers: int) -> float:
    """Byte-compile the venv's site-packages and the project; seconds taken."""
    t = time.perf_counter()
    # quiet=2: the few files that are not Python 3 (templates, test data) stay silent.
    site = sysconfig.get_paths()["purelib"]
    compileall.compile_dir(site, quiet=2, workers=workers, rx=not_imported(site))
    for folder in PROJECT:
        compileall.compile_dir(ROOT / folder, quiet=2, workers=workers)
    return time.perf_counter() - t


# What the numba fit imports: compiled first, by this process (tools/install.py runs it while
# pip installs the rest, so `bytecode` later finds these done).
MAP_IMPORTS = ("numpy", "scipy", "sklearn", "numba", "llvmlite", "umap", "pynndescent",
               "openTSNE", "joblib")


def compile_packages(names: tuple[str, ...]) -> None:
    """Byte-compile these installed packages (found, not imported), on one core."""
    site = sysconfig.get_paths()["purelib"]
    for name in names:
        spec = importlib.util.find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(folder, quiet=2, workers=1, rx=not_imported(site))


def compile_numba(cache: Path) -> float:
    """Fit a tiny UMAP and t-SNE so numba's cache holds their code; seconds taken."""
    compile_packages(MAP_IMPORTS)
    os.environ["NUMBA_CACHE_DIR"] = str(cache)
    import numpy as np

    from latent_explorer.training.explore import latent_methods as lm

    t = time.perf_counter()
    codes = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    for method in ("umap", "tsne"):
        lm.fit_map(codes, method).place(codes[:2])
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cache", choices=("bytecode", "numba"))
    parser.add_argument("--numba-cache", type=Path, default=ROOT / "build" / "numba-cache",
                        help="numba's cache folder to fill (default: build/numba-cache, the "
                             "one tests/conftest.py uses)")
    # `make test` runs mypy and the numba fit beside the bytecode, one core each: the rest
    # compile (on 2 cores, one process: the three end within seconds of each other).
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1) - 2),
                        help="processes that compile bytecode (default: the cores less 2)")
    args = parser.parse_args(argv)
    took = (compile_bytecode(args.workers) if args.cache == "bytecode"
            else compile_numba(args.numba_cache))
    print(f"warm_caches: {args.cache} {took:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
