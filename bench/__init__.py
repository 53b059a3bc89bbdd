"""Benchmarks that report and never assert: `pmsync bench` (syncs against the floor) and the CSV import's cost."""
