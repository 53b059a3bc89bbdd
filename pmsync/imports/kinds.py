"""CSV import of owners and service providers: what each kind of file holds, every cell checked before anything is written."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from pmsync.imports.reading import CsvRefused, CsvRows, CsvSource, normalise_header, open_csv
from pmsync.exports.snapshots import without_bidi_controls

__all__ = ["CsvRefused", "CsvRejected", "CsvSource", "check_file", "valid_rows", "write_fix_file"]

IGNORED_COLUMNS = frozenset({"problems"})
"""The column pmsync adds to the fix-up file, so that file can be uploaded again as it is."""
MAX_SOURCE_ID = 2**63 - 1
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
)
EXTENSION = re.compile(r"\s*(?:x|ext\.?)\s*(?=[0-9])", re.IGNORECASE)
PHONE = re.compile(r"\+?[0-9 ().\-/]+((\s*(x|ext\.?)\s*)[0-9]{1,6})?", re.IGNORECASE)


@dataclass(frozen=True)
class CellError:
    """One problem in the file: the spreadsheet row (the header is row 1), the column, the value and what is wrong."""

    row: int
    column: str
    value: str
    problem: str

    def line(self) -> str:
        return f"row {self.row}, column {self.column}, value {self.value!r}: {self.problem}"


@dataclass
class CheckReport:
    """The first pass over a file: how many data rows, and every cell that is wrong."""

    kind: str
    rows: int = 0
    errors: list[CellError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def bad_rows(self) -> int:
        return len({error.row for error in self.errors})

    def text(self, limit: int | None = None) -> str:
        shown = self.errors if limit is None else self.errors[:limit]
        lines = [f"{len(self.errors)} problem(s) in {self.bad_rows()} of {self.rows} row(s); nothing was imported:"]
        lines += [f"  {error.line()}" for error in shown]
        if len(shown) < len(self.errors):
            lines.append(f"  … and {len(self.errors) - len(shown)} more (all of them are in the fix-up CSV)")
        return "\n".join(lines)


def _required(value: str) -> str | None:
    return None if value else "missing: this column needs a value"


def _source_id(value: str) -> str | None:
    if not value:
        return "missing: this column needs a value"
    if not value.isdigit() or not 0 < int(value) <= MAX_SOURCE_ID:
        return "not a positive whole number (the record's id in Propertyware)"
    return None


def _email(value: str) -> str | None:
    if not value:
        return "missing: this column needs a value"
    return None if EMAIL.fullmatch(value) and len(value) <= 320 else "not a valid e-mail address"


def _phone(value: str) -> str | None:
    if not value:
        return None
    digits = sum(ch.isdigit() for ch in EXTENSION.split(value)[0])
    if not PHONE.fullmatch(value) or not 7 <= digits <= 15:
        return "not a phone number (7 to 15 digits; + ( ) - . / spaces and an x123 extension are fine)"
    return None


@dataclass(frozen=True)
class CsvColumn:
    """One column of an import file: where it lands, how long it may be, and what its value must satisfy."""

    name: str
    target: str | None
    max_length: int
    check: Callable[[str], str | None] | None = None
    in_header: bool = True


@dataclass(frozen=True)
class ImportKind:
    """What a file of one kind looks like and which platform entity its rows become."""

    name: str
    entity: str
    key: str
    columns: tuple[CsvColumn, ...]
    aliases: dict[str, str]
    defaults: dict[str, str] = field(default_factory=dict)
    row_checks: tuple[Callable[[dict[str, str]], tuple[str, str] | None], ...] = ()

    def platform_columns(self, values: dict[str, str]) -> dict[str, Any]:
        """The platform row of a valid record (blank cells become NULL, or the kind's default)."""
        row: dict[str, Any] = {}
        for column in self.columns:
            if column.target and column.name != self.key:
                row[column.target] = values.get(column.name) or self.defaults.get(column.name) or None
        return row


def _owner_name(values: dict[str, str]) -> tuple[str, str] | None:
    if values.get("last_name") or values.get("company"):
        return None
    return "last_name", "missing: an owner needs a last_name, or a company"


OWNERS = ImportKind(
    name="owners",
    entity="owner",
    key="owner_id",
    columns=(
        CsvColumn("owner_id", None, 20, _source_id),
        CsvColumn("first_name", "first_name", 120),
        CsvColumn("last_name", "last_name", 120),
        CsvColumn("company", "company", 300, in_header=False),
        CsvColumn("email", "email", 320, _email),
        CsvColumn("phone", "phone", 60, _phone, in_header=False),
        CsvColumn("group", "group_name", 120, in_header=False),
    ),
    aliases={"id": "owner_id", "e_mail": "email", "phone_number": "phone", "group_name": "group", "company_name": "company"},
    defaults={"group": "Owners"},
    row_checks=(_owner_name,),
)

SERVICE_PROVIDERS = ImportKind(
    name="service-providers",
    entity="service_provider",
    key="vendor_id",
    columns=(
        CsvColumn("vendor_id", None, 20, _source_id),
        CsvColumn("company_name", "company_name", 300, _required),
        CsvColumn("contact_name", "contact_name", 200, in_header=False),
        CsvColumn("email", "email", 320, _email),
        CsvColumn("phone", "phone", 60, _phone, in_header=False),
        CsvColumn("trade", "trade", 120, in_header=False),
    ),
    aliases={"id": "vendor_id", "provider_id": "vendor_id", "e_mail": "email", "phone_number": "phone", "company": "company_name"},
)

KINDS: dict[str, ImportKind] = {kind.name: kind for kind in (OWNERS, SERVICE_PROVIDERS)}


def import_kind(name: str) -> ImportKind:
    try:
        return KINDS[name]
    except KeyError:
        raise CsvRefused(f"unknown import kind {name!r}; use one of: {', '.join(KINDS)}") from None


def _header_columns(kind: ImportKind, header: list[str]) -> list[str | None]:
    """The kind's column name of each header cell (None for a column pmsync ignores); refuses a header it cannot use."""
    known = {column.name for column in kind.columns}
    names: list[str | None] = []
    unknown = []
    for cell in header:
        name = normalise_header(cell)
        name = kind.aliases.get(name, name)
        if name in IGNORED_COLUMNS:
            names.append(None)
        elif name in known:
            names.append(name)
        else:
            unknown.append(cell.strip() or "(blank)")
    expected = ", ".join(c.name for c in kind.columns)
    if unknown:
        raise CsvRefused(f"unknown column(s) {', '.join(unknown)} in the header; {kind.name} files have: {expected}")
    present = [n for n in names if n]
    doubled = sorted({n for n in present if present.count(n) > 1})
    if doubled:
        raise CsvRefused(f"column(s) {', '.join(doubled)} appear more than once in the header")
    missing = [c.name for c in kind.columns if c.in_header and c.name not in present]
    if missing:
        raise CsvRefused(f"the header lacks column(s) {', '.join(missing)}; {kind.name} files have: {expected}")
    return names


def rows_of(kind: ImportKind, rows: CsvRows) -> Iterator[tuple[int, dict[str, str], list[CellError]]]:
    """Each non-blank data row as {column: stripped value}, with the problems of its cells (not duplicates)."""
    names = _header_columns(kind, rows.header)
    width = len(names)
    for number, cells in rows.records:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > width and not any(cell.strip() for cell in cells[width:]):
            cells = cells[:width]
        if len(cells) != width:
            problem = f"has {len(cells)} fields; the header has {width} (a stray separator or quote?)"
            yield number, {}, [CellError(number, "(whole row)", rows.delimiter.join(cells)[:80], problem)]
            continue
        values = {name: cell.strip() for name, cell in zip(names, cells) if name}
        yield number, values, _problems(kind, number, values)


def _problems(kind: ImportKind, number: int, values: dict[str, str]) -> list[CellError]:
    errors = []
    for column in kind.columns:
        value = values.get(column.name, "")
        problem = column.check(value) if column.check else None
        if problem is None and len(value) > column.max_length:
            problem = f"too long ({len(value)} characters; at most {column.max_length})"
        if problem:
            errors.append(CellError(number, column.name, value, problem))
    for check in kind.row_checks:
        found = check(values)
        if found and not any(e.column == found[0] for e in errors):
            errors.append(CellError(number, found[0], values.get(found[0], ""), found[1]))
    return errors


def check_file(kind: ImportKind, source: CsvSource) -> CheckReport:
    """First pass: every row checked, keys remembered only to find duplicates; nothing is written."""
    report = CheckReport(kind.name)
    first_row_of: dict[int, int] = {}
    with open_csv(source) as rows:
        for number, values, errors in rows_of(kind, rows):
            report.rows += 1
            report.errors.extend(errors)
            key = values.get(kind.key, "")
            if key.isdigit() and not any(e.column == kind.key for e in errors):
                earlier = first_row_of.setdefault(int(key), number)
                if earlier != number:
                    report.errors.append(CellError(number, kind.key, key, f"duplicate {kind.key}: row {earlier} has it too"))
    if report.rows == 0:
        raise CsvRefused("the file has a header but no data rows")
    return report


def write_fix_file(kind: ImportKind, source: CsvSource, report: CheckReport, out: IO[str], shown: int = 0) -> list[dict[str, str]]:
    """The file as uploaded (same columns, same delimiter) plus a `problems` column naming each bad cell; blank for good rows.
    Like every CSV pmsync writes, its cells lose their bidirectional controls (pmsync.exports.snapshots).

    Returns the first `shown` rows that have problems, as {"row": spreadsheet row, column: cell, …, "problems": …}.
    """
    by_row: dict[int, list[CellError]] = {}
    for error in report.errors:
        by_row.setdefault(error.row, []).append(error)
    bad_rows: list[dict[str, str]] = []
    with open_csv(source) as rows:
        keep = [i for i, cell in enumerate(rows.header) if normalise_header(cell) not in IGNORED_COLUMNS]
        header = [rows.header[i] for i in keep]
        writer = csv.writer(out, dialect="excel", delimiter=rows.delimiter, lineterminator="\r\n")
        writer.writerow([without_bidi_controls(cell) for cell in header] + ["problems"])
        for number, cells in rows.records:
            if not any(cell.strip() for cell in cells):
                continue
            problems = "; ".join(f"{e.column}: {e.problem} ({e.value!r})" for e in by_row.get(number, []))
            kept = [without_bidi_controls(cells[i]) if i < len(cells) else "" for i in keep]
            writer.writerow(kept + [without_bidi_controls(problems)])
            if problems and len(bad_rows) < shown:
                bad_rows.append({"row": str(number), **dict(zip(header, kept)), "problems": problems})
    return bad_rows


def valid_rows(kind: ImportKind, source: CsvSource) -> Iterator[tuple[int, dict[str, Any], dict[str, str]]]:
    """Second pass over a file that passed `check_file`: (source id, platform columns, the row as written)."""
    with open_csv(source) as rows:
        for _number, values, errors in rows_of(kind, rows):
            if errors:
                raise CsvRefused("the file changed since it was checked; upload it again")
            yield int(values[kind.key]), kind.platform_columns(values), values


class CsvRejected(Exception):
    """The file has invalid rows and nothing was written; the message is the per-cell report (fix the file, upload again)."""

    def __init__(self, message: str, report: CheckReport | None = None, fix_file: str | None = None):
        super().__init__(message)
        self.report = report
        self.fix_file = fix_file
