"""``python -m reservation_core``: the ``reservation-core`` command."""

from reservation_core.cli import main

raise SystemExit(main())
