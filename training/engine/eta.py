"""A run's speed and time left, smoothed over training time only (pauses never count).

The loop reports steps in chunks, ~10 a second, each with its steps/s over the last few seconds
of training (training/engine/loop.py excludes pauses from it). That figure swings: a repaint holding
the GIL, another process on a 2-core machine, the loop's 5 s window starting again. An ETA of
`steps left / latest rate` swung by minutes within seconds (issue 21: 03:30 → 15:35 → 01:43 →
11:09 in 40 s). `EtaEstimator` keeps the training seconds and the steps of the recent past,
each decayed with a time constant of `time_constant_s` seconds of training, and their ratio is
the time per step: a one-second stall moves it by a few per cent, a lasting change of speed (a
sweep member failing, the machine getting busy) is followed within a minute and a half. It is a ratio of sums, not an average of rates, so
slow and fast chunks count for the steps they trained and the ETA is unbiased.

No wall clock is read here, so a pause, however long, changes nothing. The ETA also counts what
evaluation after each remaining epoch costs (the mean of the evaluations so far), which steps/s
alone misses. Qt-free and torch-free: the window, the CLI and the tests use it alike.
"""

from __future__ import annotations

import math

TIME_CONSTANT_S = 20.0  # seconds of training over which the speed is averaged


class EtaEstimator:
    """Smoothed steps/s of one run and its ETA; fed with the loop's chunks and epoch ends."""

    def __init__(self, time_constant_s: float = TIME_CONSTANT_S) -> None:
        self.time_constant_s = float(time_constant_s)
        self._seconds = 0.0  # recent training seconds, decayed
        self._steps = 0.0  # the steps trained in them, decayed alike
        self._eval_seconds = 0.0
        self._evals = 0
        self.training_seconds = 0.0  # training time seen so far (sum over chunks)

    def add_steps(self, steps: int, steps_per_second: float) -> None:
        """`steps` more steps, trained at `steps_per_second` (the loop's figure, pauses excluded)."""
        if steps <= 0 or not (math.isfinite(steps_per_second) and steps_per_second > 0):
            return
        seconds = steps / steps_per_second
        self.training_seconds += seconds
        decay = math.exp(-seconds / self.time_constant_s)  # older chunks fade as training goes on
        self._seconds = self._seconds * decay + seconds
        self._steps = self._steps * decay + steps

    @property
    def _seconds_per_step(self) -> float:
        return self._seconds / self._steps if self._steps > 0 else math.nan

    def add_epoch(self, eval_seconds: float) -> None:
        """An epoch ended; its test evaluation took `eval_seconds`."""
        if math.isfinite(eval_seconds) and eval_seconds >= 0:
            self._eval_seconds += eval_seconds
            self._evals += 1

    @property
    def steps_per_second(self) -> float:
        """The smoothed speed (0.0 until a chunk has been seen)."""
        return self._steps / self._seconds if self._seconds > 0 else 0.0

    @property
    def eval_seconds(self) -> float:
        """The mean evaluation time per epoch so far (0.0 before the first epoch ended)."""
        return self._eval_seconds / self._evals if self._evals else 0.0

    def eta_seconds(self, steps_left: int, evaluations_left: int = 0) -> float:
        """Seconds of training left for `steps_left` steps and `evaluations_left` epoch ends
        (NaN while the speed is unknown)."""
        spp = self._seconds_per_step
        if math.isnan(spp):
            return math.nan
        return (max(0, steps_left) * spp
                + max(0, evaluations_left) * self.eval_seconds)


def evaluations_left(epoch: int, epochs: int) -> int:
    """Epoch-end evaluations still ahead while the loop is in `epoch` (1-based) of `epochs`:
    this epoch's own (its steps may all be done, its evaluation is not) and the later ones'."""
    return max(0, epochs - epoch + 1)


__all__ = ["TIME_CONSTANT_S", "EtaEstimator", "evaluations_left"]
