"""`python -m ganeval` is the `ganeval` command."""
from .cli import main

raise SystemExit(main())
