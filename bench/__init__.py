"""Benchmarks and evaluations: `python -m bench <name> [args]`; results go to bench/RESULTS.md."""
