"""Fixed credentials, paths and identities of the bundled Propertyware sandbox."""

SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret-do-not-log"
SANDBOX_SYSTEM_ID = "1001"
SANDBOX_INTEGRATION_USER = "pmsync@sandbox.example"
BASE_PATH = "/pw/api/rest/v1"
CONTROL_PATH = "/_sandbox"

ENTITY_PATHS = {
    "buildings": "/buildings",
    "units": "/units",
    "leases": "/leases",
    "workorders": "/workorders",
    "vendors": "/vendors",
    "portfolios": "/portfolios",
    "charges": "/leases/charges",
    "payments": "/leases/payments",
}
PATH_ENTITIES = {path: entity for entity, path in ENTITY_PATHS.items()}
ENTITIES = tuple(ENTITY_PATHS)
