"""The digitalstate command line: one module per command group."""
