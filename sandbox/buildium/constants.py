"""Fixed credentials, identities and paths of the bundled Buildium sandbox."""

SANDBOX_CLIENT_ID = "buildium-sandbox-client"
SANDBOX_CLIENT_SECRET = "buildium-sandbox-secret-do-not-log"
SANDBOX_STAFF_USER_ID = 900_001
"""The integration's staff user: the tasks of the work orders pmsync syncs are assigned to it."""
OTHER_STAFF_USER_IDS = (900_002, 900_003)
SANDBOX_VENDOR_ID = 1
"""The vendor a pushed work order names when the platform gave none (always present, active)."""
API_PREFIX = "/v1"
CONTROL_PATH = "/_sandbox"
RATE_LIMIT_PER_SECOND = 10
MAX_QUERY_STRING = 4096

ENTITY_PATHS = {
    "rentals": "/v1/rentals",
    "rentalunits": "/v1/rentals/units",
    "leases": "/v1/leases",
    "rentalowners": "/v1/rentals/owners",
    "vendors": "/v1/vendors",
    "tasks": "/v1/tasks",
    "workorders": "/v1/workorders",
    "associations": "/v1/associations",
    "associationunits": "/v1/associations/units",
    "ownershipaccounts": "/v1/associations/ownershipaccounts",
    "associationowners": "/v1/associations/owners",
    "leasebalances": "/v1/leases/outstandingbalances",
    "ownershipaccountbalances": "/v1/associations/ownershipaccounts/outstandingbalances",
}
BY_ID_PATHS = {
    "rentals": "/v1/rentals/{propertyId}",
    "rentalunits": "/v1/rentals/units/{unitId}",
    "leases": "/v1/leases/{leaseId}",
    "rentalowners": "/v1/rentals/owners/{rentalOwnerId}",
    "vendors": "/v1/vendors/{vendorId}",
    "tasks": "/v1/tasks/{taskId}",
    "workorders": "/v1/workorders/{workOrderId}",
    "associations": "/v1/associations/{associationId}",
    "associationunits": "/v1/associations/units/{unitId}",
    "ownershipaccounts": "/v1/associations/ownershipaccounts/{ownershipAccountId}",
    "associationowners": "/v1/associations/owners/{ownerId}",
}
ENTITIES = (*ENTITY_PATHS, "leasetransactions")
"""Every entity the sandbox keeps: the listings, and the lease transactions (listed per lease, sandbox.buildium.ledger)."""
KEY_FIELDS = {"leasebalances": "LeaseId", "ownershipaccountbalances": "OwnershipAccountId"}
"""The identifying field of each entity whose records have no `Id`."""
SINGULAR = {"rentals": "Rental property", "rentalunits": "Rental unit", "leases": "Lease",
            "rentalowners": "Rental owner", "vendors": "Vendor", "tasks": "Task", "workorders": "Work order",
            "associations": "Association", "associationunits": "Association unit",
            "ownershipaccounts": "Ownership account", "associationowners": "Association owner"}


def key_field(entity: str) -> str:
    return KEY_FIELDS.get(entity, "Id")
