"""Latent Explorer's Qt GUI: the main window, training jobs in QThreads, exploration panels."""
