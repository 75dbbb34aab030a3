"""The window's views: loss plot, run table, training form, monitor, timeline."""
