"""Where Propertyware's work-order endpoints used to live: kept so older imports work."""

from pmsync.source.propertyware.workorders import WorkOrderEndpoints as WorkOrderWriter

__all__ = ["WorkOrderWriter"]
