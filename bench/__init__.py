"""reconciler's benchmark suite: ``python -m bench`` (``make bench``); see docs/BENCHMARKS.md."""
