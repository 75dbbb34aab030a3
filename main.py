"""`python main.py` opens the app; `python main.py train|eval|sample ...` is the CLI.

A shim kept for the course's habit: the code lives in the installed package `latent_explorer`
(`make run` installs it; so does `pip install -e .`).
"""

import sys

from latent_explorer.main import main

if __name__ == "__main__":
    sys.exit(main())
