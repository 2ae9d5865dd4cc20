"""``python -m motorcade_backup``."""

import sys

from motorcade_backup.cli import main

sys.exit(main())
