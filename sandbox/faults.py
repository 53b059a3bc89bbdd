"""Injectable faults of the sandbox: the Fault record, its constructors and its JSON form for /_sandbox/faults."""

from __future__ import annotations

import dataclasses
from typing import Any

KINDS = ("status", "truncated_json", "wrong_type", "drift", "drop_page", "disconnect", "reset", "cut_body",
         "ignore_offset", "total_jump", "total_header", "redirect", "echo_credentials", "trickle", "oversized")
CONNECTION_KINDS = ("disconnect", "reset", "cut_body", "redirect", "trickle", "oversized")
"""Faults applied at the raw ASGI level, before routing and authentication."""


@dataclasses.dataclass
class Fault:
    """One queued fault.

    Faults wait in a queue. For each vendor request only the first queued fault whose `path` (vendor path such as
    "/units", compared exactly; None matches any) and `method` (None matches any) match is considered:

    - status:         answers with `status` (ErrorResponse body; 429 carries Retry-After when `retry_after` is set: seconds, or
                      any text sent as it is, e.g. an HTTP-date)
                      `times` times, after authentication succeeded. With `page_offset` set, only list requests at
                      that offset match (it stays first in the queue for its path until one comes).
    - truncated_json: a 200 whose JSON body is cut in half (X-Total-Count intact), `times` times.
    - wrong_type:     the next 200 page (or single record) has record `record_index`'s `field` set to `value`, once.
    - drift:          counts the list pages served for the path; once `after_pages` were served, inserts `insert`
                      copies of the entity (new ids, modified now) and deletes the `delete_front` lowest-id records
                      before serving the next page, once.
    - drop_page:      the list request whose offset equals `page_offset` gets [] with the true X-Total-Count, once.
                      Until such a request arrives it stays first in the queue for its path.
    - disconnect:     the server closes the TCP connection without any response bytes (the client sees the remote
                      end close: requests raises ConnectionError). With `after_processing` the request is handled
                      first (side effects happen) and only the response is lost. Not subject to authentication.
    - reset:          like disconnect, but the connection is reset (TCP RST: the client sees ConnectionResetError,
                      requests raises ConnectionError), `times` times; `after_processing` as for disconnect.
    - cut_body:       the request is handled and the response's headers go out with the full Content-Length, then
                      only the first half of the body and the connection closes (the client sees IncompleteRead:
                      requests raises ChunkedEncodingError), `times` times. Not subject to authentication.
    - ignore_offset:  list requests are answered as if offset were 0 (the first page again, true X-Total-Count),
                      `times` times.
    - total_jump:     the list request whose offset equals `page_offset` reports X-Total-Count increased by `jump`
                      (the records served are the true ones), once. Stays first in the queue for its path until then.
    - total_header:   the next `times` list requests report X-Total-Count as `value`, sent as text whatever it says
                      ("-3", "12abc", "", "99999999999999999999"); the records served are the true ones.
    - redirect:       answers `status` (default 302) with `Location: location` (e.g. another host; none when it is
                      ""), `times` times, before authentication (as a load balancer or a moved API would).
    - echo_credentials: answers `status` (401 or 400 …) with an ErrorResponse whose userMessage and errors quote the
                      client id and secret headers as received (after `size` characters of detail: a long message),
                      `times` times, after authentication succeeded (a source that echoes what it was sent).
    - trickle:        the request is handled and its answer sent `chunk_bytes` at a time, `interval` seconds apart
                      (a body trickling in), `times` times. Not subject to authentication.
    - oversized:      the request is handled and its body padded with JSON whitespace to `size` bytes (still valid
                      JSON), sent with its Content-Length, or chunked without one when `announce_size` is false,
                      `times` times. Not subject to authentication.
    """

    kind: str
    path: str | None = None
    method: str | None = None
    times: int = 1
    status: int = 500
    retry_after: int | str | None = None
    record_index: int = 0
    field: str = "buildingID"
    value: Any = "not-a-number"
    after_pages: int = 1
    insert: int = 1
    delete_front: int = 0
    page_offset: int | None = None
    after_processing: bool = False
    jump: int = 0
    location: str | None = None
    chunk_bytes: int = 64
    interval: float = 0.05
    size: int = 0
    announce_size: bool = True
    pages_seen: int = dataclasses.field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError(f"fault path must be a vendor path such as '/units', got {self.path!r}")
        if self.times < 1:
            raise ValueError("times must be >= 1")
        if self.kind == "redirect" and self.location is None:
            raise ValueError("redirect needs location (where it points, e.g. http://127.0.0.1:9/pw/api/rest/v1)")
        if self.chunk_bytes < 1 or not 0 <= self.interval <= 60:
            raise ValueError("chunk_bytes must be >= 1 and interval from 0 to 60 seconds")
        self.method = self.method.upper() if self.method else None

    def matches(self, path: str, method: str) -> bool:
        return (self.path is None or self.path == path) and (self.method is None or self.method == method.upper())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def status_fault(path: str | None, status: int, times: int = 1, retry_after: int | str | None = None,
                 *, method: str | None = None, page_offset: int | None = None) -> Fault:
    return Fault("status", path, method, times=times, status=status, retry_after=retry_after, page_offset=page_offset)


def truncated_json_fault(path: str | None, times: int = 1, *, method: str | None = None) -> Fault:
    return Fault("truncated_json", path, method, times=times)


def wrong_type_fault(path: str | None, record_index: int = 0, field: str = "buildingID",
                     value: Any = "not-a-number", *, method: str | None = None) -> Fault:
    return Fault("wrong_type", path, method, record_index=record_index, field=field, value=value)


def redirect_fault(path: str | None, location: str, status: int = 302, times: int = 1, *,
                   method: str | None = None) -> Fault:
    return Fault("redirect", path, method, times=times, status=status, location=location)


def echo_credentials_fault(path: str | None, status: int = 401, times: int = 1, *, method: str | None = None,
                           after: int = 0) -> Fault:
    return Fault("echo_credentials", path, method, times=times, status=status, size=after)


def trickle_fault(path: str | None, chunk_bytes: int = 64, interval: float = 0.05, times: int = 1, *,
                  method: str | None = "GET") -> Fault:
    return Fault("trickle", path, method, times=times, chunk_bytes=chunk_bytes, interval=interval)


def oversized_fault(path: str | None, size: int, times: int = 1, *, announce_size: bool = True,
                    method: str | None = "GET") -> Fault:
    return Fault("oversized", path, method, times=times, size=size, announce_size=announce_size)


def drift_fault(path: str, after_pages: int = 1, insert: int = 1, *, delete_front: int = 0) -> Fault:
    return Fault("drift", path, "GET", after_pages=after_pages, insert=insert, delete_front=delete_front)


def drop_page_fault(path: str, page_offset: int) -> Fault:
    return Fault("drop_page", path, "GET", page_offset=page_offset)


def disconnect_fault(path: str | None, method: str | None = "POST", *, after_processing: bool = False) -> Fault:
    return Fault("disconnect", path, method, after_processing=after_processing)


def reset_fault(path: str | None, method: str | None = "GET", times: int = 1, *, after_processing: bool = False) -> Fault:
    return Fault("reset", path, method, times=times, after_processing=after_processing)


def cut_body_fault(path: str | None, method: str | None = "GET", times: int = 1) -> Fault:
    return Fault("cut_body", path, method, times=times)


def ignore_offset_fault(path: str, times: int = 1) -> Fault:
    return Fault("ignore_offset", path, "GET", times=times)


def total_jump_fault(path: str, page_offset: int, jump: int) -> Fault:
    return Fault("total_jump", path, "GET", page_offset=page_offset, jump=jump)


def total_header_fault(path: str, value: Any, times: int = 1) -> Fault:
    return Fault("total_header", path, "GET", times=times, value=value)


_BODY_FIELDS = {f.name for f in dataclasses.fields(Fault)} - {"pages_seen"}


def fault_from_dict(body: dict) -> Fault:
    """A Fault from the JSON body of POST /_sandbox/faults; ValueError names what is wrong."""
    if not isinstance(body, dict) or "kind" not in body:
        raise ValueError('a fault is a JSON object with at least "kind"')
    unknown = set(body) - _BODY_FIELDS
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    if body["kind"] == "drop_page" and "page_offset" not in body:
        raise ValueError("drop_page needs page_offset")
    if body["kind"] in ("status", "echo_credentials") and "status" not in body:
        raise ValueError(f"{body['kind']} needs status")
    if body["kind"] == "redirect":
        body = {"status": 302, **body}
    if body["kind"] == "total_jump" and not {"page_offset", "jump"} <= set(body):
        raise ValueError("total_jump needs page_offset and jump")
    if body["kind"] == "total_header" and "value" not in body:
        raise ValueError("total_header needs value (the X-Total-Count text to send)")
    if body["kind"] in ("drift", "drop_page", "ignore_offset", "total_jump", "total_header", "reset", "cut_body"):
        body = {"method": "GET", **body}
    if body["kind"] == "disconnect":
        body = {"method": "POST", **body}
    return Fault(**body)
