"""An upload's form read as it arrives: the file goes straight to the import directory, refused the moment it passes the cap."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from reports.upload_guide import too_big_message

MAX_FIELDS = 4
MAX_FIELD_BYTES = 1024
NOT_THE_FORM = "the upload is not the page's form; upload the file with the form on its integration's upload page"


class UploadRefused(Exception):
    """An upload the page will not store; the message (plain text) says what to do, `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def too_big(max_bytes: int) -> UploadRefused:
    return UploadRefused(too_big_message(max_bytes), 413)


@dataclass
class ReceivedForm:
    """The form's text fields, and its one file: the name the browser gave it and where its bytes are (a hidden
    `.upload-<random>.partial` in the import directory, for the caller to rename or delete)."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    partial: Path | None = None


async def receive_form(request: Request, folder: Path, max_file_bytes: int, max_body_bytes: int) -> ReceivedForm:
    """Parse the request's multipart body chunk by chunk as it arrives, writing the file part to `folder`; refuse with
    413 as soon as the file passes `max_file_bytes` or the body `max_body_bytes`, leaving nothing behind."""
    kind, options = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UploadRefused("the upload holds no file (it is not multipart/form-data); choose a .csv file to upload "
                            "with the form on its integration's upload page")
    reader = _FormReader(folder, max_file_bytes)
    try:
        parser = MultipartParser(options[b"boundary"], reader.callbacks())
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body_bytes:
                raise too_big(max_file_bytes)
            parser.write(chunk)
            await reader.write_pending()
        if not reader.complete:
            raise UploadRefused(f"the upload ended before the form did; {NOT_THE_FORM}")
        reader.close()
    except FormParserError:
        reader.discard()
        raise UploadRefused(NOT_THE_FORM) from None
    except BaseException:
        reader.discard()
        raise
    return reader.form


class _FormReader:
    """python-multipart's callbacks: text fields kept (small and few), the one file's bytes queued for writing."""

    def __init__(self, folder: Path, max_file_bytes: int) -> None:
        self.form = ReceivedForm()
        self.complete = False
        self._folder, self._max_file_bytes = folder, max_file_bytes
        self._out: IO[bytes] | None = None
        self._file_bytes = 0
        self._pending: list[bytes] = []
        self._header_name, self._header_value, self._disposition = b"", b"", b""
        self._field: str | None = None
        self._value = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value_part, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._disposition, self._field, self._value = b"", None, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"filename" not in options:
            if len(self.form.fields) >= MAX_FIELDS:
                raise UploadRefused(NOT_THE_FORM)
            self._field = options.get(b"name", b"").decode("utf-8", errors="replace")
            return
        if self._out is not None:
            raise UploadRefused("upload one file at a time")
        self.form.filename = options[b"filename"].decode("utf-8", errors="replace")
        self.form.partial = self._folder / f".upload-{uuid.uuid4().hex}.partial"
        self._out = os.fdopen(os.open(self.form.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640), "wb")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field is not None:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                raise UploadRefused(NOT_THE_FORM)
            return
        self._file_bytes += end - start
        if self._file_bytes > self._max_file_bytes:
            raise too_big(self._max_file_bytes)
        self._pending.append(data[start:end])

    def _part_end(self) -> None:
        if self._field is not None:
            self.form.fields[self._field] = self._value.decode("utf-8", errors="replace")

    def _end(self) -> None:
        self.complete = True

    async def write_pending(self) -> None:
        """Write the file bytes the last chunk held (off the event loop)."""
        if self._pending and self._out is not None:
            await run_in_threadpool(self._out.write, b"".join(self._pending))
        self._pending.clear()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()

    def discard(self) -> None:
        """Close and delete the file received so far."""
        self.close()
        if self.form.partial is not None:
            self.form.partial.unlink(missing_ok=True)
