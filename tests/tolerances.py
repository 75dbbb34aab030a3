"""How closely two code paths that compute the same thing in float32 can be expected to agree.

Two paths (a batched and a single step, the hand-written and the autograd step, one thread and
two, an AVX-512 and an SSE kernel of MKL) add the same numbers in another order, so each sum
differs by a few units in the last place: float32's epsilon is 2⁻²³ ≈ 1.2e-7. Training then
carries those differences from step to step. In the weights, Adam amplifies them without
bound: a weight whose gradient is near zero moves by about ±lr whatever its sign, so the same
run on two CPUs can end with single weights 1e-4 apart (seen: 5.6e-5 on an AVX-512 Xeon after
100 steps). The losses do not: they are sums over the whole batch and change smoothly with the
weights. Measured against a float64 run of the same steps, a float32 run's loss is about one epsilon
off at the first step (one pass's rounding) and stays within 2.4 epsilons over 150 steps, for
every kind and path (tests/test_numerics.py checks this tolerance against float64 on every
machine the suite runs on; measured on an AMD EPYC with AVX-512, with its default kernels and
with MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=default).

So: compare one step's losses and gradients at a few epsilon, and training runs by their
losses, at a tolerance that grows with the steps taken, never by their weights after many
Adam steps. `PER_STEP_EPS` epsilons a step is 8× the first step's rounding, hundreds of times
the drift after 100 steps, and still far below what a real difference makes (a learning rate
1 % off is caught within a few steps; another seed or β changes the losses by ~10 %).
"""

from __future__ import annotations

import numpy as np
import torch

EPS32 = float(torch.finfo(torch.float32).eps)

# Relative rounding a step may add to the losses of the steps after it, in epsilons.
PER_STEP_EPS = 8

# One forward pass: sums over up to ~800 products in another order. The typical relative error
# of such a sum is ~√n·ε/√3; 64 ε covers its tail; an absolute floor for values near zero.
ONE_PASS = dict(rtol=64 * EPS32, atol=1e-6)

# One step's gradients: a weight gradient is a sum over the batch of products whose terms
# cancel, so its relative error is larger where it is small; compare at 1e-4 of the largest.
GRAD_RTOL = 1e-4


def loss_rtol(steps: int) -> float:
    """The relative tolerance for losses after `steps` steps of float32 training."""
    return max(1, steps) * PER_STEP_EPS * EPS32


def assert_losses_close(got, want, what: str = "", atol: float = 1e-6) -> None:
    """Per-step losses of two float32 runs of the same training: step k's tolerance is
    `loss_rtol(k + 1)` (plus `atol` for losses near zero, e.g. the KL of a collapsed code)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: {got.shape} vs {want.shape}"
    rtol = loss_rtol(1) * np.arange(1, len(want) + 1)
    bad = np.abs(got - want) > atol + rtol * np.abs(want)
    if bad.any():
        k = int(np.argmax(bad))
        raise AssertionError(
            f"{what}: losses differ first at step {k + 1}: {got[k]!r} vs {want[k]!r} "
            f"(|Δ| {abs(got[k] - want[k]):.3g} > {atol + rtol[k] * abs(want[k]):.3g}); "
            f"{int(bad.sum())} of {len(want)} steps outside")


def assert_grads_close(got: torch.Tensor, want: torch.Tensor, what: str = "") -> None:
    """One step's gradients of one tensor, relative to its largest entry."""
    scale = float(want.abs().max()) or 1.0
    torch.testing.assert_close(got, want, rtol=GRAD_RTOL, atol=GRAD_RTOL * scale, msg=what)


def assert_metric_close(got: float, want: float, steps: int = 0, what: str = "") -> None:
    """A test-set metric (an average over images) of two float32 computations of the same
    model: one pass's rounding, plus what `steps` training steps may have carried into it."""
    tol = ONE_PASS["rtol"] + loss_rtol(steps) if steps else ONE_PASS["rtol"]
    assert abs(got - want) <= tol * abs(want) + 1e-9, f"{what}: {got!r} vs {want!r} (rtol {tol:.2g})"
