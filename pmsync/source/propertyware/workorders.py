"""Propertyware work-order writes: its endpoints, the bodies built from the platform's row, the lookups for retries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pmsync.source.errors import SourceDataError
from pmsync.source.propertyware.dialect import WINDOW_START, format_source_time
from pmsync.source.protocol import PushedWorkOrder

if TYPE_CHECKING:
    from pmsync.source.offset_client import OffsetClient

ENTITY = "work order"


class _TaggedWorkOrder(BaseModel):
    id: int
    searchTag: str | None = None


class _TaggedTask(BaseModel):
    id: int
    tags: str | None = None


class WorkOrderEndpoints:
    """Creates, closes and annotates work orders in the source. There is no general update endpoint."""

    def __init__(self, client: OffsetClient) -> None:
        self.client = client

    def create(self, body: Mapping[str, Any]) -> int:
        """POST /workorders (a SaveWorkOrder body); the new work order's source id."""
        return self._id_of(self.client.send_write("POST", "/workorders", dict(body), entity=ENTITY), "POST /workorders")

    def find_by_search_tag(self, building_id: int, search_tag: str, modified_since: datetime) -> int | None:
        """The work order carrying `search_tag` on the building, modified since then (the list cannot filter on tags)."""
        params = {"buildingID": building_id, WINDOW_START: format_source_time(modified_since)}
        for page in self.client.iter_pages("/workorders", _TaggedWorkOrder, entity=ENTITY, params=params):
            for work_order in page.records:
                if work_order.searchTag == search_tag:
                    return work_order.id
        return None

    def close(self, work_order_id: int, completed_on: date | str | None, comments: str | None) -> None:
        """PUT /workorders/closeworkorder/{id}; no time-card entries (the platform has none)."""
        body: dict[str, Any] = {"timeCardEntry": []}
        if completed_on:
            body["completedDate"] = completed_on
        if comments:
            body["comments"] = comments
        self.client.send_write("PUT", f"/workorders/closeworkorder/{work_order_id}", body, entity=ENTITY)

    def set_custom_fields(self, work_order_id: int, fields: Mapping[str, str]) -> None:
        """PUT /workorders/customfields for one work order."""
        body = {"entityId": work_order_id, "fieldSet": [{"name": name, "value": str(value)} for name, value in fields.items()]}
        self.client.send_write("PUT", "/workorders/customfields", body, entity=ENTITY)

    def add_task(self, work_order_id: int, description: str, tag: str) -> int:
        """POST /workorders/{id}/tasks: a note or progress line, tagged so a retry can find it."""
        path = f"/workorders/{work_order_id}/tasks"
        answer = self.client.send_write("POST", path, {"description": description, "tags": tag}, entity=ENTITY)
        return self._id_of(answer, f"POST {path}")

    def find_task_by_tag(self, work_order_id: int, tag: str) -> int | None:
        for page in self.client.iter_pages(f"/workorders/{work_order_id}/tasks", _TaggedTask, entity="work order task"):
            for task in page.records:
                if tag in (part.strip() for part in (task.tags or "").split(",")):
                    return task.id
        return None

    @staticmethod
    def _id_of(answer: Any, request: str) -> int:
        if isinstance(answer, dict) and isinstance(answer.get("id"), int):
            return answer["id"]
        raise SourceDataError("the answer names no id", request=request, entity=ENTITY, field="id")


class PropertywareWorkOrders:
    """The push's view (pmsync.source.protocol.WorkOrderWriter) over the endpoints: the marker goes in searchTag on a
    work order and in the tags of a note (a work-order task); a work order is found again on its building."""

    def __init__(self, client: OffsetClient) -> None:
        self.endpoints = WorkOrderEndpoints(client)

    def create(self, order: PushedWorkOrder, marker: str) -> int:
        return self.endpoints.create(creation_body(order, marker))

    def find_created(self, order: PushedWorkOrder, marker: str, since: datetime) -> int | None:
        return self.endpoints.find_by_search_tag(order.building_source_id, marker, since)  # type: ignore[arg-type]

    def add_note(self, source_id: int, text: str, marker: str) -> int | None:
        return self.endpoints.add_task(source_id, text, marker)

    def find_note(self, source_id: int, marker: str) -> int | None:
        return self.endpoints.find_task_by_tag(source_id, marker)

    def close(self, source_id: int, completed_on: date | str | None, comments: str | None) -> None:
        self.endpoints.close(source_id, completed_on, comments)

    def set_custom_fields(self, source_id: int, fields: Mapping[str, str]) -> None:
        self.endpoints.set_custom_fields(source_id, fields)


def creation_body(work_order: PushedWorkOrder, marker: str) -> dict[str, Any]:
    """A SaveWorkOrder body: the building is required; the marker goes in searchTag."""
    body: dict[str, Any] = {
        "buildingID": work_order.building_source_id,
        "description": work_order.description,
        "priority": work_order.priority,
        "category": work_order.category,
        "type": work_order.type,
        "searchTag": marker,
        "source": "Internal",
    }
    if work_order.unit_source_id is not None:
        body["unitIDs"] = [work_order.unit_source_id]
    if work_order.resident_source_id is not None:
        body["requestedBy"] = work_order.resident_source_id
    return {key: value for key, value in body.items() if value is not None}
