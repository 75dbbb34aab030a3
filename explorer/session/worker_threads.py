"""How training threads share the CPU with the GUI thread: torch thread counts and priority.

This module imports torch: the window imports it only after it is visible.
"""

from __future__ import annotations

import os
import sys
import threading

import torch
from PySide6.QtCore import QThread


def _env_count(name: str, default: int) -> int:
    """A whole number >= 0 from the environment (benchmark overrides), else `default`."""
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


# Torch threads. libgomp gives each thread that starts a parallel region its own team, but
# once the GUI thread has run a multi-threaded torch op, a team started by a worker thread gets
# no extra threads on a 2-core machine: the worker's matmuls ran at one-thread speed (0.84 s vs
# 0.48 s for 3,000 784x256 matmuls here). So the GUI thread is held to GUI_TORCH_THREADS = 1
# before it runs any torch op (panels do small forward passes there), and each training worker
# sets its own count, torch's default (all cores) unless WORKER_TORCH_THREADS says otherwise.
# benchmarks/gui_responsiveness.py measures both worker settings against headless training.
# LATENT_EXPLORER_WORKER_THREADS=<n> overrides it (0 = torch's default), for benchmarking.
DEFAULT_TORCH_THREADS = torch.get_num_threads()  # read before anyone lowers it
GUI_TORCH_THREADS = 1
WORKER_TORCH_THREADS: int | None = _env_count("LATENT_EXPLORER_WORKER_THREADS", 0) or None

# CPU priority. Training keeps every core busy (its OpenMP threads spin between kernels), so
# without help the GUI thread shares a core with them and a 25 ms repaint stalls the event loop
# for 40-70 ms (p99 timer lateness over 50 ms in 3 of 6 benchmark runs; 24-42 ms in 5 of 5
# with nice 5 and the GIL switch interval of explorer/app.py).
# Workers run WORKER_NICE steps nicer than the GUI thread: the GUI gets the CPU when it needs
# it, and training still gets all of it the rest of the time. On Linux nice values are per
# thread and the OpenMP threads a worker starts inherit its value; elsewhere Qt's LowPriority.
WORKER_NICE = _env_count("LATENT_EXPLORER_WORKER_NICE", 5)


def limit_gui_thread_torch() -> None:
    """Call in the GUI thread before its first torch op (see GUI_TORCH_THREADS)."""
    torch.set_num_threads(GUI_TORCH_THREADS)


def prepare_worker_thread(threads: int | None = None) -> None:
    """In a training thread, before its first torch op: lower its priority, set its threads:
    `threads` (the form's "CPU threads"), else WORKER_TORCH_THREADS, else one while other
    programs keep the cores busy (latent_explorer.cpu_policy.training_threads), else torch's
    default."""
    from latent_explorer.cpu_policy import training_threads

    lower_worker_priority()  # first: the OpenMP team torch starts next inherits it
    torch.set_num_threads(threads or WORKER_TORCH_THREADS or training_threads()
                          or DEFAULT_TORCH_THREADS)


def worker_nice(busy: bool | None = None) -> int:
    """How much nicer than the GUI a worker runs: WORKER_NICE on a quiet machine; 0 while other
    programs keep the cores busy, where a nicer worker lost half its speed to them (one
    Fashion-MNIST epoch in the window beside two busy processes: 43 steps/s at nice 5, 85 at
    nice 0; the GUI's p99 lateness 38 and 50 ms; benchmarks/gui_responsiveness.py --busy 2)."""
    from latent_explorer.cpu_policy import machine_is_busy

    busy = machine_is_busy() if busy is None else busy
    return 0 if busy else WORKER_NICE


def lower_worker_priority() -> None:
    """Make the calling worker thread, and the threads it starts later, yield to the GUI."""
    nice = worker_nice()
    if nice <= 0:
        return
    if sys.platform.startswith("linux"):
        tid = threading.get_native_id()
        try:
            now = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, now + nice))
        except OSError:  # not allowed here: train at normal priority
            pass
    else:
        QThread.currentThread().setPriority(QThread.Priority.LowPriority)
