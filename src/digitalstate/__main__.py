"""`python -m digitalstate` runs the command line."""

from digitalstate.cli.main import main

main()
