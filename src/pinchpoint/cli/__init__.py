"""The ``pinchpoint`` command: one module per subcommand family."""
