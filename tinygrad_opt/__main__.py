"""``python -m tinygrad_opt ...`` is the ``tinygrad-opt`` command line (see cli/__init__.py)."""

import sys

from tinygrad_opt.cli import main

if __name__ == "__main__":
    sys.exit(main())
