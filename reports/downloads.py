"""The Reports app's file downloads: a CSV streamed as it is written, a workbook written to a temporary file then streamed."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable
from typing import IO, Any

from fastapi.responses import Response, StreamingResponse

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOAD_BLOCK_BYTES = 64 * 1024
UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]+")


def file_name_part(text: str) -> str:
    """Text (an integration's name) as a part of a download's file name: ASCII letters, digits, `.`, `_` and `-`."""
    return UNSAFE_IN_FILE_NAMES.sub("-", text).strip("-.") or "integration"


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{file_name_part(filename)}"'}


def csv_download(chunks: Callable[[], Iterable[str]], filename: str) -> Response:
    """The CSV `chunks()` writes (text pieces, read as the client reads them) as an attachment."""

    def encoded():
        for chunk in chunks():
            yield chunk.encode("utf-8")

    return StreamingResponse(encoded(), media_type="text/csv; charset=utf-8", headers=_attachment(filename))


def workbook_download(write: Callable[[IO[bytes]], Any], filename: str) -> Response:
    """The workbook `write(file)` writes, as an attachment of known length (written in full before the answer starts, so
    an error is an error page rather than a cut file)."""
    workbook = tempfile.TemporaryFile(prefix="pmsync-report-", suffix=".xlsx")
    try:
        write(workbook)
        size = workbook.tell()
        workbook.seek(0)
    except BaseException:
        workbook.close()
        raise

    def blocks():
        with workbook:
            while block := workbook.read(DOWNLOAD_BLOCK_BYTES):
                yield block

    return StreamingResponse(blocks(), media_type=XLSX_MEDIA_TYPE,
                             headers={**_attachment(filename), "Content-Length": str(size)})
