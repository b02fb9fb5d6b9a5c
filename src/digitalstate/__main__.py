"""`python -m digitalstate` runs the command line."""

from digitalstate.cli.main import main

# Guarded: a node's worker processes are spawned (multiprocessing), and import this module
# again under another name.
if __name__ == "__main__":
    main()
