"""Benchmarks: each one a module run as `python -m bench.<name>`."""
