"""Browser tests: a package, so that the one demo they share (conftest.py's package-scoped
`demo`) stops after the last of them, not at the end of the whole run."""
