"""Benchmarks: runnable scripts that print tables and write JSON results."""
