"""Device choice: CUDA, then Apple MPS, then CPU, unless the caller names one."""

from __future__ import annotations

from contextlib import contextmanager

import torch


def pick_device(requested: str | None = "auto") -> torch.device:
    """The best available device for 'auto' (or None); otherwise the named one, checked."""
    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(requested)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {requested!r} (use auto, cpu, cuda or mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("MPS was requested but Apple's Metal backend is not available")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {requested!r} (use auto, cpu, cuda or mps)")
    return dev


def device_choices() -> list[tuple[str, str]]:
    """The devices a run can train on here, as (name for `pick_device`, label) pairs: the CPU
    always, then each CUDA device and Apple's MPS where torch says they are available."""
    out = [("cpu", "CPU")]
    try:
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        for i in range(n):
            name = "cuda" if n == 1 else f"cuda:{i}"
            out.append((name, describe_device(torch.device("cuda", i))))
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            out.append(("mps", "MPS"))
    except Exception:  # noqa: BLE001 - a broken driver: the CPU still trains
        pass
    return out


def describe_device(dev: torch.device) -> str:
    """A short label for status bars: 'CPU', 'CUDA (name)', 'MPS'."""
    if dev.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(dev)})"
    return dev.type.upper()


@contextmanager
def flush_denormals():
    """Within: the calling thread (and the torch threads it starts) treat float32 values below
    1.2e-38 ("denormals", "subnormals") as zero, on CPUs that can (x86 with SSE3, ARM).

    Training drifts into them: Adam's second moment decays by 0.999 a step where a weight's
    gradient is tiny, and ReLU units that died keep gradients near zero. Intel cores take a
    microcode assist of ~100 cycles for each such operand, so from the second epoch on the
    course VAE's step took twice as long on a Xeon (2.5 s against 1.1 s per Fashion-MNIST
    epoch; AMD cores pay little). A denormal is 1e-38 of a typical weight, so flushing it
    changes no loss or metric that is printed. The flag is per thread: it is set for the
    training thread only and cleared on exit (torch has no getter to restore another value).
    """
    on = torch.set_flush_denormal(True)
    try:
        yield on
    finally:
        if on:
            torch.set_flush_denormal(False)
