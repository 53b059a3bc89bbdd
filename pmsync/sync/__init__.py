"""The sync engine as a plain library: gate, policy, page apply and run lifecycle (no Prefect here)."""
