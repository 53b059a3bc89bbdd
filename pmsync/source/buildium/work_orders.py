"""Buildium's work orders (the spec's WorkOrderMessage, its Task joined with the task's own assignee and property) and
the platform rows they become."""

from __future__ import annotations

import re
from typing import Any

from pmsync.source.buildium.parts import (
    ASSOCIATION,
    ASSOCIATION_UNIT,
    RENTAL,
    RENTAL_UNIT,
    WORK_ORDER,
    BuildiumId,
    BuildiumRecord,
    Part,
    kinds,
)
from schemas.records import Candidate
from schemas.source_values import MoneyAmount, SourceDate


PUSH_MARKER = re.compile(r"pmsync-wo-[0-9a-f]{16}")
"""The marker pmsync writes into a work order it pushes (pmsync.push.workorders: `pmsync-wo-` and 16 hex digits)."""
MARKER_LINE = re.compile(r"\n*\[(pmsync-[a-z]+-[0-9a-f]{16})\]\s*$")
"""How the push appends a change's marker to the text it writes (a work order's WorkDetails, a task update's
Message): a last line `[pmsync-…]`."""


def with_marker(text: str | None, marker: str) -> str:
    """`text` with `marker` as its last line (replacing a marker line it already ends with)."""
    plain = without_marker(text)
    return f"{plain}\n\n[{marker}]" if plain else f"[{marker}]"


def without_marker(text: str | None) -> str:
    """`text` without the marker line the push appended."""
    return MARKER_LINE.sub("", text or "")


def marker_in(text: str | None) -> str | None:
    """The marker of the line the push appended to `text`, if it ends with one."""
    found = MARKER_LINE.search(text or "")
    return found.group(1) if found else None


class PropertyMessage(Part):
    """A task's Property (the spec's PropertyMessage): its id and whether it is a rental or an association."""

    Id: BuildiumId | None = None
    Type: str | None = None


class UnitAgreementMessage(Part):
    Id: BuildiumId | None = None
    Type: str | None = None


class WorkOrderTaskMessage(Part):
    """A work order's Task (the spec's WorkOrderTaskMessage). `AssignedToUserId` and `Property` are not in that
    message: they are the task's own (AllTasksMessage, GET /v1/tasks), which the client joins in (`joined_with_task`);
    without them the work order has no property and no assignee."""

    Id: BuildiumId | None = None
    Type: str | None = None
    UnitId: BuildiumId | None = None
    UnitAgreement: UnitAgreementMessage | None = None
    Title: str | None = None
    Priority: str | None = None
    Status: str | None = None
    AssignedToUserId: BuildiumId | None = None
    Property: PropertyMessage | None = None


TASK_FIELDS_JOINED = ("AssignedToUserId", "Property")


def joined_with_task(work_order: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    """The work order as listed, its Task given the task's assignee and property (from GET /v1/tasks or /v1/tasks/{id},
    the task whose Id is the work order's Task.Id)."""
    listed = work_order.get("Task") if isinstance(work_order.get("Task"), dict) else {}
    return {**work_order, "Task": {**listed, **{name: task[name] for name in TASK_FIELDS_JOINED if name in task}}}


class WorkOrderRecord(BuildiumRecord):
    """A work order (GET /v1/workorders) → work order, its property and unit from its task (see WorkOrderTask).

    Facts: `assigned_to_user_id` (the task's AssignedToUserId: the rule compares it with the integration's staff
    user), `push_marker` (pmsync's marker: the push writes it as the last line of WorkDetails, and it is looked for
    there first, then in the other text fields), `vendor_source_id`. The description is WorkDetails without that
    line."""

    Task: WorkOrderTaskMessage | None = None
    Title: str | None = None
    DueDate: SourceDate | None = None
    Priority: str | None = None
    Status: str | None = None
    WorkDetails: str | None = None
    InvoiceNumber: str | None = None
    EntryNotes: str | None = None
    VendorId: BuildiumId | None = None
    VendorNotes: str | None = None
    Amount: MoneyAmount | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        task = self.Task or WorkOrderTaskMessage()
        where = task.Property or PropertyMessage()
        property_kind = {"Rental": RENTAL, "Association": ASSOCIATION}.get(where.Type or "")
        unit_kind = {RENTAL: RENTAL_UNIT, ASSOCIATION: ASSOCIATION_UNIT}.get(property_kind or "")
        texts = [self.WorkDetails, self.Title, task.Title, self.EntryNotes, self.VendorNotes, self.InvoiceNumber]
        marker = next((found.group() for text in texts if text for found in [PUSH_MARKER.search(text)] if found), None)
        columns = {
            "number": None,
            "title": self.Title if self.Title is not None else task.Title,
            "description": without_marker(self.WorkDetails) if self.WorkDetails is not None else None,
            "priority": self.Priority,
            "status": self.Status,
            "category": None,
            "type": task.Type,
            "managed_by": None,
            "requested_by": None,
            "lease_name": None,
            "origin": "source",
            "source_data": raw,
            "source_modified_at": None,
        }
        facts = {
            "assigned_to_user_id": task.AssignedToUserId,
            "push_marker": marker,
            "vendor_source_id": self.VendorId,
            "task_source_id": task.Id,
            "source_kind": WORK_ORDER,
            "parent_kinds": kinds(property=property_kind, unit=unit_kind),
        }
        return [Candidate("work_order", self.id, columns, {"property": where.Id, "unit": task.UnitId}, facts, raw)]
