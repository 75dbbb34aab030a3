"""Widget-free state and threads: the run session, jobs, events, scorer, datasets."""
