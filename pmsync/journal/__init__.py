"""The change journal: what each run created, updated, deactivated or reactivated (record.py writes, read.py reads)."""
