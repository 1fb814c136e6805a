"""`python -m lolzoo` is `lolzoo`: how workflow rules call it, inside a venv or a conda env."""

import sys

from lolzoo.cli import main

sys.exit(main())
