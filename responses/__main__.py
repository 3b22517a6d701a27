"""``python -m responses``: the administrators' command line (see responses.cli)."""

import sys

from responses.cli import main

sys.exit(main())
