"""Runs: bookkeeping, locks and sync slots, schedules, deployments and their parameters."""
