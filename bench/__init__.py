"""Performance benchmarks (`make bench`, `python -m bench.run`). Results: evals/results/bench.md and bench.json."""
