"""Run the command-line interface as ``python -m pinchpoint``."""

from pinchpoint.cli import main

raise SystemExit(main())
