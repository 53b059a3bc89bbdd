"""pmsync: keeps a property-management platform database in step with its source system."""
