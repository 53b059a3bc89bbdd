"""Buildium as a source system: its record models (and, to come, its client, rule table and sandbox dialect)."""
