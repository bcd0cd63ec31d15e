"""What runs with no cloud at all: the offline preview and policy gate, and the benchmarks."""
