"""Reading import files: what is accepted, what is refused with a clear reason, and the fix-up CSV."""

from __future__ import annotations

import io
import re

import pytest

from pmsync.imports.kinds import OWNERS, SERVICE_PROVIDERS, CsvRefused, check_file, valid_rows, write_fix_file

HEADER = "owner_id,first_name,last_name,email"


@pytest.mark.parametrize("data, reason", [
    ("owner_id,first_name\n".encode("utf-16"), "UTF-16"),
    (f"{HEADER}\n1,Zoë,Brandt,z@example.com\n".encode("latin-1"), "not UTF-8"),
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)), "spreadsheet workbook"),
    (bytes(range(256)) * 4, "binary"),
    (f"{HEADER}\n1,Ann,Lee,a@example.com\n".replace(",", "\t").encode(), "separated by tabs"),
    (b"owner_id,first_name,email\n1,Ann,a@example.com\n", "lacks column(s) last_name"),
    (f"{HEADER},e-mail address\n".encode(), "unknown column(s) e-mail address"),
    (f"{HEADER}\n".encode(), "no data rows"),
    (f'{HEADER}\n1,"Ann,Lee,a@example.com\n'.encode(), "not well-formed CSV"),
    (b"", "empty"),
])
def test_files_pmsync_cannot_read_are_refused_with_the_reason(data, reason):
    with pytest.raises(CsvRefused, match=re.escape(reason)):
        check_file(OWNERS, data)


def test_excel_quoting_semicolons_bom_aliases_and_blank_rows_are_read():
    data = (
        "\ufeffOwner ID;First Name;Last Name;E-mail;Company;Phone;Group\r\n"
        '101;"Ann ""Annie""";Lee;ann@example.com;"Lee; Sons";+1 (555) 010-2000 x12;\r\n'
        ';;;;;;\r\n'
        '102;Bo;;bo@example.com;"Two\r\nLines Ltd";;Board\r\n'
    ).encode("utf-8")

    assert check_file(OWNERS, data).errors == []
    rows = [(source_id, columns) for source_id, columns, _ in valid_rows(OWNERS, data)]
    assert rows[0] == (101, {"first_name": 'Ann "Annie"', "last_name": "Lee", "company": "Lee; Sons",
                             "email": "ann@example.com", "phone": "+1 (555) 010-2000 x12", "group_name": "Owners"})
    assert rows[1][1]["company"] == "Two\r\nLines Ltd" and rows[1][1]["group_name"] == "Board"


def test_each_bad_cell_is_reported_once_with_row_column_value_and_problem():
    data = (
        "vendor_id,company_name,email,phone\n"
        "7,Pipes Inc,ops@pipes.example,555-0100-22\n"
        "x7,,not-an-email,12\n"
        "7,Dupe Co,dupe@example.com,\n"
        "8,Short,s@example.com\n"
    ).encode()

    report = check_file(SERVICE_PROVIDERS, data)

    assert [(e.row, e.column, e.value) for e in report.errors] == [
        (3, "vendor_id", "x7"), (3, "company_name", ""), (3, "email", "not-an-email"), (3, "phone", "12"),
        (4, "vendor_id", "7"), (5, "(whole row)", "8,Short,s@example.com"),
    ]
    assert "duplicate vendor_id: row 2 has it too" in report.errors[4].problem
    fix = io.StringIO()
    write_fix_file(SERVICE_PROVIDERS, data, report, fix)
    lines = fix.getvalue().splitlines()
    assert lines[0] == "vendor_id,company_name,email,phone,problems" and lines[1].endswith(",")
    assert "email: not a valid e-mail address ('not-an-email')" in lines[2]
    assert check_file(SERVICE_PROVIDERS, fix.getvalue().encode()).errors == report.errors[:5]


BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_the_fix_up_file_holds_no_bidirectional_controls():
    spoofed = "Ann\u202egpj.exe" + BIDI_CONTROLS
    data = ("owner_id,first_name,last_name,email\n"
            f"1,{spoofed},Lee,ann@example.com\n"
            f"2,Bob,Ray{BIDI_CONTROLS},bob@@example.com\n").encode()

    report = check_file(OWNERS, data)
    fix = io.StringIO()
    write_fix_file(OWNERS, data, report, fix)

    written = fix.getvalue()
    assert not set(BIDI_CONTROLS) & set(written)
    assert "1,Anngpj.exe,Lee,ann@example.com," in written and "2,Bob,Ray,bob@@example.com,email: " in written
