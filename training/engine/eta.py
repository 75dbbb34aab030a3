"""A run's speed and time left, smoothed over training time only (pauses never count).

The loop reports steps in chunks, ~10 a second, each with its steps/s over the last few seconds
of training (training/engine/loop.py excludes pauses from it). That figure swings: a repaint holding
the GIL, another process on a 2-core machine, the loop's 5 s window starting again. An ETA of
`steps left / latest rate` swung by minutes within seconds (issue 21: 03:30 → 15:35 → 01:43 →
11:09 in 40 s). `EtaEstimator` keeps the training seconds and the steps of the recent past,
each decayed with a time constant of `time_constant_s` seconds of training (or one epoch's
training time where epochs are shorter, though never under MIN_TIME_CONSTANT_S), and their ratio
is the time per step: a one-second stall moves it by a few per cent, a lasting change of speed (a
sweep member failing, the machine getting busy) is followed within three epochs, and within a
minute and a half however long the epochs. It is a ratio of sums, not an average of rates, so
slow and fast chunks count for the steps they trained and the ETA is unbiased.

The ETA says when it is unsure (`is_unsure`, `eta_text`: "about 4 min (unsure)"): before the first
epoch has ended (the speed is settling, no evaluation was timed yet), and while the speed of the
last quarter time constant differs from the smoothed one by more than UNSURE_SPREAD (the speed is
changing, or swings too much to tell).

No wall clock is read here, so a pause, however long, changes nothing. The ETA also counts what
evaluation after each remaining epoch costs (the mean of the evaluations so far), which steps/s
alone misses. Qt-free and torch-free: the window, the CLI and the tests use it alike.
"""

from __future__ import annotations

import math

TIME_CONSTANT_S = 20.0  # seconds of training over which the speed is averaged (at most)
TIME_CONSTANT_EPOCHS = 1.0  # ... or over this many epochs' training time, where that is shorter
MIN_TIME_CONSTANT_S = 5.0  # ... but never over less training time than this (tiny epochs)
FAST_SHARE = 0.25  # the recent speed's time constant, as a share of the smoothed speed's
UNSURE_SPREAD = 0.2  # recent and smoothed time per step further apart than this: unsure


class EtaEstimator:
    """Smoothed steps/s of one run and its ETA; fed with the loop's chunks and epoch ends."""

    def __init__(self, time_constant_s: float = TIME_CONSTANT_S) -> None:
        self.time_constant_s = float(time_constant_s)
        self._seconds = 0.0  # recent training seconds, decayed
        self._steps = 0.0  # the steps trained in them, decayed alike
        self._fast_seconds = 0.0  # the same over a quarter of the time constant: the speed now
        self._fast_steps = 0.0
        self.steps_per_epoch = 0  # 0: unknown (the time constant is then time_constant_s)
        self._eval_seconds = 0.0
        self._evals = 0
        self.training_seconds = 0.0  # training time seen so far (sum over chunks)

    def add_steps(self, steps: int, steps_per_second: float, steps_per_epoch: int = 0) -> None:
        """`steps` more steps, trained at `steps_per_second` (the loop's figure, pauses excluded);
        `steps_per_epoch`, when given, lets the average follow short epochs (`time_constant`)."""
        if steps_per_epoch and steps_per_epoch > 0:
            self.steps_per_epoch = int(steps_per_epoch)
        if steps <= 0 or not (math.isfinite(steps_per_second) and steps_per_second > 0):
            return
        seconds = steps / steps_per_second
        self.training_seconds += seconds
        tc = self.time_constant
        decay = math.exp(-seconds / tc)  # older chunks fade as training goes on
        self._seconds = self._seconds * decay + seconds
        self._steps = self._steps * decay + steps
        fast = math.exp(-seconds / (tc * FAST_SHARE))
        self._fast_seconds = self._fast_seconds * fast + seconds
        self._fast_steps = self._fast_steps * fast + steps

    @property
    def time_constant(self) -> float:
        """The training seconds the speed is averaged over: `time_constant_s`, or one epoch's
        training time (at the speed so far) where that is shorter, never under MIN_TIME_CONSTANT_S."""
        spp = self._seconds_per_step
        if not self.steps_per_epoch or math.isnan(spp):
            return self.time_constant_s
        epoch_s = TIME_CONSTANT_EPOCHS * self.steps_per_epoch * spp
        return min(self.time_constant_s, max(MIN_TIME_CONSTANT_S, epoch_s))

    @property
    def is_unsure(self) -> bool:
        """Whether the ETA is a rough guess: no epoch has ended yet, or the speed of late differs
        from the smoothed one by more than UNSURE_SPREAD (it is changing, or too noisy to tell)."""
        if not self._evals or self._steps <= 0 or self._fast_steps <= 0:
            return True
        recent = self._fast_seconds / self._fast_steps
        return abs(recent / self._seconds_per_step - 1) > UNSURE_SPREAD

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


def rough_duration(seconds: float) -> str:
    """A duration as a person says it when unsure: '40 s', '3 min', '1 h 20 min'."""
    s = max(0.0, float(seconds))
    if s < 60:  # to the next 10 s
        return f"{max(1, math.ceil(s / 10)) * 10} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    h, m = divmod(minutes, 60)
    return f"{h} h {m} min" if m else f"{h} h"


def eta_text(seconds: float, unsure: bool = False) -> str:
    """The one ETA every view shows: '03:30' (tqdm's format), 'about 4 min (unsure)' while the
    estimate is rough (`EtaEstimator.is_unsure`), '--' while it is unknown."""
    if not math.isfinite(seconds):
        return "--"
    if unsure:
        return f"about {rough_duration(seconds)} (unsure)"
    from tqdm import tqdm

    return tqdm.format_interval(round(seconds))


def evaluations_left(epoch: int, epochs: int) -> int:
    """Epoch-end evaluations still ahead while the loop is in `epoch` (1-based) of `epochs`:
    this epoch's own (its steps may all be done, its evaluation is not) and the later ones'."""
    return max(0, epochs - epoch + 1)


__all__ = ["MIN_TIME_CONSTANT_S", "TIME_CONSTANT_EPOCHS", "TIME_CONSTANT_S", "UNSURE_SPREAD",
           "EtaEstimator", "eta_text", "evaluations_left", "rough_duration"]
