"""Bundled Buildium v1 sandbox: a generated rentals-and-associations account served in Buildium's dialect."""

from .constants import (API_PREFIX, CONTROL_PATH, ENTITY_PATHS, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET,
                        SANDBOX_STAFF_USER_ID, SANDBOX_VENDOR_ID)
from .data import generate_account
from .runner import BuildiumSandboxServer, buildium_banner, buildium_sandbox_settings, serve_buildium
from .server import create_buildium_app
from .store import BuildiumStore

__all__ = [
    "API_PREFIX", "CONTROL_PATH", "ENTITY_PATHS", "SANDBOX_CLIENT_ID", "SANDBOX_CLIENT_SECRET",
    "SANDBOX_STAFF_USER_ID", "SANDBOX_VENDOR_ID", "BuildiumSandboxServer", "BuildiumStore", "buildium_banner",
    "buildium_sandbox_settings", "create_buildium_app", "generate_account", "serve_buildium",
]
