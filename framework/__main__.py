"""``python -m framework ...`` — the same commands as the ``plugbot`` script."""
from .cli import main

raise SystemExit(main())
