"""Propertyware, one source package: its client and dialect, rule table, work-order writer and credentials."""
