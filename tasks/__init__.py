"""Prefect tasks, one module per stage: extract, (validate), transform, load."""
