"""Benchmarks that run real node processes on loopback (digitalstate bench ...)."""
