"""Integrations: one source account each, its identity, block, enrollment, re-pointing and retirement."""
