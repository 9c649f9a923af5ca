"""The reasoning core: pure functions and frozen values over compiled knowledge; no I/O, no framework."""
