"""Integration tests: real databases, the real app and CLI, in this process."""
