"""Deterministic generator of a realistic Propertyware portfolio as plain dicts in the vendor's field names."""

from __future__ import annotations

import gc
import random
from datetime import datetime, timezone

from . import vocab
from .clock import format_date, format_datetime
from .ledger import generate_ledger
from .workorders import generate_workorders
from .people import PeopleFactory
from .variety import vary

DAY = 86_400
YEAR = 365 * DAY
FIRST_IDS = {
    "portfolios": 2_001, "owners": 60_001, "buildings": 150_001, "units": 1_200_001,
    "leases": 4_000_001, "contacts": 9_000_001, "workorders": 14_000_001, "vendors": 30_001,
    "charges": 20_000_001, "payments": 40_000_001,
}


class FastRandom(random.Random):
    """Mersenne Twister with float-based choice/randint: quicker, and stable across Python versions."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


def anchor_timestamp(anchor: datetime | None) -> int:
    if anchor is None:
        return int(datetime.now(timezone.utc).timestamp()) // 3600 * 3600
    if anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=timezone.utc)
    return int(anchor.timestamp())


def generate_portfolio(units: int, seed: int = 7, anchor: datetime | None = None, *,
                       ledger: bool = True) -> dict[str, list[dict]]:
    """Same (units, seed, anchor) gives identical output; anchor defaults to now (UTC) truncated to the hour.

    ledger=False leaves charges and payments empty (about a third less memory and time at a million units).
    """
    if units < 0:
        raise ValueError("units must be >= 0")
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _PortfolioGenerator(units, seed, anchor_timestamp(anchor)).build(ledger)
    finally:
        if collecting:
            gc.enable()


class _PortfolioGenerator:
    def __init__(self, units: int, seed: int, anchor: int):
        self.rng = FastRandom(f"pmsync-sandbox/{seed}")
        self.seed = seed
        self.n_units = units
        self.anchor = anchor
        self.lm_lo = anchor - 2 * YEAR
        self.lm_hi = anchor - 7 * DAY
        self.people = PeopleFactory(self.rng)
        self.out: dict[str, list[dict]] = {}

    def stamp(self, record: dict, created: int, modified_floor: int = 0, with_users: bool = True) -> dict:
        created = min(created, self.lm_hi)
        lo = max(created, self.lm_lo, min(modified_floor, self.lm_hi))
        modified = lo + int(self.rng.random() * (self.lm_hi - lo + 1))
        if with_users:
            record["createdBy"] = self.people.staff_email()
        record["createdDateTime"] = format_datetime(created)
        if with_users:
            record["lastModifiedBy"] = self.people.staff_email()
        record["lastModifiedDateTime"] = format_datetime(modified)
        return record

    def assign_ids(self, entity: str, records: list[dict], key: str = "id") -> None:
        rng, next_id = self.rng, FIRST_IDS[entity]
        for record in records:
            record[key] = next_id
            next_id += 1 if rng.random() < 0.93 else rng.randint(2, 4)

    def build(self, ledger: bool) -> dict[str, list[dict]]:
        sizes = self.plan_building_sizes()
        portfolio_of = self.build_portfolios(len(sizes))
        units_by_building = self.build_buildings_and_units(sizes, portfolio_of)
        active_lease_of = self.build_leases(units_by_building)
        self.out["workorders"] = generate_workorders(self, units_by_building, active_lease_of)
        self.build_vendors()
        for unit in self.out["units"]:
            del unit["_created"]
        active_leases = [lease for lease in self.out["leases"] if lease["active"]] if ledger else []
        self.out["charges"], self.out["payments"] = generate_ledger(self, active_leases)
        vary(self.out, self.seed)
        return {name: self.out[name] for name in
                ("buildings", "units", "leases", "workorders", "vendors", "portfolios", "charges", "payments")}

    def plan_building_sizes(self) -> list[int]:
        rng, sizes, left = self.rng, [], self.n_units
        while left > 0:
            r = rng.random()
            size = 1 if r < 0.45 else rng.randint(2, 4) if r < 0.65 else rng.randint(5, 16) if r < 0.9 else rng.randint(17, 40)
            sizes.append(min(size, left))
            left -= sizes[-1]
        return sizes

    def build_portfolios(self, n_buildings: int) -> list[int]:
        rng, groups, start = self.rng, [], 0
        while start < n_buildings:
            size = rng.randint(10, 30)
            groups.append((start, min(start + size, n_buildings)))
            start += size
        first_seen = self.anchor - 6 * YEAR
        span = 6 * YEAR - 60 * DAY
        drafts = [(first_seen + int(span * first / max(n_buildings, 1)) - rng.randint(1, 30) * DAY, True)
                  for first, _ in groups]
        closed = max(1, round(len(groups) * 0.03)) if groups else 0
        drafts += [(first_seen + rng.randint(0, 4 * YEAR), False) for _ in range(closed)]
        order = sorted(range(len(drafts)), key=lambda i: drafts[i][0])
        portfolios = [self.portfolio_record(*drafts[i]) for i in order]
        self.assign_ids("portfolios", portfolios)
        self.assign_ids("owners", [owner for p in portfolios for owner in p["owners"]])
        self.out["portfolios"] = portfolios
        id_of_draft = {draft_index: portfolios[pos]["id"] for pos, draft_index in enumerate(order)}
        portfolio_of = [0] * n_buildings
        for group_index, (first, last) in enumerate(groups):
            for b in range(first, last):
                portfolio_of[b] = id_of_draft[group_index]
        return portfolio_of

    def portfolio_record(self, created: int, active: bool) -> dict:
        rng, people = self.rng, self.people
        owners = [people.owner() for _ in range(1 if rng.random() < 0.65 else 2)]
        shares = [100.0] if len(owners) == 1 else [50.0, 50.0] if rng.random() < 0.6 else [60.0, 40.0]
        for owner, share in zip(owners, shares):
            owner["percentageOwnership"] = share
        last = owners[0]["lastName"]
        record = {
            "id": 0, "name": f"{last} {rng.choice(vocab.TRUST_SUFFIXES)}",
            "abbreviation": f"{last.upper().replace(chr(39), '')[:5]}{rng.randint(10, 99)}",
            "active": active, "cashAccrual": "COMPANY_DEFAULT", "owners": owners,
        }
        return self.stamp(record, created)

    def build_buildings_and_units(self, sizes: list[int], portfolio_of: list[int]) -> list[list[dict]]:
        rng, people = self.rng, self.people
        n_b = len(sizes)
        dead_buildings = set(rng.sample(range(n_b), max(1, round(n_b * 0.03)))) if n_b >= 5 else set()
        managers = [people.manager(i) for i in range(max(3, n_b // 150))]
        first_seen, span = self.anchor - 6 * YEAR, 6 * YEAR - 60 * DAY
        buildings, units_by_building, abbreviations, done = [], [], set(), 0
        last_created = 0
        for b, size in enumerate(sizes):
            created = max(first_seen + int(span * done / max(self.n_units, 1)) + rng.randint(28_800, 64_800),
                          last_created + 1)
            building, units = self.building_and_units(size, created, managers, abbreviations)
            building["portfolioID"] = portfolio_of[b]
            building["active"] = b not in dead_buildings
            for unit in units:
                unit["portfolioID"] = portfolio_of[b]
                unit["active"] = building["active"]
            buildings.append(building)
            units_by_building.append(units)
            last_created = created + 5 * size
            done += size
        self.assign_ids("buildings", buildings)
        for building, units in zip(buildings, units_by_building):
            for unit in units:
                unit["buildingID"] = building["id"]
        all_units = [u for units in units_by_building for u in units]
        self.assign_ids("units", all_units)
        candidates = [u for units in units_by_building if len(units) > 1 and units[0]["active"] for u in units]
        candidates = candidates or [u for u in all_units if u["active"]]
        if self.n_units >= 20 and candidates:
            for unit in rng.sample(candidates, min(len(candidates), max(1, round(self.n_units * 0.02)))):
                unit["active"] = False
        self.out["buildings"], self.out["units"] = buildings, all_units
        return units_by_building

    def building_and_units(self, size: int, created: int, managers: list[dict], taken: set) -> tuple[dict, list[dict]]:
        rng = self.rng
        number = rng.randint(10, 9899)
        street = rng.choice(vocab.STREETS)
        city, state, zip3 = rng.choice(vocab.CITIES)
        street_line = f"{number} {street} {rng.choice(vocab.STREET_SUFFIXES)}"
        address = {"address": street_line, "city": city, "stateRegion": state,
                   "postalCode": f"{zip3}{rng.randint(1, 99):02d}", "country": "USA"}
        if size == 1:
            kind, name = rng.choice(("HOUSE", "HOUSE", "HOUSE", "TOWNHOUSE", "CONDO")), street_line
            unit_type = {"HOUSE": "Single Family", "TOWNHOUSE": "Townhouse", "CONDO": "Condo"}[kind]
        else:
            kind = "DU_FOUR_PLEX" if size <= 4 else "APARTMENT"
            name = f"{street} {rng.choice(vocab.APARTMENT_STYLES)}" if size > 4 else f"{street_line} {size}-plex"
            unit_type = "Apartment"
        abbreviation = f"{street.upper()[:4]}{number}"
        while abbreviation in taken:
            abbreviation = f"{street.upper()[:4]}{number}-{rng.randint(2, 99)}"
        taken.add(abbreviation)
        floors = 1 if size <= 2 else min(1 + size // 8, 5)
        pm_count = 0 if rng.random() < 0.01 else 1 if rng.random() < 0.8 else 2
        building = {
            "id": 0, "name": name, "abbreviation": abbreviation, "address": address, "active": True,
            "portfolioID": 0, "propertyType": kind, "category": "RESIDENTIAL",
            "multiUnit": "Single Family" if size == 1 else "Multi Family", "countUnit": size,
            "numberFloors": floors, "yearBuilt": rng.randint(1925, 2021),
            "propertyManagerList": [dict(m) for m in rng.sample(managers, pm_count)],
        }
        self.stamp(building, created)
        units = [self.unit_record(building, k, size, floors, unit_type, created + 5 * k) for k in range(size)]
        return building, units

    def unit_record(self, building: dict, k: int, size: int, floors: int, unit_type: str, created: int) -> dict:
        rng = self.rng
        if size == 1:
            name, address = building["name"], dict(building["address"])
        else:
            floor = 1 + k * floors // size
            name = f"{floor}{k % max(1, size // floors) + 1:02d}" if size > 4 else chr(65 + k)
            address = dict(building["address"], addressCont=f"Unit {name}")
        bedrooms = rng.choice((1, 1, 2, 2, 2, 3)) if size > 1 else rng.choice((2, 3, 3, 4, 5))
        unit = {
            "id": 0, "name": name, "abbreviation": building["abbreviation"] if size == 1 else f"{building['abbreviation']}-{name}",
            "buildingID": 0, "portfolioID": 0, "active": True, "address": address, "category": "RESIDENTIAL",
            "type": unit_type, "numberOfBedrooms": bedrooms, "numberOfBathrooms": float(max(1, bedrooms - 1)) + rng.choice((0.0, 0.5)),
            "totalArea": float(450 + 380 * bedrooms + rng.randint(-80, 120)), "areaUnits": "Sq Ft",
            "targetRent": float(650 + 425 * bedrooms + rng.randint(0, 30) * 10),
            "floorNumber": 1 + k * floors // size, "status": "Vacant", "_created": created,
        }
        return self.stamp(unit, created)

    def build_leases(self, units_by_building: list[list[dict]]) -> dict[int, dict]:
        rng, anchor = self.rng, self.anchor
        leases, active_of_unit = [], {}
        for unit in (u for units in units_by_building for u in units):
            unit_created = unit["_created"]
            past_end = 0
            if rng.random() < (0.16 if unit["active"] else 0.6):
                lo, hi = max(unit_created, anchor - 4 * YEAR), anchor - 400 * DAY
                if lo < hi:
                    start = _day(rng.randint(lo, hi))
                    past_end = start + rng.choice((180, 365, 365, 365)) * DAY
                    leases.append(self.lease_record(unit, start, past_end, active=False))
            if unit["active"] and rng.random() < 0.89:
                lo, hi = max(unit_created, past_end + DAY, anchor - 3 * YEAR), anchor - 14 * DAY
                start = _day(rng.randint(lo, hi) if lo < hi else hi)
                lease = self.lease_record(unit, start, start + rng.choice((365, 365, 365, 730)) * DAY, active=True)
                leases.append(lease)
                active_of_unit[unit["id"]] = lease
                unit["status"] = "Occupied"
        leases.sort(key=lambda lease: lease["createdDateTime"])
        self.assign_ids("leases", leases)
        self.assign_ids("contacts", [contact for lease in leases for contact in lease["contacts"]])
        self.out["leases"] = leases
        return active_of_unit

    def lease_record(self, unit: dict, start: int, end: int, *, active: bool) -> dict:
        rng = self.rng
        contacts = self.people.lease_contacts()
        primary = contacts[0]
        move_out = None
        if not active:
            move_out = min(end - rng.randint(0, 30) * DAY, self.lm_hi)
        status = "Active" if active else "Terminated" if rng.random() < 0.4 else "Inactive"
        rent = float(round(unit["targetRent"] * rng.uniform(0.92, 1.05) / 5) * 5)
        lease = {
            "id": 0, "leaseName": f"{primary['lastName']}, {primary['firstName']}", "unitID": unit["id"],
            "buildingID": unit["buildingID"], "portfolioID": unit["portfolioID"], "active": active, "status": status,
            "startDate": format_date(start), "endDate": format_date(end), "moveInDate": format_date(start),
            "moveOutDate": format_date(move_out) if move_out else None, "baseRent": rent,
            "leaseBalance": 0.0 if rng.random() < 0.8 or not active else round(rng.uniform(25, 3000), 2),
            "contacts": contacts,
        }
        if status == "Terminated":
            lease["terminatedDate"] = format_date(move_out)
        return self.stamp(lease, start - rng.randint(1, 21) * DAY + rng.randint(28_800, 64_800), modified_floor=move_out or 0)

    def build_vendors(self) -> None:
        count = max(5, self.n_units // 50)
        first_seen, span = self.anchor - 6 * YEAR, 6 * YEAR - 30 * DAY
        vendors = [self.stamp(self.people.vendor(), first_seen + span * i // count + self.rng.randint(0, 3_600))
                   for i in range(count)]
        self.assign_ids("vendors", vendors)
        self.out["vendors"] = vendors


def _day(ts: int) -> int:
    return ts - ts % DAY

