"""The headless command line: the parser, progress and one file per command."""
