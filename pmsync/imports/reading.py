"""Strict reading of uploaded CSV files: UTF-8 (BOM or not), comma or semicolon, Excel quoting; anything else refused."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

HEAD_BYTES = 64 * 1024
ROW_NUMBER_OF_HEADER = 1


class CsvRefused(Exception):
    """Fatal for the upload: the file is not a CSV pmsync reads (encoding, binary, separator, header); nothing was written."""


CsvSource = Path | bytes
"""A file on disk, or uploaded content."""


def _refuse_head(head: bytes) -> None:
    if not head:
        raise CsvRefused("the file is empty; it needs a header row and at least one data row")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvRefused("the file is UTF-16 text; save it as 'CSV UTF-8 (Comma delimited)' and upload that")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise CsvRefused("the file is a spreadsheet workbook, not CSV; save it as 'CSV UTF-8 (Comma delimited)' and upload that")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise CsvRefused(f"the file is binary (a NUL byte at byte {nul}), not CSV text")


def _open_binary(source: CsvSource) -> IO[bytes]:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    try:
        return open(source, "rb")
    except OSError as unreadable:
        raise CsvRefused(f"cannot read {source}: {unreadable.strerror}") from None


def _guarded_lines(text: IO[str]) -> Iterator[str]:
    try:
        for line_number, line in enumerate(text, start=1):
            if "\x00" in line:
                raise CsvRefused(f"the file is binary (a NUL byte on line {line_number}), not CSV text")
            yield line
    except UnicodeDecodeError as undecodable:
        raise CsvRefused(
            f"the file is not UTF-8 text (it holds byte 0x{undecodable.object[undecodable.start]:02x}, as Latin-1 or "
            "Windows-1252 files do); save it as 'CSV UTF-8 (Comma delimited)' and upload that"
        ) from None


def _delimiter(header_line: str) -> str:
    outside_quotes = re.sub(r'"[^"]*"', "", header_line)
    counts = {sep: outside_quotes.count(sep) for sep in (",", ";", "\t", "|")}
    if counts[";"] > counts[","]:
        return ";"
    if counts[","]:
        return ","
    other = next((name for sep, name in (("\t", "tabs"), ("|", "'|'")) if counts[sep]), None)
    if other:
        raise CsvRefused(f"the header is separated by {other}; separate columns with commas or semicolons")
    raise CsvRefused("the header has a single column (no comma or semicolon); separate columns with commas or semicolons")


def normalise_header(name: str) -> str:
    """`Owner ID`, `owner-id` and ` OWNER_ID ` all read as `owner_id`."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


@dataclass
class CsvRows:
    """An open import file: its delimiter, its header, and its records as (row number, cells), streamed."""

    header: list[str]
    delimiter: str
    records: Iterator[tuple[int, list[str]]]
    closer: IO[bytes]

    def __enter__(self) -> CsvRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closer.close()


def open_csv(source: CsvSource) -> CsvRows:
    """Open a file as UTF-8 (BOM or not), comma or semicolon separated, Excel quoting; refuse anything else."""
    binary = _open_binary(source)
    try:
        _refuse_head(binary.read(HEAD_BYTES))
        binary.seek(0)
        lines = _guarded_lines(io.TextIOWrapper(binary, encoding="utf-8-sig", newline=""))
        first = next(lines, "")
        delimiter = _delimiter(first)
        reader = csv.reader(itertools.chain([first], lines), dialect="excel", delimiter=delimiter, strict=True)
        header = next(_records(reader))[1]
    except BaseException:
        binary.close()
        raise
    return CsvRows(header, delimiter, _records(reader, start=ROW_NUMBER_OF_HEADER + 1), binary)


def _records(reader: Any, start: int = ROW_NUMBER_OF_HEADER) -> Iterator[tuple[int, list[str]]]:
    number = start
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as malformed:
            raise CsvRefused(f"the file is not well-formed CSV near line {reader.line_num} ({malformed})") from None
        yield number, cells
        number += 1
