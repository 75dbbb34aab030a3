"""Numbers about trained models: evaluation, the sample-quality judge, sweep reports."""
