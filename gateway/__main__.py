"""``python -m gateway`` runs the ``aligngate`` command."""

import sys

from gateway.cli import main

sys.exit(main())
