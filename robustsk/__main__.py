"""``python -m robustsk`` is the ``robustsk`` command."""

import sys

from .cli import main

sys.exit(main())
