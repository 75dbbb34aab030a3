"""How long `make test` takes on a fresh clone, install included, and whether the suite holds
while a second copy of it runs beside it (issue: at most 4 minutes on a quiet 2-core machine;
the per-test limit is pytest-timeout's 120 s).

    python benchmarks/fresh_clone.py            # one fresh clone: install, then make test
    python benchmarks/fresh_clone.py --beside   # then two suites at once, in two clones

It clones this checkout's HEAD (commit first: the working tree's changes are not cloned) into a
temporary folder and runs what CI runs, timing each part: the set-up (`python3 -m venv`, pip),
then `make test` (the linters and the cache warm-up, then the suite). `--beside` then clones a
second copy, installs it, and runs both suites at the same moment. Everything runs with no
GUI (QT_QPA_PLATFORM=offscreen, as make test sets). Needs the package registries, as CI does.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The set-up as `make test` builds it (its INSTALL_FLAGS: warm numba beside the install).
SETUP = ["make", ".venv/.deps-stamp", "INSTALL_FLAGS=--warm"]
PASSED = re.compile(r"(\d+) passed.* in ([\d.]+)s")
DURATION = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)", re.M)


def clone(into: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(into)], check=True)
    return into


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd} (exit {p.returncode}):\n{p.stdout[-3000:]}"
                 f"\n{p.stderr[-3000:]}")
    return took, p.stdout + p.stderr


def suite_figures(output: str) -> str:
    """'N passed in S s, slowest test T s (name)' from pytest's summary and --durations."""
    m = PASSED.search(output)
    slow = max(((float(s), name) for s, _, name in DURATION.findall(output)), default=(0.0, "?"))
    passed = f"{m.group(1)} passed in {float(m.group(2)):.0f} s" if m else "no summary"
    return f"{passed}; slowest test {slow[0]:.0f} s ({slow[1]})"


def one_clone(tmp: Path) -> Path:
    repo = clone(tmp / "a")
    setup, _ = timed(SETUP, repo)
    test, out = timed(["make", "test"], repo)
    m = PASSED.search(out)
    suite = float(m.group(2)) if m else float("nan")
    print(f"fresh clone of {head()}:")
    print(f"  set-up (venv, pip install)      {setup:6.0f} s")
    print(f"  linters and cache warm-up       {test - suite:6.0f} s")
    print(f"  suite                           {suite:6.0f} s   {suite_figures(out)}")
    print(f"  make test on a fresh clone      {setup + test:6.0f} s   (target 240 s)")
    return repo


def beside(tmp: Path, first: Path) -> None:
    second = clone(tmp / "b")
    timed(SETUP, second)
    # What make test does before the suite, so both copies start from the same caches.
    timed(["make", "-j", "3", "lint", "warm-bytecode", "warm-numba"], second)
    procs = []
    t0 = time.perf_counter()
    for repo in (first, second):
        procs.append(subprocess.Popen(["make", "test"], cwd=repo, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    for name, p in zip(("first", "second"), procs):
        out = p.communicate()[0]
        print(f"  beside: {name} copy's make test exit {p.returncode} after "
              f"{time.perf_counter() - t0:.0f} s: {suite_figures(out)}")


def head() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beside", action="store_true",
                        help="then run the suite in two fresh clones at the same moment")
    parser.add_argument("--keep", action="store_true", help="keep the clones (paths printed)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fresh-clone-"))
    try:
        first = one_clone(tmp)
        if args.beside:
            beside(tmp, first)
    finally:
        if args.keep:
            print(f"clones kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
