"""Tests of the benchmark harness (it measures; these check that what it measures is right)."""
