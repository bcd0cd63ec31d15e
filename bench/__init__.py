"""Benchmarks: each prints its figures (ratios measured in one run) on its last line."""
