"""Work-order write endpoints the vendor spec offers (create, close, custom fields, tasks, comments), each logged."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from fastapi import Request
from fastapi.responses import Response

from .clock import now_text, parse_date_param
from .constants import BASE_PATH, SANDBOX_INTEGRATION_USER
from .errors import error_response

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .server import VendorApi

SAVE_WORK_ORDER_FIELDS = {
    "authorizeEnter": str, "buildingID": int, "category": str, "costEstimate": (int, float), "dateToEnter": str,
    "description": str, "hourEstimate": (int, float), "hourToEnter": int, "minuteToEnter": int, "priority": str,
    "publishToOwnerPortal": bool, "publishToTenantPortal": bool, "requestedBy": int, "requiredMaterials": str,
    "scheduledEndDate": str, "searchTag": str, "source": str, "specificLocation": str, "startDate": str,
    "type": str, "unitIDs": list,
}
SAVE_TASK_FIELDS = {"completed": bool, "delegates": str, "description": str, "dueDate": str, "isPrivate": bool,
                    "starred": bool, "tags": str}
CLOSE_FIELDS = {"category": str, "comments": str, "completedDate": str, "startDate": str, "timeCardEntry": list}
PRIORITIES = ("HIGH", "MEDIUM", "LOW")


class Rejected(Exception):
    """A write the vendor would answer with 400 or 404; `key` names the field."""

    def __init__(self, status: int, message: str, key: str = "body"):
        super().__init__(message)
        self.status, self.message, self.key = status, message, key


def _checked(body: Any, fields: dict[str, Any], required: tuple[str, ...], schema: str) -> dict:
    if not isinstance(body, dict):
        raise Rejected(400, f"The request body must be a JSON {schema} object.")
    for name, value in body.items():
        if name not in fields:
            raise Rejected(400, f"Unrecognized field '{name}' in {schema}.", name)
        kind = fields[name]
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise Rejected(400, f"Field '{name}' of {schema} has the wrong type.", name)
    for name in required:
        if body.get(name) in (None, ""):
            raise Rejected(400, f"Field '{name}' is required.", name)
    for name in ("dateToEnter", "scheduledEndDate", "startDate", "dueDate", "completedDate"):
        if isinstance(body.get(name), str):
            try:
                parse_date_param(body[name])
            except ValueError:
                raise Rejected(400, f"Field '{name}' must be a date (YYYY-MM-DD).", name) from None
    return body


class WorkOrderWrites:
    """Handlers for the work-order writes; tasks live in the store's `work_order_tasks` (work order id -> tasks)."""

    def __init__(self, api: VendorApi):
        self.api = api
        self.store = api.store

    def _work_order(self, raw_id: str, param: str) -> dict:
        try:
            record_id = int(raw_id)
        except ValueError:
            raise Rejected(400, f"Parameter '{param}' must be an integer, got '{raw_id}'.", param) from None
        record = self.store.table("workorders").by_id.get(record_id)
        if record is None:
            raise Rejected(404, f"Work order {record_id} not found.", param)
        return record

    def create(self, body: Any, params: dict[str, str]) -> tuple[int, Any]:
        body = _checked(body, SAVE_WORK_ORDER_FIELDS, ("buildingID",), "SaveWorkOrder")
        building = self.store.table("buildings").by_id.get(body["buildingID"])
        if building is None or building.get("active") is False:
            raise Rejected(400, f"Building {body['buildingID']} does not exist or is deactivated.", "buildingID")
        if body.get("priority") is not None and body["priority"] not in PRIORITIES:
            raise Rejected(400, f"Priority must be one of {', '.join(PRIORITIES)}.", "priority")
        unit_ids = body.get("unitIDs") or []
        units = self.store.table("units").by_id
        for unit_id in unit_ids:
            if not isinstance(unit_id, int) or units.get(unit_id, {}).get("buildingID") != building["id"]:
                raise Rejected(400, f"Unit {unit_id} is not a unit of building {building['id']}.", "unitIDs")
        number = 1 + max((w.get("number") or 0 for w in self.store.table("workorders").by_id.values()), default=1000)
        record = {key: value for key, value in body.items() if value is not None and key != "unitIDs"}
        record.update({"number": number, "portfolioID": building.get("portfolioID"), "status": "Open",
                       "managedBy": SANDBOX_INTEGRATION_USER, "createdBy": SANDBOX_INTEGRATION_USER,
                       "lastModifiedBy": SANDBOX_INTEGRATION_USER})
        if unit_ids:
            record["unitID"] = unit_ids[0]
        if "requestedBy" in record:
            record["requestedBy"] = self._person_name(record["requestedBy"])
        return 201, self.store.add("workorders", record)

    def _person_name(self, contact_id: int) -> str:
        """The work order answer names the reporter (the save body gives a contact id)."""
        for lease in self.store.table("leases").by_id.values():
            for contact in lease.get("contacts") or ():
                if contact.get("id") == contact_id:
                    return f"{contact.get('firstName', '')} {contact.get('lastName', '')}".strip()
        return str(contact_id)

    def close(self, body: Any, params: dict[str, str]) -> tuple[int, Any]:
        record = self._work_order(params["workOrderID"], "workOrderID")
        body = _checked(body, CLOSE_FIELDS, ("timeCardEntry",), "CloseWorkOrder")
        changes = {"status": "Closed", "completedDate": body.get("completedDate") or now_text()[:10]}
        if body.get("category"):
            changes["category"] = body["category"]
        self.store.update("workorders", record["id"], **changes)
        return 200, {"statusCode": "200"}

    def custom_fields(self, body: Any, params: dict[str, str]) -> tuple[int, Any]:
        body = _checked(body, {"entityId": int, "fieldSet": list}, ("entityId", "fieldSet"), "SaveCustomField")
        record = self._work_order(str(body["entityId"]), "entityId")
        fields = {f["fieldName"]: f for f in record.get("customFields") or []}
        for item in body["fieldSet"]:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "value" not in item:
                raise Rejected(400, "Each fieldSet item needs a name and a value.", "fieldSet")
            fields[item["name"]] = {"fieldName": item["name"], "value": str(item["value"]), "dataType": "TEXT"}
        self.store.update("workorders", record["id"], customFields=list(fields.values()))
        return 200, {"statusCode": "200"}

    def add_task(self, body: Any, params: dict[str, str]) -> tuple[int, Any]:
        record = self._work_order(params["workOrderId"], "workOrderId")
        body = _checked(body, SAVE_TASK_FIELDS, ("description",), "SaveWorkOrderTask")
        stamp = now_text()
        task = {"id": self.store.next_task_id(), "description": body["description"], "tags": body.get("tags"),
                "completed": bool(body.get("completed")), "privateTask": bool(body.get("isPrivate")),
                "starred": bool(body.get("starred")), "dueDate": body.get("dueDate"), "delegates": body.get("delegates"),
                "createdBy": SANDBOX_INTEGRATION_USER, "createdDateTime": stamp,
                "lastModifiedBy": SANDBOX_INTEGRATION_USER, "lastModifiedDateTime": stamp, "comments": []}
        self.store.work_order_tasks.setdefault(record["id"], []).append(task)
        self.store.update("workorders", record["id"])
        return 201, _public_task(task)

    def add_comment(self, body: Any, params: dict[str, str]) -> tuple[int, Any]:
        record = self._work_order(params["workOrderId"], "workOrderId")
        task = self._task(record["id"], params["taskId"])
        body = _checked(body, {"text": str}, ("text",), "SaveComment")
        task["comments"].append({"id": self.store.next_task_id(), "text": body["text"], "createdDateTime": now_text()})
        task["lastModifiedDateTime"] = now_text()
        self.store.update("workorders", record["id"])
        return 201, _public_task(task)

    def _task(self, work_order_id: int, raw_id: str) -> dict:
        for task in self.store.work_order_tasks.get(work_order_id, []):
            if str(task["id"]) == raw_id:
                return task
        raise Rejected(404, f"Task {raw_id} of work order {work_order_id} not found.", "taskId")

    def list_tasks(self, request: Request) -> Response:
        path = request.url.path[len(BASE_PATH):]
        refused = self.api.refuse(request, path)
        if refused is not None:
            return refused
        try:
            with self.store.lock:
                record = self._work_order(request.path_params["workOrderId"], "workOrderId")
                tasks = [_public_task(t) for t in self.store.work_order_tasks.get(record["id"], [])]
        except Rejected as rejected:
            return error_response(rejected.status, rejected.message, [{"key": rejected.key, "message": rejected.message}])
        offset, limit = int(request.query_params.get("offset", 0)), int(request.query_params.get("limit", 100))
        page = [self.api.render(t) for t in tasks[offset: offset + min(limit, 500)]]
        return self.api.finish(request, path, page, {"X-Total-Count": str(len(tasks))})

    def _answer(self, handler: Callable[[Any, dict[str, str]], tuple[int, Any]], raw: bytes,
                params: dict[str, str]) -> Response:
        try:
            body = json.loads(raw or b"null")
            with self.store.lock:
                status, payload = handler(body, params)
        except json.JSONDecodeError:
            return error_response(400, "The request body is not valid JSON.")
        except Rejected as rejected:
            return error_response(rejected.status, rejected.message, [{"key": rejected.key, "message": rejected.message}])
        return Response(json.dumps(self.api.render(payload)), status_code=status, media_type="application/json")

    def endpoint(self, handler: Callable[[Any, dict[str, str]], tuple[int, Any]]) -> Callable:
        async def write(request: Request) -> Response:
            path = request.url.path[len(BASE_PATH):]
            raw = await request.body()
            response = self.api.refuse(request, path) or self._answer(handler, raw, dict(request.path_params))
            self.store.log_write(request.method, path, raw, response.status_code)
            return response

        write.__name__ = handler.__name__
        return write


def _public_task(task: dict) -> dict:
    return {key: value for key, value in task.items() if key != "comments"}


def add_work_order_write_routes(app: FastAPI, api: VendorApi) -> None:
    """Only what the vendor spec has: there is no general PUT /workorders/{id}."""
    writes = WorkOrderWrites(api)
    routes = (
        ("POST", "/workorders", writes.create),
        ("PUT", "/workorders/closeworkorder/{workOrderID}", writes.close),
        ("PUT", "/workorders/customfields", writes.custom_fields),
        ("POST", "/workorders/{workOrderId}/tasks", writes.add_task),
        ("POST", "/workorders/{workOrderId}/tasks/{taskId}/comments", writes.add_comment),
    )
    for method, route, handler in routes:
        app.add_api_route(BASE_PATH + route, writes.endpoint(handler), methods=[method])
    app.add_api_route(BASE_PATH + "/workorders/{workOrderId}/tasks", writes.list_tasks, methods=["GET"])
