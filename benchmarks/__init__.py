"""Side-by-side performance harness: `python -m benchmarks` (`make bench`). See docs/performance.md."""
