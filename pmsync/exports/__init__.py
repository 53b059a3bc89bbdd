"""Exports: reconciliation snapshots and tables as the analysts' CSV and Excel files."""
