"""Datasets: the bundled sample, IDX files, image folders and the source registry."""
