"""Generator and helper scripts; run them from the repository root with ``python -m tools.NAME``."""
