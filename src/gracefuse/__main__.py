"""``python -m gracefuse`` (and ``torchrun -m gracefuse``): the command-line program."""

import sys

from gracefuse.cli import main

if __name__ == "__main__":
    sys.exit(main())
