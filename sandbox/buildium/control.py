"""Test controls of the Buildium sandbox under /_sandbox (no auth), on the same paths as the Propertyware
sandbox's: health, faults, slowdowns, request and write logs, record changes (a record left out of its listing too),
and the rate limit."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..control import _at, _json_body, _problem, add_record_routes, add_traffic_routes
from .constants import CONTROL_PATH, ENTITIES
from .store import BuildiumStore


def buildium_control_router(store: BuildiumStore) -> APIRouter:
    router = APIRouter(prefix=CONTROL_PATH)

    def known(entity: str) -> None:
        if entity not in ENTITIES:
            raise KeyError(f"unknown entity {entity!r}; expected one of {', '.join(ENTITIES)}")

    @router.get("/health")
    def health() -> dict:
        return {"status": "ok", "dialect": "buildium", "version": store.version,
                "counts": {e: store.count(e) for e in ENTITIES}, "most_in_flight": store.most_in_flight,
                "rate_limit": store.rate_limit, "rate_limited": store.rate_limited}

    add_traffic_routes(router, store)
    add_record_routes(router, store, known)

    @router.put("/ratelimit")
    async def set_rate_limit(request: Request) -> Response:
        """{"per_second": 10} per client id, or {"per_second": null} for none."""
        try:
            body = await _json_body(request)
            if not isinstance(body, dict) or "per_second" not in body:
                raise ValueError('body must be {"per_second": N} (null: no limit)')
            limit = body["per_second"]
            if limit is not None and (not isinstance(limit, int) or limit < 1):
                raise ValueError("per_second must be a positive integer or null")
        except ValueError as exc:
            return _problem(400, exc)
        store.rate_limit = limit
        return JSONResponse({"per_second": limit})

    @router.patch("/records/{entity}/{record_id}")
    async def update_record(entity: str, record_id: str, request: Request) -> Response:
        try:
            known(entity)
            body = await _json_body(request)
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object of the fields to change")
            return JSONResponse(store.update(entity, int(record_id), _at(request), **body))
        except KeyError as exc:
            return _problem(404, exc)
        except ValueError as exc:
            return _problem(400, exc)

    @router.post("/records/{entity}/{record_id}/deactivate")
    def deactivate_record(entity: str, record_id: str, request: Request) -> Response:
        try:
            known(entity)
            return JSONResponse(store.deactivate(entity, int(record_id), _at(request)))
        except KeyError as exc:
            return _problem(404, exc)
        except ValueError as exc:
            return _problem(400, exc)

    @router.post("/records/{entity}/{record_id}/unlist")
    def unlist_record(entity: str, record_id: str) -> Response:
        """Leave a record (e.g. a unit) out of its listing while GET by id still answers it; DELETE
        /records/{entity}/{id} removes one for good (listing and GET, 404), as a Buildium deletion does."""
        try:
            known(entity)
            store.unlist(entity, int(record_id))
        except KeyError as exc:
            return _problem(404, exc)
        except ValueError as exc:
            return _problem(400, exc)
        return JSONResponse({"entity": entity, "id": int(record_id), "listed": False})

    return router
