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


def choose_wait_policy(environ=os.environ) -> str | None:
    """Set OMP_WAIT_POLICY=PASSIVE in `environ` when the machine is busy and the user set no
    policy; the policy in force afterwards (None: OpenMP's default, spinning)."""
    if "OMP_WAIT_POLICY" not in environ and machine_is_busy():
        environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return environ.get("OMP_WAIT_POLICY")


__all__ = ["choose_wait_policy", "machine_is_busy", "others_running"]
