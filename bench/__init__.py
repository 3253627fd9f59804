"""Benchmarks of the event store, run by `python -m bench` (`make bench`); see bench/RESULTS.md."""
