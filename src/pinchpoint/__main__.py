"""Run the command-line interface as ``python -m pinchpoint``."""

from pinchpoint.cli.main import run

run()
