"""`python -m gankit` (and `torchrun -m gankit`) run the command-line interface."""

from gankit.cli import main

raise SystemExit(main())
