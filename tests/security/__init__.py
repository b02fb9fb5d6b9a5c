"""Security tests: every route classified and tried across people, every API fuzzed."""
