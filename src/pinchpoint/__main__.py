"""Run the command-line interface as ``python -m pinchpoint``."""

from pinchpoint.cli.main import main

raise SystemExit(main())
