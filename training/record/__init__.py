"""What a run keeps: history, timeline, checkpoint files and the Run record."""
