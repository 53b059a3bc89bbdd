"""Work orders of a generated portfolio, with the managedBy mix the work-order sync rule depends on."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from . import vocab
from .clock import format_date
from .constants import SANDBOX_INTEGRATION_USER
from .people import PeopleFactory

if TYPE_CHECKING:
    from .data import _PortfolioGenerator

DAY = 86_400


def generate_workorders(gen: _PortfolioGenerator, units_by_building: list[list[dict]],
                        active_lease_of: dict[int, dict]) -> list[dict]:
    """About half a work order per unit, mostly on active units; ids and numbers follow creation."""
    rng, people = gen.rng, gen.people
    active_units = [u for units in units_by_building for u in units if u["active"]]
    dead_units = [u for units in units_by_building if units and not units[0]["active"] for u in units]
    workorders, categories = [], tuple(vocab.WORK_ORDER_CATEGORIES)
    for _ in range(round(gen.n_units * 0.5) if active_units else 0):
        unit = rng.choice(dead_units) if dead_units and rng.random() < 0.01 else rng.choice(active_units)
        lease = active_lease_of.get(unit["id"])
        if lease is not None and rng.random() >= 0.59:
            lease = None
        category = rng.choice(categories)
        status = rng.choice(vocab.WORK_ORDER_STATUSES)
        source = rng.choice(vocab.WORK_ORDER_SOURCES)
        created = rng.randint(max(unit["_created"], gen.lm_lo), gen.lm_hi - DAY)
        requested_by = (f"{lease['contacts'][0]['firstName']} {lease['contacts'][0]['lastName']}" if lease
                        else rng.choice(("Owner", "Property Manager", people.staff_name())))
        workorder = {
            "id": 0, "number": 0, "buildingID": unit["buildingID"], "unitID": unit["id"],
            "portfolioID": unit["portfolioID"], "description": rng.choice(vocab.WORK_ORDER_CATEGORIES[category]),
            "priority": rng.choices(("HIGH", "MEDIUM", "LOW"), (20, 50, 30))[0], "status": status,
            "type": rng.choice(vocab.WORK_ORDER_TYPES), "category": category,
            "managedBy": _managed_by(rng, people), "requestedBy": requested_by,
            "lease": lease["leaseName"] if lease else None, "source": source,
        }
        if status in ("Completed", "Closed"):
            workorder["completedDate"] = format_date(min(created + rng.randint(0, 14) * DAY, gen.lm_hi))
        workorders.append(gen.stamp(workorder, created))
    workorders.sort(key=lambda w: w["createdDateTime"])
    gen.assign_ids("workorders", workorders)
    for number, workorder in enumerate(workorders, start=1001):
        workorder["number"] = number
    return workorders


def _managed_by(rng: random.Random, people: PeopleFactory) -> str | None:
    """~60% the integration user (varied case/whitespace), ~30% someone else, ~10% blank or missing."""
    r = rng.random()
    if r < 0.6:
        v = rng.random()
        if v < 0.7:
            return SANDBOX_INTEGRATION_USER
        user, domain = SANDBOX_INTEGRATION_USER.split("@")
        variants = (f"PMSync@{domain.capitalize()}", f"  PMSync@{domain.capitalize()} ",
                    f"{SANDBOX_INTEGRATION_USER.upper()} ", f"\t{user}@{domain}")
        return rng.choice(variants)
    if r < 0.9:
        return people.other_user_email()
    return "" if rng.random() < 0.5 else None
