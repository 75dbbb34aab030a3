"""The command line's one progress bar: a tqdm bar fed by the loop's throttled step events.

The same observer serves a single run (M = 1: its losses in the bar, its test metrics after
each epoch) and a sweep (M members: how many still train and the model-steps/s, each member's
test -ELBO after each epoch, and a line when a member stops alone).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Sequence

from latent_explorer.training.engine.events import EpochEvent, LoopResult, MemberFailedEvent, Observer, StepsEvent

if TYPE_CHECKING:
    from tqdm import tqdm


class LoopProgress(Observer):
    """A tqdm bar on stderr for any training loop, with a line per epoch."""

    def __init__(self, quiet: bool, labels: Sequence[str] = ()) -> None:
        self.quiet = quiet
        self.labels = list(labels)  # one per member (a sweep); unused for a single run
        self.bar: tqdm[Any] | None = None  # made on the first step event

    def on_steps(self, ev: StepsEvent) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=ev.total_steps, unit="step", dynamic_ncols=True, file=sys.stderr)
        self.bar.update(ev.last_step + 1 - self.bar.n)
        self.bar.set_description(f"epoch {ev.epoch}")
        if ev.n_members == 1:
            text = (f"recon {ev.recon[0, -1]:.4f} kl {ev.kl[0, -1]:.2f} "
                    f"total {ev.total[0, -1]:.4f}")
        else:
            text = (f"{sum(ev.active)}/{ev.n_members} members training, "
                    f"{ev.steps_per_second * sum(ev.active):.0f} model-steps/s")
        self.bar.set_postfix_str(text, refresh=False)

    def on_epoch_end(self, ev: EpochEvent) -> None:
        if ev.n_members == 1 and ev.metrics[0] is not None:
            line = f"epoch {ev.epoch}: test {ev.metrics[0].summary()} ({ev.seconds:.1f} s)"
        else:
            parts = [f"{self._label(m)} {met.neg_elbo:.1f}" for m, met in enumerate(ev.metrics)
                     if met is not None and met.neg_elbo is not None]
            line = f"epoch {ev.epoch}: test -ELBO " + ", ".join(parts) + f" ({ev.seconds:.1f} s)"
        self._write(line)

    def on_member_failed(self, ev: MemberFailedEvent) -> None:
        if len(self.labels) > 1:  # a single run's failure is the command's own error line
            self._write(f"{self._label(ev.member)} stopped: {ev.message}")

    def on_train_end(self, result: LoopResult) -> None:
        if self.bar is not None:
            self.bar.close()

    def _label(self, m: int) -> str:
        return self.labels[m] if m < len(self.labels) else f"member {m}"

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        elif not self.quiet:
            print(line, file=sys.stderr)


__all__ = ["LoopProgress"]
