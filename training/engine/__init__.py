"""The training engine: the loop, the fast and stacked steps, Adam, resume, ETA, device."""
