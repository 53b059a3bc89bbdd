"""The vendor's list parameters (limit, offset, orderby, date windows, filters) parsed and evaluated over a table."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Mapping

from .clock import parse_date_param, parse_datetime_param, to_vendor

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
HIDES_DEACTIVATED = frozenset({"buildings", "units", "portfolios"})

_AUDIT = ("id", "createdBy", "createdDateTime", "lastModifiedBy", "lastModifiedDateTime")
SORTABLE = {
    "buildings": _AUDIT + ("name", "abbreviation", "active", "portfolioID", "propertyType", "category", "multiUnit",
                           "countUnit", "numberFloors", "yearBuilt", "status", "type"),
    "units": _AUDIT + ("name", "abbreviation", "active", "buildingID", "portfolioID", "category", "type", "status",
                       "numberOfBedrooms", "numberOfBathrooms", "totalArea", "targetRent", "floorNumber"),
    "leases": _AUDIT + ("leaseName", "unitID", "buildingID", "portfolioID", "active", "status", "startDate", "endDate",
                        "moveInDate", "moveOutDate", "baseRent", "leaseBalance", "terminatedDate"),
    "workorders": _AUDIT + ("number", "buildingID", "unitID", "portfolioID", "priority", "status", "type", "category",
                            "managedBy", "requestedBy", "lease", "source", "completedDate", "description"),
    "vendors": _AUDIT + ("name", "companyName", "type", "active", "email", "city", "state", "zip"),
    "portfolios": _AUDIT + ("name", "abbreviation", "active", "cashAccrual"),
    "charges": _AUDIT + ("leaseID", "portfolioID", "amount", "amountDue", "amountPaid", "date", "glAccountID"),
    "payments": _AUDIT + ("leaseID", "portfolioID", "contactID", "amount", "date", "paymentType", "refNo"),
}


def _dates(prefix: str, field: str) -> dict[str, tuple[str, str]]:
    return {f"{prefix}Start": (field, "date_ge"), f"{prefix}End": (field, "date_le")}


_LEDGER_FILTERS = {"leaseID": ("leaseID", "int"), "portfolioID": ("portfolioID", "int"),
                   "glAccountID": ("glAccountID", "int"), **_dates("postDate", "date")}
FILTERS: dict[str, dict[str, tuple[str, str]]] = {
    "buildings": {"portfolioID": ("portfolioID", "int")},
    "units": {"buildingID": ("buildingID", "int"), "portfolioID": ("portfolioID", "int"), "type": ("type", "str")},
    "leases": {"buildingID": ("buildingID", "int"), "unitID": ("unitID", "int"), "portfolioID": ("portfolioID", "int"),
               "status": ("status", "str"), **_dates("startDate", "startDate"), **_dates("endDate", "endDate"),
               **_dates("moveInDate", "moveInDate"), **_dates("scheduleMoveOutDate", "scheduleMoveOutDate")},
    "workorders": {"buildingID": ("buildingID", "int"), "portfolioID": ("portfolioID", "int"),
                   "status": ("status", "str"), "type": ("type", "str"), "priority": ("priority", "str"),
                   **_dates("completedDate", "completedDate")},
    "vendors": {"active": ("active", "bool"), "type": ("type", "str")},
    "portfolios": {},
    "charges": _LEDGER_FILTERS,
    "payments": _LEDGER_FILTERS,
}


class QueryError(ValueError):
    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class ListQuery:
    entity: str
    limit: int
    offset: int
    orderby: tuple[tuple[str, bool], ...]
    filters: tuple[tuple[str, str, object], ...]

    @property
    def cache_key(self) -> tuple:
        return self.entity, self.orderby, self.filters

    @property
    def is_plain(self) -> bool:
        return not self.filters and self.orderby in ((), (("id", False),))


def parse_bool(parameter: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise QueryError(parameter, f"Parameter '{parameter}' must be true or false, got '{text}'.")
    return lowered == "true"


def _parse_int(parameter: str, text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise QueryError(parameter, f"Parameter '{parameter}' must be an integer, got '{text}'.") from None
    if value < minimum:
        raise QueryError(parameter, f"Parameter '{parameter}' must be at least {minimum}, got {value}.")
    return value


def _parse_orderby(entity: str, text: str) -> tuple[tuple[str, bool], ...]:
    canonical = {name.lower(): name for name in SORTABLE[entity]}
    keys = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        tokens = part.split()
        direction = tokens[1].lower() if len(tokens) == 2 else "asc"
        if len(tokens) > 2 or direction not in ("asc", "desc"):
            raise QueryError("orderby", f"Invalid orderby clause '{part}': use 'property [asc|desc]'.")
        name = canonical.get(tokens[0].lower())
        if name is None:
            raise QueryError("orderby", f"Invalid orderby property '{tokens[0]}' for {entity}.")
        keys.append((name, direction == "desc"))
    return tuple(keys)


def _parse_window_bound(parameter: str, text: str, *, start: bool) -> str:
    try:
        moment = parse_datetime_param(text)
    except ValueError:
        raise QueryError(parameter, f"Parameter '{parameter}' must be an ISO-8601 date-time such as "
                                    f"2022-06-28T08:47:13Z, got '{text}'.") from None
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + (timedelta(seconds=1) if start else timedelta())
    return to_vendor(moment)


def parse_list_query(entity: str, params: Mapping[str, str]) -> ListQuery:
    limit = min(_parse_int("limit", params["limit"], 1), MAX_LIMIT) if "limit" in params else DEFAULT_LIMIT
    offset = _parse_int("offset", params["offset"], 0) if "offset" in params else 0
    orderby = _parse_orderby(entity, params["orderby"]) if params.get("orderby", "").strip() else ()
    filters: list[tuple[str, str, object]] = []
    for parameter, op in (("lastModifiedDateTimeStart", "ge"), ("lastModifiedDateTimeEnd", "le")):
        if parameter in params:
            bound = _parse_window_bound(parameter, params[parameter], start=op == "ge")
            filters.append(("lastModifiedDateTime", op, bound))
    if entity in HIDES_DEACTIVATED and not parse_bool("includeDeactivated", params.get("includeDeactivated", "false")):
        filters.append(("active", "not_false", True))
    for parameter, (field, kind) in FILTERS[entity].items():
        if parameter not in params:
            continue
        text = params[parameter]
        if kind == "int":
            filters.append((field, "eq", _parse_int(parameter, text, -2**63)))
        elif kind == "bool":
            filters.append((field, "is", parse_bool(parameter, text)))
        elif kind == "str":
            filters.append((field, "ieq", text.strip().lower()))
        else:
            try:
                day = parse_date_param(text)
            except ValueError:
                raise QueryError(parameter, f"Parameter '{parameter}' must be a date YYYY-MM-DD, got '{text}'.") from None
            filters.append((field, "ge" if kind == "date_ge" else "le", day))
    return ListQuery(entity, limit, offset, orderby, tuple(sorted(filters, key=repr)))


def _check(field: str, op: str, value: object) -> Callable[[dict], bool]:
    if op == "eq":
        return lambda r: (v := r.get(field)) == value and not isinstance(v, bool)
    if op == "is":
        return lambda r: r.get(field) is value
    if op == "ieq":
        return lambda r: isinstance(v := r.get(field), str) and v.strip().lower() == value
    if op == "not_false":
        return lambda r: r.get(field) is not False
    if op == "ge":
        return lambda r: isinstance(v := r.get(field), str) and v >= value
    return lambda r: isinstance(v := r.get(field), str) and v <= value


def _sort_key(value: object) -> tuple:
    if value is None:
        return (0, 0)
    if isinstance(value, (bool, int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value.casefold())
    return (3, str(value))


def select_ids(ids: list[int], by_id: dict[int, dict], query: ListQuery) -> list[int]:
    """Every id the query matches, in result order (id asc breaks ties)."""
    if query.filters:
        checks = [_check(*f) for f in query.filters]
        selected = [i for i in ids if all(check(by_id[i]) for check in checks)]
    else:
        selected = list(ids)
    for field, descending in reversed(query.orderby):
        if field == "id":
            selected.sort(reverse=descending)
        else:
            selected.sort(key=lambda i: _sort_key(by_id[i].get(field)), reverse=descending)
    return selected


class ResultCache:
    """Id lists of recent queries, valid for one store version, so later pages cost O(limit)."""

    def __init__(self, size: int = 64):
        self._size = size
        self._entries: OrderedDict[tuple, tuple[int, list[int]]] = OrderedDict()
        self._lock = threading.Lock()

    def ids(self, version: int, ids: list[int], by_id: dict[int, dict], query: ListQuery) -> list[int]:
        if query.is_plain:
            return ids
        with self._lock:
            hit = self._entries.get(query.cache_key)
            if hit is not None and hit[0] == version:
                self._entries.move_to_end(query.cache_key)
                return hit[1]
        selected = select_ids(ids, by_id, query)
        with self._lock:
            self._entries[query.cache_key] = (version, selected)
            self._entries.move_to_end(query.cache_key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return selected
