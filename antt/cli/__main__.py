"""``python -m antt.cli`` is the same as the ``antt`` command."""

import sys

from antt.cli import main

sys.exit(main())
