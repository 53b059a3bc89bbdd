"""Reconciliation: the source's full lists compared with the platform, guarded, confirmed, committed."""
