"""How torch's OpenMP threads wait: spin while the cores are free, give them back when busy.

torch's OpenMP threads spin-wait between ops. On a quiet 2-core machine that is fastest (one
Fashion-MNIST epoch: 1.8 s spinning, 4.3 s with OMP_WAIT_POLICY=PASSIVE); beside two busy
processes it collapses (26 s spinning, 5.0 s passive; a fair share would be about 2x). OpenMP
reads the policy once, when torch loads, so it is chosen then from how busy the machine is:
Linux's count of runnable tasks (/proc/loadavg), sampled a few times over 20 ms. A user's own
OMP_WAIT_POLICY wins. benchmarks/busy_machine.py measures each choice quiet and loaded.
Torch-free: the package's __init__ runs this before anything imports torch.
"""

from __future__ import annotations

import os
import time

SAMPLES = 5
BUSY_THREADS = 1
SAMPLE_GAP_S = 0.004


def others_running(samples: int = SAMPLES) -> int | None:
    """Runnable tasks besides this one now (the median of a few samples); None off Linux."""
    counts = []
    try:
        for i in range(samples):
            if i:
                time.sleep(SAMPLE_GAP_S)
            with open("/proc/loadavg", encoding="ascii") as f:
                running = int(f.read().split()[3].split("/")[0])
            counts.append(running - 1)  # this process is one of them
    except (OSError, ValueError, IndexError):
        return None
    counts.sort()
    return counts[len(counts) // 2]


def machine_is_busy(cpus: int | None = None, others: int | None = None) -> bool:
    """Whether other programs want at least half the cores (False when it cannot be told)."""
    cpus = cpus or os.cpu_count() or 1
    others = others_running() if others is None else others
    return others is not None and others >= max(1, cpus // 2)


def training_threads(environ=os.environ, busy: bool | None = None) -> int | None:
    """Torch threads for a training run: None (torch's default, one per core) on a quiet
    machine; BUSY_THREADS (1) while other programs keep the cores busy. Two threads meet at a
    barrier after every small op, and on a shared core one waits for the other to be scheduled
    again; one thread never waits for a sibling (benchmarks/busy_machine.py, policy "auto"
    against "auto-all-threads"). LATENT_EXPLORER_BUSY_THREADS=<n> overrides the busy count
    (0: torch's default), for benchmarking."""
    value = environ.get("LATENT_EXPLORER_BUSY_THREADS", "").strip()
    count = int(value) if value.isdigit() else BUSY_THREADS
    if count <= 0:
        return None
    busy = machine_is_busy() if busy is None else busy
    return count if busy else None


def choose_wait_policy(environ=os.environ) -> str | None:
    """Set OMP_WAIT_POLICY=PASSIVE in `environ` when the machine is busy and the user set no
    policy; the policy in force afterwards (None: OpenMP's default, spinning)."""
    if "OMP_WAIT_POLICY" not in environ and machine_is_busy():
        environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return environ.get("OMP_WAIT_POLICY")


__all__ = ["BUSY_THREADS", "choose_wait_policy", "machine_is_busy", "others_running",
           "training_threads"]
