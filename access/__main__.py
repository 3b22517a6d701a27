"""``python -m access``: the staff-account administration command (see :mod:`access.cli`)."""

from access.cli import main

raise SystemExit(main())
