"""Test-control endpoints under /_sandbox (no auth): faults, record changes, request log, health."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .clock import parse_datetime_param
from .constants import CONTROL_PATH, ENTITIES
from .faults import fault_from_dict
from .ledger import post_payment
from .query import QueryError, parse_bool
from .slowdowns import slowdown_from_dict
from .store import SandboxStore
from .traffic import Traffic


def _problem(status: int, problem: str | Exception) -> JSONResponse:
    message = problem.args[0] if isinstance(problem, KeyError) and problem.args else str(problem)
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except json.JSONDecodeError as exc:
        raise ValueError(f"request body is not JSON: {exc}") from None


def _at(request: Request) -> datetime | None:
    text = request.query_params.get("at")
    return parse_datetime_param(text) if text else None


def control_router(store: SandboxStore) -> APIRouter:
    router = APIRouter(prefix=CONTROL_PATH)

    def known(entity: str) -> None:
        if entity not in ENTITIES:
            raise KeyError(f"unknown entity {entity!r}; expected one of {', '.join(ENTITIES)}")

    @router.get("/health")
    def health() -> dict:
        return {"status": "ok", "version": store.version, "counts": {e: store.count(e) for e in ENTITIES},
                "most_in_flight": store.most_in_flight}

    add_traffic_routes(router, store)
    add_record_routes(router, store, known)

    @router.patch("/records/{entity}/{record_id}")
    async def update_record(entity: str, record_id: str, request: Request) -> Response:
        try:
            known(entity)
            body = await _json_body(request)
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object of the fields to change")
            reserved = {"entity", "id", "at"} & set(body)
            if reserved:
                raise ValueError(f"fields {', '.join(sorted(reserved))} cannot be patched (use ?at= for the time)")
            return JSONResponse(store.update(entity, int(record_id), _at(request), **body))
        except KeyError as exc:
            return _problem(404, exc)
        except ValueError as exc:
            return _problem(400, exc)

    @router.post("/records/{entity}/{record_id}/deactivate")
    def deactivate_record(entity: str, record_id: str, request: Request) -> Response:
        try:
            known(entity)
            cascade = parse_bool("cascade", request.query_params.get("cascade", "false"))
            return JSONResponse(store.deactivate(entity, int(record_id), _at(request), cascade=cascade))
        except KeyError as exc:
            return _problem(404, exc)
        except (ValueError, QueryError) as exc:
            return _problem(400, exc)

    @router.post("/leases/{lease_id}/payments")
    async def receive_payment(lease_id: str, request: Request) -> Response:
        """A payment received in the source: {"amount": 120.5, "paymentType": "CHECK", "refNo": "..."} (optional ?at=)."""
        try:
            body = await _json_body(request) or {}
            if not isinstance(body, dict) or not isinstance(body.get("amount"), (int, float)):
                raise ValueError('body must be a JSON object with a numeric "amount"')
            posted = post_payment(store, int(lease_id), float(body["amount"]), at=_at(request),
                                  payment_type=body.get("paymentType", "ECHECK"), ref_no=body.get("refNo"))
        except KeyError as exc:
            return _problem(404, exc)
        except ValueError as exc:
            return _problem(400, exc)
        return JSONResponse(posted, status_code=201)

    return router


def add_traffic_routes(router: APIRouter, store: Traffic) -> None:
    """The dialect-free controls: faults, slowdowns, and the request and write logs."""

    @router.get("/faults")
    def list_faults() -> list:
        return [fault.to_dict() for fault in store.faults]

    @router.post("/faults")
    async def add_fault(request: Request) -> Response:
        try:
            fault = store.inject(fault_from_dict(await _json_body(request)))
        except (ValueError, TypeError) as exc:
            return _problem(400, exc)
        return JSONResponse(fault.to_dict(), status_code=201)

    @router.delete("/faults")
    def clear_faults() -> dict:
        cleared = len(store.faults)
        store.clear_faults()
        return {"cleared": cleared}

    @router.get("/slowdowns")
    def list_slowdowns() -> list:
        return store.slowdowns.listed()

    @router.post("/slowdowns")
    async def add_slowdown(request: Request) -> Response:
        """Vendor requests that wait before they are handled: {"seconds": 5, "path": "/workorders", "method": "POST"}."""
        try:
            slowdown = store.slowdowns.add(slowdown_from_dict(await _json_body(request)))
        except (ValueError, TypeError) as exc:
            return _problem(400, exc)
        return JSONResponse(dataclasses.asdict(slowdown), status_code=201)

    @router.delete("/slowdowns")
    def clear_slowdowns() -> dict:
        return {"cleared": store.slowdowns.clear()}

    @router.get("/requests")
    def requests_log() -> list:
        """Vendor requests in arrival order; `at` is when each arrived, in seconds on the sandbox's monotonic clock."""
        with store.lock:
            return [{"method": m, "path": p, "query": q, "at": at}
                    for (m, p, q), at in zip(store.requests_log, store.request_times)]

    @router.delete("/requests")
    def clear_requests() -> dict:
        with store.lock:
            cleared = len(store.requests_log)
            store.clear_requests_log()
        return {"cleared": cleared}

    @router.get("/writes")
    def writes_log() -> list:
        with store.lock:
            return list(store.writes_log)

    @router.delete("/writes")
    def clear_writes() -> dict:
        with store.lock:
            cleared = len(store.writes_log)
            store.writes_log.clear()
        return {"cleared": cleared}


def add_record_routes(router: APIRouter, store: Any, known: Callable[[str], None]) -> None:
    """The record controls both dialects share: read, add, spawn, touch or delete a sample, delete one (`known` raises
    KeyError for an entity the store does not have). Updating and deactivating differ per dialect."""

    @router.get("/records/{entity}/{record_id}")
    def get_record(entity: str, record_id: str) -> Response:
        try:
            known(entity)
            record = store.get(entity, int(record_id))
        except (KeyError, ValueError) as exc:
            return _problem(404 if isinstance(exc, KeyError) else 400, exc)
        return JSONResponse(record) if record is not None else _problem(404, f"{entity} {record_id} not found")

    @router.post("/records/{entity}")
    async def add_record(entity: str, request: Request) -> Response:
        try:
            known(entity)
            body = await _json_body(request)
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object (the record)")
            return JSONResponse(store.add(entity, body, _at(request)), status_code=201)
        except KeyError as exc:
            return _problem(404, exc)
        except ValueError as exc:
            return _problem(400, exc)

    @router.post("/records/{entity}/spawn")
    async def spawn_records(entity: str, request: Request) -> Response:
        try:
            known(entity)
            body = await _json_body(request) or {}
            return JSONResponse(store.spawn(entity, int(body.get("count", 1)), _at(request)), status_code=201)
        except KeyError as exc:
            return _problem(404, exc)
        except (ValueError, AttributeError) as exc:
            return _problem(400, exc)

    @router.post("/records/{entity}/sample/{action}")
    async def change_sample(entity: str, action: str, request: Request) -> Response:
        """Touch or delete a reproducible random share of an entity's records: {"share": 0.01, "seed": 5}."""
        try:
            known(entity)
            body = await _json_body(request) or {}
            if action not in ("touch", "delete") or not isinstance(body, dict):
                raise ValueError('use /sample/touch or /sample/delete with a JSON object {"share": 0.01}')
            share, seed = float(body.get("share", 0.01)), int(body.get("seed", 5))
            if action == "touch":
                changed = store.touch_sample(entity, share, seed, _at(request))
            else:
                changed = store.delete_sample(entity, share, seed)
        except KeyError as exc:
            return _problem(404, exc)
        except (ValueError, TypeError) as exc:
            return _problem(400, exc)
        return JSONResponse({"entity": entity, "action": action, "count": len(changed), "ids": changed})

    @router.delete("/records/{entity}/{record_id}")
    def delete_record(entity: str, record_id: str) -> Response:
        try:
            known(entity)
            store.delete(entity, int(record_id))
        except KeyError as exc:
            return _problem(404, exc)
        except ValueError as exc:
            return _problem(400, exc)
        return Response(status_code=204)
