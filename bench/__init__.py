"""Benchmarks of the Parzen service (run them as scripts: `python bench/ask_latency.py`)."""
