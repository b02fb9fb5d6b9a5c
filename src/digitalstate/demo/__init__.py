"""The demo federation and everything only the demo (and the benchmarks) use.

Its members and layout, the synthetic people and their seeding, and the supervisor that runs
one process per node. Production code never imports this package (an import-linter contract
in pyproject.toml says so); `digitalstate demo` and the benchmarks do.
"""
