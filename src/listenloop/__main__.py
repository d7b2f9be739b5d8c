"""`python -m listenloop ...` works as the `listenloop` command does."""

import sys

from listenloop.cli import main

sys.exit(main())
