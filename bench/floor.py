"""The floor: the least any sync can cost against this source — bare page fetches and one bulk insert per table."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import requests
import sqlalchemy as sa

from pmsync.platform.database import make_engine
from pmsync.sync.rules import PROPERTYWARE_STREAMS, Stream
from pmsync.source.client import MAX_PAGE_SIZE, format_source_time
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID
from sandbox.constants import BASE_PATH

FLOOR_METADATA = sa.MetaData()
FLOOR_TABLES = {
    stream.name: sa.Table(
        f"floor_{stream.name}",
        FLOOR_METADATA,
        sa.Column("source_id", sa.BigInteger, primary_key=True),
        sa.Column("source_modified_at", sa.Text),
        sa.Column("source_data", sa.Text, nullable=False),
        comment=f"One row per {stream.name} record fetched by the benchmark's floor.",
    )
    for stream in PROPERTYWARE_STREAMS
}


@dataclass
class FloorResult:
    """What the floor cost: wall seconds (fetch + insert), records, requests."""

    seconds: float
    fetch_seconds: float
    insert_seconds: float
    records: int
    requests: int


def fetch_stream(http: requests.Session, base_url: str, stream: Stream, until: datetime) -> tuple[list[tuple], int]:
    """Every record of one listing, id-ordered pages of 500, as (id, modified, json) rows; and the request count."""
    rows: list[tuple] = []
    params = {**stream.list_params, "lastModifiedDateTimeEnd": format_source_time(until), "orderby": "id asc",
              "limit": MAX_PAGE_SIZE}
    offset, calls = 0, 0
    while True:
        response = http.get(base_url + stream.path, params={**params, "offset": offset}, timeout=60)
        response.raise_for_status()
        calls += 1
        page = response.json()
        rows.extend((record["id"], record.get("lastModifiedDateTime"), json.dumps(record)) for record in page)
        offset += len(page)
        if len(page) < MAX_PAGE_SIZE or offset >= int(response.headers["X-Total-Count"]):
            return rows, calls


def insert_rows(connection: sa.Connection, table: sa.Table, rows: list[tuple]) -> None:
    """One executemany on SQLite; one COPY on PostgreSQL."""
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} (source_id, source_modified_at, source_data) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    connection.exec_driver_sql(f"INSERT INTO {table.name} VALUES (?, ?, ?)", rows)


def measure_floor(root_url: str, database_url: str, streams: tuple[Stream, ...] = PROPERTYWARE_STREAMS) -> FloorResult:
    """Fetch every page of every stream and bulk-insert each stream's rows, all in one transaction."""
    engine = make_engine(database_url)
    FLOOR_METADATA.drop_all(engine)
    FLOOR_METADATA.create_all(engine)
    until = datetime.now(timezone.utc)
    fetch_seconds = insert_seconds = 0.0
    records = requests_made = 0
    started = time.perf_counter()
    with requests.Session() as http, engine.begin() as connection:
        http.headers.update({"x-propertyware-client-id": SANDBOX_CLIENT_ID,
                             "x-propertyware-client-secret": SANDBOX_CLIENT_SECRET,
                             "x-propertyware-system-id": SANDBOX_SYSTEM_ID, "Accept": "application/json"})
        for stream in streams:
            fetching = time.perf_counter()
            rows, calls = fetch_stream(http, root_url + BASE_PATH, stream, until)
            inserting = time.perf_counter()
            insert_rows(connection, FLOOR_TABLES[stream.name], rows)
            fetch_seconds += inserting - fetching
            insert_seconds += time.perf_counter() - inserting
            records += len(rows)
            requests_made += calls
            del rows
    seconds = time.perf_counter() - started
    engine.dispose()
    return FloorResult(seconds, fetch_seconds, insert_seconds, records, requests_made)
