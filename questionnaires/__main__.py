"""``python -m questionnaires``: check and convert questionnaire files (see cli.py)."""

import sys

from questionnaires.cli import main

sys.exit(main())
