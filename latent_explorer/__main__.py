"""`python -m latent_explorer`: the window, or the CLI when given a command."""

import sys

from latent_explorer.main import main

sys.exit(main())
