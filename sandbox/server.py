"""FastAPI app speaking the Propertyware REST v1 dialect under BASE_PATH, plus /_sandbox test controls."""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
import struct
import time
from typing import Any, Callable
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .constants import (BASE_PATH, ENTITY_PATHS, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID)
from .control import control_router
from .errors import error_response
from .faults import CONNECTION_KINDS, Fault
from .query import QueryError, ResultCache, parse_list_query
from .entity_tables import clone
from .store import SandboxStore
from .writes import add_work_order_write_routes

BY_ID_ROUTES = (
    ("buildings", "/buildings/{buildingID}"), ("units", "/units/{unitID}"), ("leases", "/leases/{leaseId}"),
    ("workorders", "/workorders/{workOrderId}"), ("vendors", "/vendors/{vendorID}"),
    ("portfolios", "/portfolios/{portfolioID}"),
)
_CONTAINERS = (dict, list)
_SINGULAR = {"buildings": "Building", "units": "Unit", "leases": "Lease", "workorders": "Work order",
             "vendors": "Vendor", "portfolios": "Portfolio", "charges": "Charge", "payments": "Payment"}


def strip_nulls(value: Any) -> Any:
    """The vendor schemas declare nothing nullable: absent values are left out instead of sent as null."""
    kind = type(value)
    if kind is dict:
        return {k: strip_nulls(v) if type(v) in _CONTAINERS else v for k, v in value.items() if v is not None}
    if kind is list:
        return [strip_nulls(v) if type(v) in _CONTAINERS else v for v in value]
    return value


def _set_path(record: Any, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        record = record[int(part)] if isinstance(record, list) else record.setdefault(part, {})
    if isinstance(record, list):
        record[int(last)] = value
    else:
        record[last] = value


class VendorApi:
    def __init__(self, store: SandboxStore, credentials: dict[str, str], emit_nulls: bool):
        self.store = store
        self.credentials = {name: secret.encode() for name, secret in credentials.items()}
        self.render: Callable[[dict], dict] = clone if emit_nulls else strip_nulls
        self.cache = ResultCache()

    def refuse(self, request: Request, path: str) -> Response | None:
        """401 on bad credentials (never echoed), or the queued status fault for this request."""
        headers = request.headers
        if not all(hmac.compare_digest(headers.get(name, "").encode(), expected)
                   for name, expected in self.credentials.items()):
            return error_response(401, "The API key couldn't be authorized. Check the client id, secret and "
                                       "system id headers.",
                                  [{"key": "authorization", "message": "Invalid or missing API credentials."}])
        offset = request.query_params.get("offset", "0")
        fault = self.store.claim_fault(path, request.method, ("status", "echo_credentials"),
                                       lambda f: f.page_offset is None or str(f.page_offset) == offset)
        if fault is not None and fault.kind == "echo_credentials":
            sent = f"client id {headers.get('x-propertyware-client-id', '')!r}, secret " \
                   f"{headers.get('x-propertyware-client-secret', '')!r}"
            detail = f"Details: {'.' * fault.size} " if fault.size else ""
            return error_response(fault.status, f"{detail}Request refused for the API key sent ({sent}).",
                                  [{"key": "x-propertyware-client-secret", "message": f"Not accepted: {sent}"}])
        if fault is not None:
            return self.status_fault_response(fault)
        return None

    @staticmethod
    def status_fault_response(fault: Fault) -> Response:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        messages = {429: "Too many requests against the API too quickly.", 500: "Something went wrong on our end.",
                    503: "The service is temporarily unavailable."}
        return error_response(fault.status, messages.get(fault.status, "Injected failure."), headers=headers)

    def finish(self, request: Request, path: str, payload: Any, headers: dict[str, str] | None = None) -> Response:
        fault = self.store.claim_fault(path, request.method, ("wrong_type", "truncated_json"))
        if fault is not None and fault.kind == "wrong_type":
            if isinstance(payload, dict):
                _set_path(payload, fault.field, fault.value)
            elif -len(payload) <= fault.record_index < len(payload):
                _set_path(payload[fault.record_index], fault.field, fault.value)
        body = json.dumps(payload, separators=(",", ":")).encode()
        if fault is not None and fault.kind == "truncated_json":
            body = body[: len(body) // 2]
        return Response(body, media_type="application/json", headers=headers)

    def list_endpoint(self, entity: str) -> Callable[[Request], Response]:
        path = ENTITY_PATHS[entity]
        store, cache = self.store, self.cache

        def list_records(request: Request) -> Response:
            refused = self.refuse(request, path)
            if refused is not None:
                return refused
            params = request.query_params
            for name in params:
                if name.lower() in ("limit", "offset") and name not in ("limit", "offset"):
                    return error_response(404, f"Unknown parameter '{name}': 'limit' and 'offset' are case-sensitive.")
            try:
                query = parse_list_query(entity, params)
            except QueryError as exc:
                return error_response(400, str(exc), [{"key": exc.parameter, "message": str(exc)}])
            store.before_list_page(path)
            with store.lock:
                table = store.table(entity)
                ids = cache.ids(store.version, table.ids, table.by_id, query)
                ignored = store.claim_fault(path, "GET", ("ignore_offset",))
                offset = 0 if ignored else query.offset
                page_ids = ids[offset: offset + query.limit]
                dropped = store.claim_fault(path, "GET", ("drop_page",), lambda f: f.page_offset == query.offset)
                page = [] if dropped else [self.render(table.by_id[i]) for i in page_ids]
                jumped = store.claim_fault(path, "GET", ("total_jump",), lambda f: f.page_offset == query.offset)
                total = str(len(ids) + (jumped.jump if jumped else 0))
                told = store.claim_fault(path, "GET", ("total_header",))
            return self.finish(request, path, page, {"X-Total-Count": str(told.value) if told else total})

        list_records.__name__ = f"get_{entity}"
        return list_records

    def get_endpoint(self, entity: str, param: str) -> Callable[[Request], Response]:
        store = self.store

        def get_record(request: Request) -> Response:
            path = request.url.path[len(BASE_PATH):]
            refused = self.refuse(request, path)
            if refused is not None:
                return refused
            raw = request.path_params[param]
            try:
                record_id = int(raw)
            except ValueError:
                message = f"Parameter '{param}' must be an integer, got '{raw}'."
                return error_response(400, message, [{"key": param, "message": message}])
            with store.lock:
                record = store.table(entity).by_id.get(record_id)
                payload = self.render(record) if record is not None else None
            if payload is None:
                return error_response(404, f"{_SINGULAR[entity]} {record_id} not found.")
            return self.finish(request, path, payload)

        get_record.__name__ = f"get_{entity}_by_id"
        return get_record


class SandboxApp(FastAPI):
    """Logs vendor requests, counts those in flight, and applies slowdowns and connection faults (disconnect, reset,
    cut_body) before any routing, at the raw ASGI level."""

    sandbox_store: SandboxStore
    vendor_prefix = BASE_PATH
    """Requests under this path prefix are the vendor's (the rest are the controls)."""
    vendor_path_start = len(BASE_PATH)
    """Where the vendor path of a request begins, as faults, slowdowns and the request log name it."""

    async def __call__(self, scope, receive, send) -> None:
        raw_path = scope.get("path", "")
        prefix = self.vendor_prefix
        if scope["type"] == "http" and (raw_path == prefix or raw_path.startswith(prefix + "/")):
            path, method = raw_path[self.vendor_path_start:] or "/", scope["method"]
            query = dict(parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True))
            self.sandbox_store.log_request(method, path, query)
            self.sandbox_store.request_began()
            try:
                await self._vendor_request(scope, receive, send, path, method, query.get("offset"))
            finally:
                self.sandbox_store.request_ended()
            return
        await super().__call__(scope, receive, send)

    async def _vendor_request(self, scope, receive, send, path: str, method: str, offset: str | None) -> None:
        slowdowns = self.sandbox_store.slowdowns
        cuts = slowdowns.cuts
        until = time.monotonic() + slowdowns.delay_for(path, method, offset)
        while (left := until - time.monotonic()) > 0 and slowdowns.cuts == cuts:
            await asyncio.sleep(min(left, 0.1))
        fault = self.sandbox_store.claim_fault(path, method, CONNECTION_KINDS)
        if fault is not None and fault.kind == "cut_body":
            await self._cut_body(scope, receive, send)
            return
        if fault is not None and fault.kind == "redirect":
            location = [(b"location", fault.location.encode())] if fault.location else []
            await send({"type": "http.response.start", "status": fault.status,
                        "headers": [*location, (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        if fault is not None and fault.kind in ("trickle", "oversized"):
            await super().__call__(scope, receive, _reshaped(send, fault))
            return
        if fault is not None:
            await self._disconnect(scope, receive, send, fault)
            return
        await super().__call__(scope, receive, send)

    async def _disconnect(self, scope, receive, send, fault: Fault) -> None:
        cycle, transport = _connection_of(send, fault)
        if fault.after_processing:
            async def discard(message) -> None:
                return None
            await super().__call__(scope, receive, discard)
        if fault.kind == "reset":
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        cycle.disconnected = True
        transport.abort()

    async def _cut_body(self, scope, receive, send) -> None:
        """Handle the request; send the headers (full Content-Length) and half the body, then close the connection."""
        cycle, transport = _connection_of(send, None)

        async def cut(message) -> None:
            if cycle.disconnected:
                return
            if message["type"] == "http.response.start":
                await send(message)
                return
            body = message.get("body", b"")
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            cycle.disconnected = True
            transport.close()
        await super().__call__(scope, receive, cut)


def _reshaped(send, fault: Fault):
    """The ASGI `send` of an answer padded with JSON whitespace to `fault.size` bytes (announced or chunked), or sent
    `fault.chunk_bytes` at a time, `fault.interval` seconds apart, until the client goes away."""
    cycle = getattr(send, "__self__", None)

    async def reshaped(message) -> None:
        if message["type"] == "http.response.start":
            if fault.kind == "oversized":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"]
                announced = [(b"content-length", str(fault.size).encode())] if fault.announce_size else []
                message = {**message, "headers": headers + announced}
            await send(message)
            return
        body = message.get("body", b"")
        if fault.kind == "oversized":
            await send({**message, "body": body + b" " * max(fault.size - len(body), 0)})
            return
        for start in range(0, len(body), fault.chunk_bytes):
            if getattr(cycle, "disconnected", False):
                return
            await send({"type": "http.response.body", "body": body[start: start + fault.chunk_bytes], "more_body": True})
            await asyncio.sleep(fault.interval)
        await send({"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)})
    return reshaped


def _connection_of(send, fault: Fault | None):
    """uvicorn's request cycle behind `send` and its transport, to drop or cut the connection."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        kind = fault.kind if fault else "cut_body"
        raise ConnectionAbortedError(f"{kind} fault: server could not reach the connection to drop it")
    return cycle, transport


def create_app(store: SandboxStore, *, client_id: str = SANDBOX_CLIENT_ID, client_secret: str = SANDBOX_CLIENT_SECRET,
               system_id: str = SANDBOX_SYSTEM_ID, emit_nulls: bool = False) -> FastAPI:
    """The sandbox app over `store`. emit_nulls=True sends None values as JSON null (outside the vendor schemas)."""
    app = SandboxApp(title="Propertyware sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.sandbox_store = store
    app.state.store = store
    api = VendorApi(store, {"x-propertyware-client-id": client_id, "x-propertyware-client-secret": client_secret,
                            "x-propertyware-system-id": system_id}, emit_nulls)
    for entity, path in ENTITY_PATHS.items():
        app.add_api_route(BASE_PATH + path, api.list_endpoint(entity), methods=["GET"])
    for entity, route in BY_ID_ROUTES:
        param = route.rsplit("{", 1)[1].rstrip("}")
        app.add_api_route(BASE_PATH + route, api.get_endpoint(entity, param), methods=["GET"])
    add_work_order_write_routes(app, api)
    app.include_router(control_router(store))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = "The requested resource doesn't exist." if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    return app
