"""The panels' math, drawing input and image rendering, Qt-free."""
