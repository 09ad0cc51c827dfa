"""`python -m reconciler` is the same program as the `reconciler` console script."""

import sys

from reconciler.app.cli import main

sys.exit(main())
