"""Bundled Propertyware REST v1 sandbox: realistic generated data served in the vendor's exact dialect."""

from .constants import (BASE_PATH, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER,
                        SANDBOX_SYSTEM_ID)
from .data import generate_portfolio
from .faults import (Fault, cut_body_fault, disconnect_fault, drift_fault, drop_page_fault, echo_credentials_fault,
                     fault_from_dict, ignore_offset_fault, oversized_fault, redirect_fault, reset_fault, status_fault,
                     total_header_fault, total_jump_fault, trickle_fault, truncated_json_fault, wrong_type_fault)
from .runner import SandboxServer, serve
from .server import create_app
from .store import SandboxStore

__all__ = [
    "BASE_PATH", "SANDBOX_CLIENT_ID", "SANDBOX_CLIENT_SECRET", "SANDBOX_INTEGRATION_USER", "SANDBOX_SYSTEM_ID",
    "Fault", "SandboxServer", "SandboxStore", "create_app", "cut_body_fault", "disconnect_fault", "drift_fault",
    "drop_page_fault", "echo_credentials_fault", "fault_from_dict", "generate_portfolio", "ignore_offset_fault",
    "oversized_fault", "redirect_fault", "reset_fault", "serve", "status_fault", "total_header_fault",
    "total_jump_fault", "trickle_fault", "truncated_json_fault", "wrong_type_fault",
]
