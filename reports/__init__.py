"""The analysts' Reports web app: recent reconciliation snapshots, their deactivated units, and each one's CSV."""
