"""The pinchpoint test suite; ``tests/`` mirrors ``src/pinchpoint/``."""
