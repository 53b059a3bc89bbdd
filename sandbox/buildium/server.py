"""FastAPI app speaking Buildium's v1 dialect under /v1 (auth, rate limit, paging, filters, errors, faults), plus
the /_sandbox test controls."""

from __future__ import annotations

import collections
import hmac
import json
from typing import Any, Callable

from fastapi import Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..server import SandboxApp, _set_path
from ..entity_tables import clone
from .constants import (API_PREFIX, BY_ID_PATHS, ENTITY_PATHS, MAX_QUERY_STRING, SANDBOX_CLIENT_ID,
                        SANDBOX_CLIENT_SECRET, SINGULAR)
from .control import buildium_control_router
from .errors import api_error
from .ledger import LEASE_OF_PATH, LEDGER_ENTITY, LEDGER_PATH, ledger_of
from .query import QueryError, ordered, parse_list_query
from .store import BuildiumStore
from .writes import add_write_routes

CLIENT_ID_HEADER = "x-buildium-client-id"
CLIENT_SECRET_HEADER = "x-buildium-client-secret"


class BuildiumApp(SandboxApp):
    """Slowdowns, connection faults and the request log of the Propertyware sandbox, for paths under /v1 (faults
    and slowdowns name the full path, e.g. "/v1/rentals")."""

    vendor_prefix = API_PREFIX
    vendor_path_start = 0


class BuildiumApi:
    def __init__(self, store: BuildiumStore, client_id: str, client_secret: str):
        self.store = store
        self.client_id, self.client_secret = client_id.encode(), client_secret.encode()
        self._owners: dict[int, list[int]] = {}
        self._owners_version = -1
        self._cache: collections.OrderedDict = collections.OrderedDict()

    def public(self, entity: str, record: dict) -> dict:
        """The record as Buildium shows it: hidden fields dropped, a work order's task joined in."""
        shown = {key: clone(value) for key, value in record.items() if not key.startswith("_")}
        if entity == "workorders":
            task = self.store.table("tasks").by_id.get(record.get("_task_id")) or {}
            shown = {"Id": shown.pop("Id"), "Task": {
                "Id": record.get("_task_id") or 0, "Type": task.get("TaskType", "Todo"), "UnitId": task.get("UnitId"),
                "UnitAgreement": clone(task.get("UnitAgreement")), "Title": task.get("Title"),
                "DueDate": task.get("DueDate"), "Priority": task.get("Priority", "Normal"),
                "Status": task.get("TaskStatus", "New")},
                "Title": task.get("Title"), "DueDate": task.get("DueDate"), "Priority": task.get("Priority", "Unknown"),
                "Status": task.get("TaskStatus", "Unknown"), **shown}
        return shown

    def view(self, entity: str, record: dict) -> dict:
        """What the filters and the sort see: the public record plus the hidden links they need."""
        view = self.public(entity, record)
        view["_updated"] = record.get("_updated")
        if entity == "workorders":
            view["_task"] = self.store.table("tasks").by_id.get(record.get("_task_id")) or {}
        elif entity in ("rentals", "leases"):
            view["_owner_ids"] = self._owners_of().get(record["Id"] if entity == "rentals" else record["PropertyId"], [])
        elif entity == "leasebalances":
            lease = self.store.table("leases").by_id.get(record["LeaseId"]) or {}
            view["_lease_status"] = lease.get("LeaseStatus")
            view["_owner_ids"] = self._owners_of().get(record["PropertyId"], [])
        elif entity == "ownershipaccountbalances":
            account = self.store.table("ownershipaccounts").by_id.get(record["OwnershipAccountId"]) or {}
            view["_account_status"] = account.get("Status")
        return view

    def _owners_of(self) -> dict[int, list[int]]:
        if self._owners_version == self.store.version:
            return self._owners
        owners: dict[int, list[int]] = {}
        for owner in self.store.table("rentalowners").by_id.values():
            for property_id in owner.get("PropertyIds") or ():
                owners.setdefault(property_id, []).append(owner["Id"])
        self._owners, self._owners_version = owners, self.store.version
        return owners

    def filtered_views(self, entity: str, pairs: list[tuple[str, str]]) -> tuple[list[dict], set[str], Any]:
        """The entity's views that pass the request's filters, its sortable fields and the parsed query (hold the
        store's lock); the filtered views are cached per store version and filter set."""
        table = self.store.table(entity)
        key = (entity, self.store.version, tuple(sorted(p for p in pairs if p[0] not in ("limit", "offset", "orderby"))))
        cached = self._cache.get(key)
        if cached is None:
            views = [self.view(entity, record) for record in self._records(entity, pairs)]
            sortable = {k for k, v in (views[0] if views else {}).items()
                        if not k.startswith("_") and not isinstance(v, (dict, list))} | {table.key}
            query = parse_list_query(entity, pairs, sortable)
            cached = ([v for v in views if all(test(v) for test in query.tests)], sortable)
            self._cache[key] = cached
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        views, sortable = cached
        return views, sortable, parse_list_query(entity, pairs, sortable)

    def _records(self, entity: str, pairs: list[tuple[str, str]]) -> list[dict]:
        """The entity's records in key order; a lease's transactions: its generated ledger, then those added."""
        table = self.store.table(entity)
        if entity != LEDGER_ENTITY:
            unlisted = self.store.unlisted.get(entity, set())
            return [table.by_id[i] for i in table.ids if i not in unlisted]
        lease_id = int(dict(pairs)[LEASE_OF_PATH])
        lease = self.store.table("leases").by_id[lease_id]
        added = [table.by_id[i] for i in table.ids if table.by_id[i].get("LeaseId") == lease_id]
        return ledger_of(lease, self.store.table("leasebalances").by_id.get(lease_id)) + added

    def refuse(self, request: Request, path: str) -> Response | None:
        """401 on missing or wrong credentials (never echoed), 500 on a query string over the limit, 429 beyond the
        rate limit (without Retry-After), or the queued status fault for this request."""
        headers = request.headers
        sent_id = headers.get(CLIENT_ID_HEADER, "")
        if not (hmac.compare_digest(sent_id.encode(), self.client_id)
                and hmac.compare_digest(headers.get(CLIENT_SECRET_HEADER, "").encode(), self.client_secret)):
            return api_error(401, "The API client ID and secret weren't provided or they're no longer valid.")
        if len(request.scope.get("query_string", b"")) > MAX_QUERY_STRING:
            return api_error(500, f"The query string is longer than {MAX_QUERY_STRING} characters.")
        if not self.store.admit(sent_id):
            return api_error(429, "Too many requests against the API too quickly. Retry after a short interval.")
        offset = request.query_params.get("offset", "0")
        fault = self.store.claim_fault(path, request.method, ("status", "echo_credentials"),
                                       lambda f: f.page_offset is None or str(f.page_offset) == offset)
        if fault is not None and fault.kind == "echo_credentials":
            sent = f"client id {sent_id!r}, secret {headers.get(CLIENT_SECRET_HEADER, '')!r}"
            detail = f"Details: {'.' * fault.size} " if fault.size else ""
            return api_error(fault.status, f"{detail}Request refused for the API key sent ({sent}).",
                             [(CLIENT_SECRET_HEADER, f"Not accepted: {sent}")])
        if fault is not None:
            retry = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
            messages = {429: "Too many requests against the API too quickly.", 500: "Something went wrong.",
                        503: "The service is temporarily unavailable."}
            return api_error(fault.status, messages.get(fault.status, "Injected failure."), headers=retry)
        return None

    def finish(self, request: Request, path: str, payload: Any, headers: dict[str, str] | None = None,
               status: int = 200) -> Response:
        fault = self.store.claim_fault(path, request.method, ("wrong_type", "truncated_json"))
        if fault is not None and fault.kind == "wrong_type":
            if isinstance(payload, dict):
                _set_path(payload, fault.field, fault.value)
            elif -len(payload) <= fault.record_index < len(payload):
                _set_path(payload[fault.record_index], fault.field, fault.value)
        body = json.dumps(payload, separators=(",", ":")).encode()
        if fault is not None and fault.kind == "truncated_json":
            body = body[: len(body) // 2]
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    def list_endpoint(self, entity: str) -> Callable[[Request], Response]:
        path, store = ENTITY_PATHS.get(entity, LEDGER_PATH), self.store

        def list_records(request: Request) -> Response:
            refused = self.refuse(request, path)
            if refused is not None:
                return refused
            pairs = [(name, value) for name, value in request.query_params.multi_items() if name != LEASE_OF_PATH]
            if entity == LEDGER_ENTITY:
                lease_id = request.path_params["leaseId"]
                if not lease_id.isdigit() or store.get("leases", lease_id) is None:
                    return api_error(404, f"Lease with id {lease_id} does not exist.")
                pairs.append((LEASE_OF_PATH, lease_id))
            for name, _ in pairs:
                if name.lower() in ("limit", "offset") and name not in ("limit", "offset"):
                    return api_error(404, f"Unknown parameter '{name}': 'limit' and 'offset' are case-sensitive.")
            self._before_list_page(entity, path)
            with store.lock:
                table = store.table(entity)
                try:
                    views, sortable, query = self.filtered_views(entity, pairs)
                except QueryError as exc:
                    return api_error(400, str(exc), [(exc.parameter, str(exc))])
                views = ordered(views, query, table.key, f"{store.version}/{query.offset}/{query.limit}")
                ignored = store.claim_fault(path, "GET", ("ignore_offset",))
                offset = 0 if ignored else query.offset
                dropped = store.claim_fault(path, "GET", ("drop_page",), lambda f: f.page_offset == query.offset)
                page = [] if dropped else [{k: clone(v) for k, v in view.items() if not k.startswith("_")}
                                           for view in views[offset: offset + query.limit]]
                jumped = store.claim_fault(path, "GET", ("total_jump",), lambda f: f.page_offset == query.offset)
                total = str(len(views) + (jumped.jump if jumped else 0))
                told = store.claim_fault(path, "GET", ("total_header",))
            return self.finish(request, path, page, {"X-Total-Count": str(told.value) if told else total})

        list_records.__name__ = f"get_all_{entity}"
        return list_records

    def _before_list_page(self, entity: str, path: str) -> None:
        """Drift: after `after_pages` pages of this path, records are added (and the lowest keys deleted), once."""
        store = self.store
        with store.lock:
            fault = store.pending_fault(path, "GET")
            if fault is None or fault.kind != "drift":
                return
            if fault.pages_seen < fault.after_pages:
                fault.pages_seen += 1
                return
            store.consume_fault(fault)
            for record_id in list(store.table(entity).ids[: fault.delete_front]):
                store.delete(entity, record_id)
            store.spawn(entity, fault.insert)

    def get_endpoint(self, entity: str, param: str) -> Callable[[Request], Response]:
        store = self.store

        def get_record(request: Request) -> Response:
            path = request.url.path
            refused = self.refuse(request, path)
            if refused is not None:
                return refused
            raw = request.path_params[param]
            try:
                record_id = int(raw)
            except ValueError:
                message = f"The value '{raw}' is not valid for {param}: expected an integer."
                return api_error(400, message, [(param, message)])
            with store.lock:
                record = store.table(entity).by_id.get(record_id)
                payload = self.public(entity, record) if record is not None else None
            if payload is None:
                return api_error(404, f"{SINGULAR[entity]} with id {record_id} does not exist.")
            return self.finish(request, path, payload)

        get_record.__name__ = f"get_{entity}_by_id"
        return get_record


def create_buildium_app(store: BuildiumStore, *, client_id: str = SANDBOX_CLIENT_ID,
                        client_secret: str = SANDBOX_CLIENT_SECRET) -> BuildiumApp:
    app = BuildiumApp(title="Buildium sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.sandbox_store = store
    app.state.store = store
    api = BuildiumApi(store, client_id, client_secret)
    add_write_routes(app, api)
    for entity, path in {**ENTITY_PATHS, LEDGER_ENTITY: LEDGER_PATH}.items():
        app.add_api_route(path, api.list_endpoint(entity), methods=["GET"])
    for entity, route in BY_ID_PATHS.items():
        param = route.rsplit("{", 1)[1].rstrip("}")
        app.add_api_route(route, api.get_endpoint(entity, param), methods=["GET"])
    app.include_router(buildium_control_router(store))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = ("The requested resource doesn't exist (URL paths are case-sensitive)." if exc.status_code == 404
                   else str(exc.detail))
        return api_error(exc.status_code, message, headers=getattr(exc, "headers", None))

    return app
