"""Install the project into the running venv (editable, with its test extras), and optionally
warm the suite's numba cache on the core pip leaves idle.

    python tools/install.py            # what `make run` needs: pip install -e ".[test]"
    python tools/install.py --warm     # what `make test` runs: the same, and the warm-up beside

pip installs one wheel after another on one core: on a fresh clone (2 cores) it took about
50 s, most of it torch's CUDA build (5.5 GB), while the other core idled. With --warm the
latent map's dependencies (UMAP, openTSNE, scikit-learn, a few MB) and the project go in
first; then `tools/warm_caches.py numba` compiles their bytecode and numba's UMAP and t-SNE in
the background while pip installs the rest, from the same requirement list, read from
pyproject.toml. Without tomllib (Python 3.10) it is one plain install.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIP = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile"]
# What tools/warm_caches.py's numba fit imports (and whatever they need).
MAP_PACKAGES = ("numpy", "umap-learn", "opentsne", "scikit-learn")


def name_of(requirement: str) -> str:
    """The distribution name a requirement string starts with, normalised (PEP 503)."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else ""


def requirements(extra: str = "test") -> list[str] | None:
    """The project's dependencies and those of `extra`, from pyproject.toml (None without
    tomllib)."""
    try:
        import tomllib
    except ImportError:
        return None
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"][extra])


def pip(*args: str) -> None:
    subprocess.run([*PIP, *args], cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", action="store_true",
                        help="warm the suite's numba cache beside the install")
    args = parser.parse_args(argv)
    reqs = requirements()
    if not args.warm or reqs is None:
        pip("-e", ".[test]")
        return 0
    first = [r for r in reqs if name_of(r) in MAP_PACKAGES]
    pip(*first)
    pip("--no-deps", "-e", ".")
    t = time.perf_counter()
    warm = subprocess.Popen([sys.executable, str(ROOT / "tools" / "warm_caches.py"), "numba"],
                            cwd=ROOT)
    try:
        pip(*reqs)
    finally:
        warm.wait()  # it fails nothing: the suite compiles what it did not
    print(f"install: numba warmed beside pip ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
