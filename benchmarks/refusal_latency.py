"""How long the app takes to say no when there is no network or no cluster: the figures the
tests used to assert in seconds.

The tests check the behaviour that keeps these short (one probe per mirror with a timeout of
at most 3 s and no download tried; one probe of a Ray address); this prints the time each case
takes here, --repeats times (median and worst):

  auto, offline          load_dataset("auto") falling back to the bundled sample (was: < 3 s)
  fashion-mnist, offline load_dataset("fashion-mnist") refused: no mirror reachable (was: < 3 s)
  kmnist, offline        load_dataset("kmnist") refused (was: < 3 s)
  Ray address            check_address() on a port nothing listens on (was: < 10 s)
  CLI, Ray address       `main.py sweep --engine ray --address <nothing>` as a process, to its
                         exit status 2 (was: < 30 s)

"Offline" here is the tests' offline: every connection but to loopback fails at once (as on a
machine with no network interface up). A network that drops packets instead makes each probe
wait its full timeout: 3 s per mirror.

    python benchmarks/refusal_latency.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from latent_explorer.training.data.datasets import DataError  # noqa: E402
from latent_explorer.training.data.sources import load_dataset  # noqa: E402
from latent_explorer.training.engine.ray_sweep import RayUnavailable, check_address  # noqa: E402


def offline() -> None:
    """Refuse every connection but to loopback, at once (as tests/conftest.py does)."""
    connect = socket.create_connection

    def loopback_only(address, *a, **k):
        host = str(address[0])
        if host == "localhost" or host.startswith("127.") or host == "::1":
            return connect(address, *a, **k)
        raise OSError("network disabled")

    socket.create_connection = loopback_only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def load_refused(name: str) -> None:
    try:
        load_dataset(name)
    except DataError:
        return
    raise SystemExit(f"{name} loaded: this machine has it cached, or the network is up")


def ray_refused() -> None:
    try:
        check_address(f"127.0.0.1:{free_port()}")
    except RayUnavailable:
        return
    raise SystemExit("something listens on the free port")


def cli_refused() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([sys.executable, str(ROOT / "main.py"), "sweep", "--model", "vae",
                            "--engine", "ray", "--address", f"127.0.0.1:{free_port()}",
                            "--out", str(Path(tmp) / "out")],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
    if p.returncode != 2:
        raise SystemExit(f"main.py sweep exited {p.returncode}: {p.stderr}")


def report(name: str, was: str, times: list[float]) -> None:
    print(f"{name:<24} median {statistics.median(times) * 1000:8.1f} ms   "
          f"worst {max(times) * 1000:8.1f} ms   ({len(times)} runs; the tests asserted {was})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    offline()
    r = range(args.repeats)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["LATENT_EXPLORER_CACHE"] = cache  # nothing cached: every case probes
        report("auto, offline", "< 3 s", [timed(lambda: load_dataset("auto")) for _ in r])
        report("fashion-mnist, offline", "< 3 s",
               [timed(lambda: load_refused("fashion-mnist")) for _ in r])
        report("kmnist, offline", "< 3 s", [timed(lambda: load_refused("kmnist")) for _ in r])
    report("Ray address", "< 10 s", [timed(ray_refused) for _ in r])
    report("CLI, Ray address", "< 30 s", [timed(cli_refused) for _ in r])


if __name__ == "__main__":
    main()
