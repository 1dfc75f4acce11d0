"""`python -m authgate` runs the command-line interface."""

from authgate.cli import main

raise SystemExit(main())
