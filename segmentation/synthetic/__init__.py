"""Synthetic customers and transactions with known structure, for demos, tests and benchmarks."""
