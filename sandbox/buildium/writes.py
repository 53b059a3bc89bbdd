"""The writes of the work-order push: POST and PUT /v1/workorders and PUT /v1/tasks/todorequests/{id} (a work
order's title, status and priority live on its task; a to-do update is a line of the task's history, read by GET
/v1/tasks/{id}/history), validated as the spec's request schemas say."""

from __future__ import annotations

import itertools
import json
import time
from datetime import date
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ..clock import format_datetime
from .constants import OTHER_STAFF_USER_IDS, SANDBOX_STAFF_USER_ID
from .errors import api_error
from .shapes import ENTRY_ALLOWED, TASK_PRIORITIES, TASK_STATUSES

if TYPE_CHECKING:
    from .server import BuildiumApi

STAFF_USER_IDS = (SANDBOX_STAFF_USER_ID,) + OTHER_STAFF_USER_IDS
INT32 = (-2**31, 2**31 - 1)
WORK_ORDER_FIELDS = {
    "WorkDetails": ("string", None), "InvoiceNumber": ("string", None), "ChargeableTo": ("string", None),
    "EntryAllowed": ("enum", ENTRY_ALLOWED), "EntryNotes": ("string", None), "VendorId": ("int", None),
    "VendorNotes": ("string", None), "EntryContactId": ("int", None), "EntryContactIds": ("ints", None),
    "LineItems": ("lines", None),
}
"""WorkOrderPutMessage (and WorkOrderPostMessage without its task): field -> (kind, enum values)."""
TASK_FIELDS = {"Title": ("title", None), "DueDate": ("date", None), "Priority": ("enum", TASK_PRIORITIES),
               "Status": ("enum", TASK_STATUSES), "PropertyId": ("int", None), "UnitId": ("int", None),
               "AssignedToUserId": ("int", None)}
TODO_FIELDS = {"Title": ("title", None), "Message": ("string", None), "CategoryId": ("int", None),
               "SubCategoryId": ("int", None), "PropertyId": ("int", None), "UnitId": ("int", None),
               "AssignedToUserId": ("int", None), "TaskStatus": ("enum", TASK_STATUSES),
               "Priority": ("enum", TASK_PRIORITIES), "DueDate": ("date", None)}


class BadRequest(ValueError):
    """The body breaks the request schema (400) or names records that do not exist (422)."""

    def __init__(self, status: int, key: str, message: str):
        super().__init__(message)
        self.status, self.key = status, key


def _checked(value: Any, kind: str, choices: tuple | None, key: str) -> Any:
    """The value if it fits the field's schema (null is allowed except where required); BadRequest(400) otherwise."""
    if value is None:
        return None
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "int" and not (is_int and INT32[0] <= value <= INT32[1]):
        raise BadRequest(400, key, f"{key} must be a 32-bit integer, got {value!r}.")
    if kind in ("string", "title") and not isinstance(value, str):
        raise BadRequest(400, key, f"{key} must be a string, got {value!r}.")
    if kind == "title" and not value:
        raise BadRequest(400, key, f"{key} must not be empty.")
    if kind == "enum":
        match = next((c for c in choices if isinstance(value, str) and c.lower() == value.lower()), None)
        if match is None:
            raise BadRequest(400, key, f"{key} must be one of {', '.join(choices)}, got {value!r}.")
        return match
    if kind == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            raise BadRequest(400, key, f"{key} must be a date (yyyy-MM-dd), got {value!r}.") from None
    if kind == "ints" and not (isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise BadRequest(400, key, f"{key} must be an array of integers, got {value!r}.")
    if kind == "lines":
        if not isinstance(value, list) or not all(isinstance(line, dict) for line in value):
            raise BadRequest(400, key, f"{key} must be an array of line items.")
        for index, line in enumerate(value):
            for number in ("Quantity", "UnitPrice"):
                if isinstance(line.get(number), bool) or not isinstance(line.get(number), (int, float)):
                    raise BadRequest(400, f"{key}[{index}].{number}", f"{key}[{index}].{number} is required (a number).")
        return [{"GlAccountId": _checked(line.get("GlAccountId"), "int", None, f"{key}[{i}].GlAccountId"),
                 "Quantity": float(line["Quantity"]), "Memo": _checked(line.get("Memo"), "string", None, f"{key}[{i}].Memo"),
                 "UnitPrice": float(line["UnitPrice"])} for i, line in enumerate(value)]
    return value


def _fields(body: dict, spec: dict, required: tuple[str, ...], prefix: str = "") -> dict:
    for name in required:
        if body.get(name) is None:
            raise BadRequest(400, prefix + name, f"{prefix}{name} is required.")
    return {name: _checked(body.get(name), kind, choices, prefix + name) for name, (kind, choices) in spec.items()}


class WorkOrderWrites:
    def __init__(self, api: BuildiumApi):
        self.api, self.store = api, api.store
        self._history_ids = itertools.count(1)

    def _exists(self, entity: str, record_id: int | None, key: str, what: str) -> None:
        if record_id is not None and record_id not in self.store.table(entity).by_id:
            raise BadRequest(422, key, f"{what} {record_id} does not exist.")

    def _place(self, fields: dict, prefix: str, current: dict | None = None) -> dict | None:
        """The task's Property (rental or association) from PropertyId and UnitId, checked as the spec says: the
        property must be active and the unit the property's. The spec's PropertyId has no type and this sandbox
        repeats ids across kinds: an id both kinds have is the rental's, unless it is the task's `current` property
        (a PUT naming the property the task has keeps it)."""
        property_id, unit_id = fields.get("PropertyId"), fields.get("UnitId")
        if property_id is None:
            if unit_id is not None:
                raise BadRequest(422, prefix + "UnitId", f"{prefix}UnitId needs {prefix}PropertyId (the unit's property).")
            return None
        kinds = [("Rental", "rentals", "rentalunits", "PropertyId"),
                 ("Association", "associations", "associationunits", "AssociationId")]
        if current and current.get("Id") == property_id:
            kinds.sort(key=lambda kind: kind[0] != current.get("Type"))
        for kind, properties, units, link in kinds:
            found = self.store.table(properties).by_id.get(property_id)
            if found is not None:
                unit = self.store.table(units).by_id.get(unit_id) if unit_id is not None else None
                if unit_id is None or (unit is not None and unit[link] == property_id):
                    if found.get("IsActive") is False:
                        raise BadRequest(422, prefix + "PropertyId", f"{prefix}PropertyId {property_id} is an inactive "
                                         f"{kind.lower()}: the assigned property must be active.")
                    return {"Id": property_id, "Type": kind, "Href": None}
        raise BadRequest(422, prefix + "PropertyId",
                         f"{prefix}PropertyId {property_id} is not a rental or association"
                         + (f" with unit {unit_id}." if unit_id is not None else "."))

    def _assignee(self, user_id: int | None, key: str) -> None:
        if user_id is not None and user_id not in STAFF_USER_IDS:
            raise BadRequest(422, key, f"{key} {user_id} is not a staff user of this account.")

    def _work_order_fields(self, body: dict) -> dict:
        fields = _fields(body, WORK_ORDER_FIELDS, ("EntryAllowed", "VendorId"))
        self._exists("vendors", fields["VendorId"], "VendorId", "Vendor")
        lines = fields.pop("LineItems") or []
        return {**fields, "LineItems": lines, "EntryContactIds": fields["EntryContactIds"] or [],
                "Amount": round(sum(line["Quantity"] * line["UnitPrice"] for line in lines), 2)}

    def create(self, body: dict) -> tuple[int, dict]:
        fields = self._work_order_fields(body)
        if (body.get("TaskId") is None) == (body.get("Task") is None):
            raise BadRequest(400, "TaskId", "Give either TaskId (an existing task) or Task (a new one), not both.")
        now = int(time.time())
        with self.store.lock:
            if body.get("TaskId") is not None:
                task_id = _checked(body["TaskId"], "int", None, "TaskId")
                self._exists("tasks", task_id, "TaskId", "Task")
            else:
                if not isinstance(body["Task"], dict):
                    raise BadRequest(400, "Task", "Task must be an object.")
                task_fields = _fields(body["Task"], TASK_FIELDS, ("Title", "Priority", "Status", "AssignedToUserId"),
                                      "Task.")
                self._assignee(task_fields["AssignedToUserId"], "Task.AssignedToUserId")
                task = {"TaskType": "Todo", "Category": None, "Title": task_fields["Title"], "Description": None,
                        "Property": self._place(task_fields, "Task."), "UnitId": task_fields["UnitId"],
                        "UnitAgreement": None, "RequestedByUserEntity": None,
                        "AssignedToUserId": task_fields["AssignedToUserId"], "TaskStatus": task_fields["Status"],
                        "Priority": task_fields["Priority"], "DueDate": task_fields["DueDate"],
                        "CreatedDateTime": format_datetime(now), "LastUpdatedDateTime": format_datetime(now)}
                task_id = self.store.add("tasks", task)["Id"]
            record = self.store.add("workorders", {
                "_task_id": task_id, "EntryContact": None, "EntryContacts": [], "BillTransactionId": None,
                "BillTransactionIds": [], **{k: v for k, v in fields.items() if k not in ("EntryContactId", "EntryContactIds")}})
            return 201, self.api.public("workorders", self.store.table("workorders").by_id[record["Id"]])

    def replace(self, work_order_id: int, body: dict) -> tuple[int, dict]:
        with self.store.lock:
            if work_order_id not in self.store.table("workorders").by_id:
                raise BadRequest(404, "workOrderId", f"Work order with id {work_order_id} does not exist.")
            fields = self._work_order_fields(body)
            self.store.update("workorders", work_order_id,
                              **{k: v for k, v in fields.items() if k not in ("EntryContactId", "EntryContactIds")})
            return 200, self.api.public("workorders", self.store.table("workorders").by_id[work_order_id])

    def todo(self, task_id: int) -> dict:
        task = self.store.table("tasks").by_id.get(task_id)
        if task is None or task.get("TaskType") != "Todo":
            raise BadRequest(404, "toDoTaskId", f"To-do task with id {task_id} does not exist.")
        shown = self.api.public("tasks", task)
        return {key: shown.get(key) for key in ("Id", "Category", "Title", "Description", "Property", "UnitId",
                                                "AssignedToUserId", "TaskStatus", "Priority", "DueDate",
                                                "CreatedDateTime", "LastUpdatedDateTime")}

    def replace_todo(self, task_id: int, body: dict) -> tuple[int, dict]:
        """The task replaced by the ToDoTaskPutMessage (its Description stays: the put has none); the update, its
        Message included, is a new line of the task's history; the task's work orders count as updated."""
        with self.store.lock:
            self.todo(task_id)
            fields = _fields(body, TODO_FIELDS, ("AssignedToUserId", "Priority", "TaskStatus", "Title"))
            self._assignee(fields["AssignedToUserId"], "AssignedToUserId")
            category = None if fields["CategoryId"] is None else {
                "Id": fields["CategoryId"], "Name": None, "Href": None,
                "SubCategory": None if fields["SubCategoryId"] is None else {"Id": fields["SubCategoryId"], "Name": None}}
            history = list(self.store.table("tasks").by_id[task_id].get("_history") or [])
            now = format_datetime(int(time.time()))
            staff = {"Id": SANDBOX_STAFF_USER_ID, "FirstName": "Integration", "LastName": "User", "Href": None,
                     "UserType": "Staff"}
            history.append({"Id": next(self._history_ids), "Priority": fields["Priority"],
                            "TaskStatus": fields["TaskStatus"], "AssignedToUserId": fields["AssignedToUserId"],
                            "DueDate": fields["DueDate"], "Message": fields["Message"], "SharedWith": [],
                            "FileIds": [], "CreatedDateTIme": now, "CreatedByUser": staff,
                            "LastUpdatedDateTime": now, "LastUpdatedByUser": staff})
            self.store.update("tasks", task_id, Title=fields["Title"], Category=category,
                              Property=self._place(fields, "", self.store.table("tasks").by_id[task_id].get("Property")),
                              UnitId=fields["UnitId"],
                              AssignedToUserId=fields["AssignedToUserId"], TaskStatus=fields["TaskStatus"],
                              Priority=fields["Priority"], DueDate=fields["DueDate"], _history=history)
            orders = self.store.table("workorders").by_id
            for order_id in [i for i, order in orders.items() if order.get("_task_id") == task_id]:
                self.store.update("workorders", order_id)
            return 200, self.todo(task_id)

    def history(self, task_id: int, offset: int, limit: int) -> tuple[list[dict], int]:
        """A page of the task's history (oldest first) and its total; 404 for a task that does not exist."""
        task = self.store.table("tasks").by_id.get(task_id)
        if task is None:
            raise BadRequest(404, "taskId", f"Task with id {task_id} does not exist.")
        entries = task.get("_history") or []
        return [dict(entry) for entry in entries[offset: offset + limit]], len(entries)


def _paging(request: Request) -> tuple[int, int]:
    """offset (from 0) and limit (1–1000, default 50) of a list request; BadRequest(400) naming a bad one."""
    values = {}
    for name, default, low, high in (("offset", 0, 0, INT32[1]), ("limit", 50, 1, 1000)):
        raw = request.query_params.get(name)
        try:
            values[name] = default if raw is None else int(raw)
        except ValueError:
            raise BadRequest(400, name, f"{name} must be an integer, got {raw!r}.") from None
        if not low <= values[name] <= high:
            raise BadRequest(400, name, f"{name} must be from {low} to {high}, got {values[name]}.")
    return values["offset"], values["limit"]


def add_write_routes(app: FastAPI, api: BuildiumApi) -> None:
    writes = WorkOrderWrites(api)

    async def handle(request: Request, path: str, action) -> Response:
        raw = await request.body()
        refused = api.refuse(request, path)
        if refused is not None:
            response = refused
        elif request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            response = api_error(415, "Set the Content-Type header to application/json.")
        else:
            try:
                body = json.loads(raw)
                if not isinstance(body, dict):
                    raise BadRequest(400, "body", "The request body must be a JSON object.")
                status, payload = action(body)
                response = api.finish(request, path, payload, status=status)
            except json.JSONDecodeError as exc:
                response = api_error(400, f"The request body is not valid JSON: {exc.msg}.", [("body", exc.msg)])
            except BadRequest as exc:
                response = api_error(exc.status, str(exc), [(exc.key, str(exc))])
        api.store.log_write(request.method, path, raw, response.status_code)
        return response

    def identifier(request: Request, name: str) -> int:
        try:
            return int(request.path_params[name])
        except ValueError:
            raise BadRequest(400, name, f"{name} must be an integer.") from None

    async def post_work_order(request: Request) -> Response:
        return await handle(request, "/v1/workorders", writes.create)

    async def put_work_order(request: Request) -> Response:
        try:
            work_order_id = identifier(request, "workOrderId")
        except BadRequest as exc:
            return api_error(400, str(exc), [(exc.key, str(exc))])
        return await handle(request, request.url.path, lambda body: writes.replace(work_order_id, body))

    async def get_todo(request: Request) -> Response:
        refused = api.refuse(request, request.url.path)
        if refused is not None:
            return refused
        try:
            return api.finish(request, request.url.path, writes.todo(identifier(request, "toDoTaskId")))
        except BadRequest as exc:
            return api_error(exc.status, str(exc), [(exc.key, str(exc))])

    async def put_todo(request: Request) -> Response:
        try:
            task_id = identifier(request, "toDoTaskId")
        except BadRequest as exc:
            return api_error(400, str(exc), [(exc.key, str(exc))])
        return await handle(request, request.url.path, lambda body: writes.replace_todo(task_id, body))

    async def get_history(request: Request) -> Response:
        refused = api.refuse(request, request.url.path)
        if refused is not None:
            return refused
        try:
            task_id = identifier(request, "taskId")
            offset, limit = _paging(request)
            with api.store.lock:
                entries, total = writes.history(task_id, offset, limit)
        except BadRequest as exc:
            return api_error(exc.status, str(exc), [(exc.key, str(exc))])
        return api.finish(request, request.url.path, entries, {"X-Total-Count": str(total)})

    app.add_api_route("/v1/tasks/{taskId}/history", get_history, methods=["GET"])
    app.add_api_route("/v1/workorders", post_work_order, methods=["POST"])
    app.add_api_route("/v1/workorders/{workOrderId}", put_work_order, methods=["PUT"])
    app.add_api_route("/v1/tasks/todorequests/{toDoTaskId}", get_todo, methods=["GET"])
    app.add_api_route("/v1/tasks/todorequests/{toDoTaskId}", put_todo, methods=["PUT"])
