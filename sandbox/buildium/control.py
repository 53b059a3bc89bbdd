"""Test controls of the Buildium sandbox under /_sandbox (no auth), on the same paths as the Propertyware
sandbox's: health, faults, slowdowns, request and write logs, record changes, and the rate limit."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..control import _at, _json_body, _problem, add_traffic_routes
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
        """Touch (mark changed now, or ?at=) or delete a reproducible share of records: {"share": 0.01, "seed": 5}."""
        try:
            known(entity)
            body = await _json_body(request) or {}
            if action not in ("touch", "delete") or not isinstance(body, dict):
                raise ValueError('use /sample/touch or /sample/delete with a JSON object {"share": 0.01}')
            share, seed = float(body.get("share", 0.01)), int(body.get("seed", 5))
            changed = (store.touch_sample(entity, share, seed, _at(request)) if action == "touch"
                       else store.delete_sample(entity, share, seed))
        except KeyError as exc:
            return _problem(404, exc)
        except (ValueError, TypeError) as exc:
            return _problem(400, exc)
        return JSONResponse({"entity": entity, "action": action, "count": len(changed), "ids": changed})

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

    return router
