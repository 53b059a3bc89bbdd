"""Buildium work-order writes: a work order created with its to-do task, changes by GET-modify-PUT (title, status and
priority on the task), notes as task updates, and the look-ups a retry makes before it sends again."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from pmsync.source.buildium.dialect import format_day, record_path
from pmsync.source.buildium.parts import ASSOCIATION
from pmsync.source.buildium.work_orders import marker_in, with_marker
from pmsync.source.errors import SourceDataError, SourceRequestRejected
from pmsync.source.protocol import PresenceRecord, PushedWorkOrder
from schemas.source_values import Int32

if TYPE_CHECKING:
    from pmsync.source.buildium.client import BuildiumClient

log = logging.getLogger("pmsync.push")

WORK_ORDERS, TASKS, TO_DOS, RENTALS = "/v1/workorders", "/v1/tasks", "/v1/tasks/todorequests", "/v1/rentals"
ENTITY, TASK = "work order", "task"
LOOKUP = "pushed work order"
"""The entity name of the push's own work-order listing: the client lists it as it is, not joined with the tasks."""
TITLE_LIMIT = 127
"""The spec: a task title cannot exceed 127 characters."""
PRIORITIES = {"high": "High", "medium": "Normal", "normal": "Normal", "low": "Low"}
STATUSES = {"open": "New", "new": "New", "inprogress": "InProgress", "completed": "Completed",
            "complete": "Completed", "deferred": "Deferred", "closed": "Closed"}
"""The platform's priorities and statuses (HIGH/MEDIUM/LOW; Open, or a source's own) → the task's enums."""
TASK_FIELDS = frozenset({"title", "status", "priority"})
WORK_ORDER_FIELDS = frozenset({"description"})
"""The platform's work-order columns a change can send: the task's, and the work order's own (WorkDetails)."""


class _ListedWorkOrder(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int = Field(alias="Id")
    WorkDetails: str | None = None


class _Rental(PresenceRecord):
    id: Int32 = Field(alias="Id")


class _HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int = Field(alias="Id")
    Message: str | None = None


def task_priority(priority: str | None) -> str:
    """The task's Priority for the platform's (none: Normal); a refusal naming the values it takes otherwise."""
    return _enum(priority, PRIORITIES, "Normal", "priority", "HIGH, MEDIUM or LOW")


def task_status(status: str | None) -> str:
    """The task's TaskStatus for the platform's status (none or Open: New); a refusal naming the values otherwise."""
    return _enum(status, STATUSES, "New", "status", "Open, New, InProgress, Completed, Deferred or Closed")


def _enum(value: str | None, choices: Mapping[str, str], default: str, name: str, taken: str) -> str:
    if value is None or not value.strip():
        return default
    found = choices.get("".join(value.split()).replace("_", "").casefold())
    if found is None:
        raise SourceRequestRejected(
            f"{name} {value!r} has no Buildium counterpart; set it to one of {taken} on the platform "
            f"(`pmsync workorder update ID --{name} …`) and Sync Now", request="(not sent)", status=422)
    return found


def task_title(order: PushedWorkOrder) -> str:
    """The platform's title, else the description's first line, cut to the spec's 127 characters."""
    text = (getattr(order, "title", None) or "").strip()
    if not text:
        text = next((line.strip() for line in (order.description or "").splitlines() if line.strip()), "")
    if not text:
        text = "Work order"
    return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 1].rstrip() + "…"


def creation_body(order: PushedWorkOrder, marker: str, staff_user_id: int, vendor_id: int | None) -> dict[str, Any]:
    """A WorkOrderPostMessage with a new Task assigned to the staff user, on the platform's property and unit; the
    configured vendor; entry Unknown; the description in WorkDetails, the marker as its last line."""
    if vendor_id is None:
        raise SourceRequestRejected(
            "Buildium requires a vendor on every work order and the platform gave none: set PMSYNC_BUILDIUM_VENDOR_ID "
            "(or the integration block's vendor_id), then Sync Now", request="POST /v1/workorders (not sent)",
            status=422)
    task: dict[str, Any] = {
        "Title": task_title(order),
        "Priority": task_priority(order.priority),
        "Status": task_status(getattr(order, "status", None)),
        "AssignedToUserId": staff_user_id,
        "PropertyId": order.building_source_id,
    }
    if order.unit_source_id is not None:
        task["UnitId"] = order.unit_source_id
    return {"Task": task, "VendorId": vendor_id, "EntryAllowed": "Unknown",
            "WorkDetails": with_marker(order.description, marker)}


def replacement_body(current: Mapping[str, Any], vendor_id: int | None) -> dict[str, Any]:
    """A WorkOrderPutMessage carrying every field of the work order as read (PUT replaces the whole record; a field
    read empty is left out, which the PUT reads as empty)."""
    contacts = [contact["Id"] for contact in current.get("EntryContacts") or () if isinstance(contact, dict)
                and isinstance(contact.get("Id"), int)]
    single = current.get("EntryContact") if isinstance(current.get("EntryContact"), dict) else {}
    body: dict[str, Any] = {
        name: current.get(name)
        for name in ("WorkDetails", "InvoiceNumber", "ChargeableTo", "EntryNotes", "VendorNotes")
    }
    body["EntryAllowed"] = current.get("EntryAllowed") or "Unknown"
    body["VendorId"] = current.get("VendorId") or vendor_id
    if contacts:
        body["EntryContactIds"] = contacts
    elif isinstance(single.get("Id"), int):
        body["EntryContactId"] = single["Id"]
    body["LineItems"] = [{name: line[name] for name in ("GlAccountId", "Quantity", "Memo", "UnitPrice")
                          if line.get(name) is not None}
                         for line in current.get("LineItems") or () if isinstance(line, dict)]
    return {name: value for name, value in body.items() if value is not None}


def task_replacement(task: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A ToDoTaskPutMessage carrying every field of the task as read (GET /v1/tasks/{id}), with `changes` over them."""
    category = task.get("Category") if isinstance(task.get("Category"), dict) else {}
    sub_category = category.get("SubCategory") if isinstance(category.get("SubCategory"), dict) else {}
    where = task.get("Property") if isinstance(task.get("Property"), dict) else {}
    body = {
        "Title": task.get("Title"),
        "CategoryId": category.get("Id"),
        "SubCategoryId": sub_category.get("Id"),
        "PropertyId": where.get("Id"),
        "UnitId": task.get("UnitId"),
        "AssignedToUserId": task.get("AssignedToUserId"),
        "TaskStatus": task.get("TaskStatus"),
        "Priority": task.get("Priority"),
        "DueDate": task.get("DueDate"),
        **changes,
    }
    return {name: value for name, value in body.items() if value is not None}


class BuildiumWorkOrders:
    """The push's view (pmsync.source.protocol.WorkOrderWriter, and WorkOrderUpdater) over Buildium's endpoints.

    The marker is the last line of the work order's WorkDetails (the delta sync adopts by it too) and of a task
    update's Message (a note): a creation is looked for among the work orders updated since, a note in the task's
    history. Field changes and completion are GET-modify-PUT, safe to send twice. Buildium work orders have no
    custom fields: they stay on the platform (logged)."""

    def __init__(self, client: BuildiumClient, staff_user_id: int, vendor_id: int | None) -> None:
        self.client, self.staff_user_id, self.vendor_id = client, staff_user_id, vendor_id

    def create(self, order: PushedWorkOrder, marker: str) -> int:
        body = creation_body(order, marker, self.staff_user_id, self.vendor_id)
        if order.building_kind == ASSOCIATION:
            self._check_association_id(order)
        return _id_of(self.client.send_write("POST", WORK_ORDERS, body, entity=ENTITY), f"POST {WORK_ORDERS}")

    def find_created(self, order: PushedWorkOrder, marker: str, since: datetime) -> int | None:
        """Among the work orders of the staff user's tasks updated since the day before (the filter takes a date,
        which the account may read in its own time zone)."""
        params = {"lastupdatedfrom": format_day(since - timedelta(days=1)), "assignedtoid": self.staff_user_id}
        for page in self.client.iter_pages(WORK_ORDERS, _ListedWorkOrder, entity=LOOKUP, params=params):
            for work_order in page.records:
                if marker_in(work_order.WorkDetails) == marker:
                    return work_order.id
        return None

    def update(self, order: PushedWorkOrder, fields: Collection[str]) -> None:
        """The platform's current title, status and priority onto the task, its description onto the work order's
        WorkDetails (its marker kept); other fields have no Buildium counterpart and stay on the platform."""
        current = self._work_order(order.source_id)  # type: ignore[arg-type]  (a change is sent once created)
        if set(fields) & TASK_FIELDS:
            changes: dict[str, Any] = {}
            if "title" in fields:
                changes["Title"] = task_title(order)
            if "status" in fields:
                changes["TaskStatus"] = task_status(getattr(order, "status", None))
            if "priority" in fields:
                changes["Priority"] = task_priority(order.priority)
            self._replace_task(_task_id(current, order.source_id), **changes)
        if set(fields) & WORK_ORDER_FIELDS:
            body = replacement_body(current, self.vendor_id)
            body["WorkDetails"] = _rewritten(current.get("WorkDetails"), order.description)
            self.client.send_write("PUT", record_path(WORK_ORDERS, order.source_id), body, entity=ENTITY)
        kept = sorted(set(fields) - TASK_FIELDS - WORK_ORDER_FIELDS)
        if kept:
            log.info("work order %s: %s kept on the platform only (Buildium's work orders and to-do tasks have no "
                     "such field)", order.source_id, ", ".join(kept))

    def add_note(self, source_id: int, text: str, marker: str) -> int | None:
        """A task update whose Message is the note, the marker as its last line (it lands in the task's history)."""
        self._replace_task(_task_id(self._work_order(source_id), source_id), Message=with_marker(text, marker))
        return None

    def find_note(self, source_id: int, marker: str) -> int | None:
        task_id = _task_id(self._work_order(source_id), source_id)
        path = f"{record_path(TASKS, task_id)}/history"
        for page in self.client.iter_pages(path, _HistoryEntry, entity="task history"):
            for entry in page.records:
                if marker_in(entry.Message) == marker:
                    return entry.id
        return None

    def close(self, source_id: int, completed_on: date | str | None, comments: str | None) -> None:
        """The task's status Completed, the completion date and comments as the update's Message; nothing when the
        task is Completed already (a resend after a lost answer)."""
        task_id = _task_id(self._work_order(source_id), source_id)
        task = self._task(task_id)
        if task.get("TaskStatus") == "Completed":
            return
        message = " ".join(part for part in (f"Completed on {completed_on}." if completed_on else "", comments or "")
                           if part) or None
        self._put_task(task_id, task_replacement(task, TaskStatus="Completed", Message=message))

    def set_custom_fields(self, source_id: int, fields: Mapping[str, str]) -> None:
        log.warning("work order %s: custom fields %s kept on the platform only: Buildium's work orders have no custom "
                    "fields", source_id, ", ".join(sorted(fields)))

    def _check_association_id(self, order: PushedWorkOrder) -> None:
        """An association's work order names the association as its task's PropertyId: the spec's property ids span
        rentals and associations (a property group lists "association and/or rental property unique identifiers") and
        the task's POST takes no type. Refused, unsent, when a rental of the account answers to that id too: Buildium
        could file the work order under the rental."""
        association = order.building_source_id
        if association is None or self.client.get_one(record_path(RENTALS, association), _Rental, entity="rental") is None:
            return
        raise SourceRequestRejected(
            f"work order {order.id} is on association {association}, but Buildium's task names its "
            f"property by Task.PropertyId alone (no rental or association type) and rental {association} of this "
            f"account has the same id, so Buildium could file it under the rental; create it in Buildium on association "
            f"{association}, its task assigned to the staff user {self.staff_user_id} (the delta sync brings it to the "
            "platform), and leave this one unsent", request=f"POST {WORK_ORDERS} (not sent)", status=422)

    def _work_order(self, source_id: int) -> dict[str, Any]:
        return self.client.read_object(record_path(WORK_ORDERS, source_id), ENTITY)

    def _task(self, task_id: int) -> dict[str, Any]:
        task = self.client.read_object(record_path(TASKS, task_id), TASK)
        if task.get("TaskType") not in (None, "Todo"):
            raise SourceRequestRejected(
                f"the work order's task {task_id} is a {task.get('TaskType')} request; pmsync changes only to-do "
                "tasks (the ones it creates): change it in Buildium", request=f"GET {TASKS}/{task_id}", status=422)
        return task

    def _replace_task(self, task_id: int, **changes: Any) -> None:
        self._put_task(task_id, task_replacement(self._task(task_id), **changes))

    def _put_task(self, task_id: int, body: dict[str, Any]) -> None:
        self.client.send_write("PUT", record_path(TO_DOS, task_id), body, entity=TASK)


def _rewritten(work_details: str | None, description: str | None) -> str:
    """The new description in WorkDetails, keeping the marker line the work order carries."""
    marker = marker_in(work_details)
    return with_marker(description, marker) if marker else (description or "")


def _task_id(work_order: Mapping[str, Any], source_id: int) -> int:
    task = work_order.get("Task")
    if isinstance(task, dict) and isinstance(task.get("Id"), int) and task["Id"] > 0:
        return task["Id"]
    raise SourceDataError("the work order names no task", request=f"GET {WORK_ORDERS}/{source_id}", entity=ENTITY,
                          record_id=source_id, field="Task.Id")


def _id_of(answer: Any, request: str) -> int:
    if isinstance(answer, dict) and isinstance(answer.get("Id"), int) and not isinstance(answer["Id"], bool):
        return answer["Id"]
    raise SourceDataError("the answer names no Id", request=request, entity=ENTITY, field="Id")

