"""Benchmarks (``make bench``): measured, not asserted; figures go to var/bench/."""
