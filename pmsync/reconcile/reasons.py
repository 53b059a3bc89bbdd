"""The reasons a reconciliation stores on what it deactivated or reactivated (read by exports without the source client)."""

DELETED = "deleted_in_source"
DEACTIVATED = "deactivated_in_source"
REACTIVATED = "active in the source again"
