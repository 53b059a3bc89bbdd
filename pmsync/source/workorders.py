"""Work-order writes through the endpoints the vendor spec offers, and the lookups that make retries safe."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from pmsync.source.client import PropertywareClient, format_source_time
from pmsync.source.errors import SourceDataError

ENTITY = "work order"


class _TaggedWorkOrder(BaseModel):
    id: int
    searchTag: str | None = None


class _TaggedTask(BaseModel):
    id: int
    tags: str | None = None


class WorkOrderWriter:
    """Creates, closes and annotates work orders in the source. There is no general update endpoint."""

    def __init__(self, client: PropertywareClient) -> None:
        self.client = client

    def create(self, body: Mapping[str, Any]) -> int:
        """POST /workorders (a SaveWorkOrder body); the new work order's source id."""
        return self._id_of(self.client.send_write("POST", "/workorders", dict(body), entity=ENTITY), "POST /workorders")

    def find_by_search_tag(self, building_id: int, search_tag: str, modified_since: datetime) -> int | None:
        """The work order carrying `search_tag` on the building, modified since then (the list cannot filter on tags)."""
        params = {"buildingID": building_id, "lastModifiedDateTimeStart": format_source_time(modified_since)}
        for page in self.client.iter_pages("/workorders", _TaggedWorkOrder, entity=ENTITY, params=params):
            for work_order in page.records:
                if work_order.searchTag == search_tag:
                    return work_order.id
        return None

    def close(self, work_order_id: int, completed_on: str | None, comments: str | None) -> None:
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
