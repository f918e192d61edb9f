"""``python -m cli``: the same as the ``tango`` command."""

import sys

from cli.main import main

sys.exit(main())
