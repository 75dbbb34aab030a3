"""What the scorer's figures mean, in the words the run list and the Sweep tab show (no torch)."""

from __future__ import annotations

IW_K = 50  # = training.metrics.sweep_report.DEFAULT_IW_K, the CLI sweep's default (a test checks)
NATS_LINE = ("nats per image under a Bernoulli likelihood of [0, 1] grey levels: not a density "
             "of the data, so not comparable with published binarised-MNIST NLLs (~85-90 nats)")
IW_TOOLTIP = (f"Importance-weighted bound on −log p(x) of the test images, k = {IW_K} samples "
              f"(Burda et al. 2016; lower is better), measured in the background once a run "
              f"has ended. {NATS_LINE[0].upper()}{NATS_LINE[1:]}.")
QUALITY_TOOLTIP = ("Sample quality: the share of 1,000 prior samples that a small classifier "
                   "trained on the dataset (the judge) reads as a real example with confidence "
                   ">= 0.9 (for a CVAE: as the label asked for). Blank until the judge has been "
                   "trained for this dataset.")
