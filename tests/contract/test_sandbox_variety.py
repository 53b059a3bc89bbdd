"""The sandbox sends what real accounts send: every value of each enum the spec declares for a field it sends, custom
and mixed-case free strings, long values; deterministic per seed."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.data import generate_portfolio

SPEC = json.loads((Path(__file__).resolve().parent / "propertyware-openapi.json").read_text())["components"]["schemas"]
SCHEMA_OF = {"buildings": "Building", "units": "Unit", "leases": "Lease", "workorders": "WorkOrder",
             "charges": "ChargeTx", "payments": "Payment"}


def test_every_enum_the_sandbox_sends_is_sent_in_its_full_width():
    portfolio = generate_portfolio(60, seed=7)
    checked = []
    for stream, schema in SCHEMA_OF.items():
        for field, node in SPEC[schema]["properties"].items():
            sent = {record[field] for record in portfolio[stream] if record.get(field) is not None} if "enum" in node else None
            if sent:
                assert sent == set(node["enum"]), f"{schema}.{field}"
                checked.append(f"{schema}.{field}")
    assert {"Building.category", "Building.propertyType", "Unit.category", "Unit.areaUnits", "WorkOrder.priority",
            "Payment.paymentType"} <= set(checked)


def test_free_strings_vary_as_real_accounts_do_and_long_values_are_sent():
    portfolio = generate_portfolio(60, seed=7)
    leases, orders = portfolio["leases"], portfolio["workorders"]
    lease_statuses = {lease["status"] for lease in leases}
    assert {"Active", "ACTIVE", "active"} & lease_statuses and len(lease_statuses) >= 8
    roles = {contact["role"] for lease in leases for contact in lease["contacts"]}
    assert len({role for role in roles if role.strip().lower() == "tenant"}) >= 3
    assert len({order["status"] for order in orders} - {"Open", "Assigned", "Scheduled", "In Progress", "Completed",
                                                         "Closed", "Cancelled"}) >= 3
    assert any(len(order["description"]) >= 500 for order in orders)
    assert any(len(order["category"]) >= 500 for order in orders)
    assert any(len(lease["status"]) >= 500 for lease in leases) and any(len(lease["leaseName"]) >= 500 for lease in leases)
    assert any(len(building["name"]) >= 500 for building in portfolio["buildings"])
