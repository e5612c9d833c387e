"""`python -m rnnkit` is the same as the `rnnkit` command."""

from rnnkit.cli.main import main

raise SystemExit(main())
