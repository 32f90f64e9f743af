"""Benchmarks: our time against a hand-written NumPy reference, measured in the same run."""
