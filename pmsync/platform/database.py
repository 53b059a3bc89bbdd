"""The platform database: engine, migrations, set-based inserts and upserts, and one-parameter id lists."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Engine, String, Table, any_, bindparam, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.sql.elements import ColumnElement

from pmsync.platform.bulk_parameters import bind_converter, bind_processor, parameter_builder  # noqa: F401 (bind_converter: re-exported)
from pmsync.platform.schema_version import schema_is_current

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def normalise_url(url: str) -> str:
    """Accept the usual PostgreSQL spellings and use the psycopg 3 driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class PlatformDatabaseMissing(Exception):
    """A command that only reads (or changes what a sync made) named a SQLite file that does not exist."""


def missing_platform_file(url: str) -> Path | None:
    """The SQLite file `url` names when it does not exist (opening it would create it); None for any other URL."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path.absolute()


def require_platform_database(url: str) -> None:
    """Raise PlatformDatabaseMissing, saying what to do, when `url` names a SQLite file that does not exist: reading
    creates no database (a sync does)."""
    if (path := missing_platform_file(url)) is not None:
        raise PlatformDatabaseMissing(f"no platform database at {path}; run a sync first or set PMSYNC_DATABASE_URL")


def make_engine(url: str) -> Engine:
    """An engine for the platform database; SQLite gets foreign keys and WAL (synchronous=NORMAL: a commit is atomic
    and survives a crash of pmsync; after a power cut the last few may be rolled back together with their cursors,
    but for those made in a `pmsync.platform.durable_commits.durable_transaction`)."""
    engine = create_engine(normalise_url(url), pool_pre_ping=True, json_serializer=dump_json)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def dump_json(value: Any) -> str:
    """JSON text of a JSON column's value: orjson (a payload is written with every row, so this is on the hot path),
    the standard library for what orjson refuses (a lone surrogate, an integer beyond 64 bits, a non-text key).
    NaN and infinities, which JSON cannot hold, become null."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


SQLITE_SYNCHRONOUS = "NORMAL"
"""Every SQLite connection's `synchronous`, but during a durable transaction's commit (pmsync.platform.durable_commits)."""
SQLITE_BUSY_TIMEOUT_MS = 300_000
"""How long a SQLite writer waits for the one writing now (one at a time) before "database is locked": a CSV import
applies its whole file in one transaction, tens of seconds for 100,000 rows, and the runs started meanwhile wait."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the platform schema to the newest migration (idempotent; serialised across processes: an advisory lock on
    PostgreSQL, the database's write lock on SQLite).

    On SQLite, foreign keys are off while migrating (a batch migration rebuilds a table others reference) and checked
    before the commit, as Alembic advises. A schema already at the newest revision costs one query, not Alembic.
    """
    if schema_is_current(engine, MIGRATIONS_DIR / "versions"):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                if sqlite:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: a second migrator waits
                else:
                    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7410001)")
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() if sqlite else []
                if broken:
                    raise RuntimeError(f"migration left rows whose foreign keys point nowhere: {broken[:5]}; restore a backup")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def insert_ignoring_existing(connection: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, so a re-run never duplicates a row (the driver's executemany)."""
    _execute_many(connection, table, rows, keys, None)


def upsert(connection: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str], update: list[str]) -> None:
    """INSERT … ON CONFLICT DO UPDATE of the named columns (the driver's executemany; rows apply one after another,
    so a key twice in `rows` leaves the last copy)."""
    _execute_many(connection, table, rows, keys, update)


def _execute_many(
    connection: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str], update: list[str] | None
) -> None:
    """One compiled statement per set of columns, its parameters converted by the columns' own types (as SQLAlchemy
    would, without its per-row work) and sent through the DB-API's executemany."""
    if not rows:
        return
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for names, group in groups.items():
        statement = _statement(connection.dialect, table, names, tuple(keys), tuple(update or ()))
        if connection.dialect.name == "postgresql" and len(group) >= COPY_FROM_ROWS:
            _copy_then_insert(connection, statement, _last_per_key(group, keys) if update else _first_per_key(group, keys))
        else:
            connection.exec_driver_sql(statement.sql, statement.parameters(group))


COPY_FROM_ROWS = 50
"""On PostgreSQL, a set of rows this large goes through COPY into a staging table, then one INSERT … SELECT: the
driver's executemany costs a round of its protocol per row."""


def _copy_then_insert(connection: Connection, statement: _Insert, rows: list[dict[str, Any]]) -> None:
    """COPY the rows into a temporary table, insert them from it with the statement's own ON CONFLICT clause, drop
    it (all in the caller's transaction: a failure rolls the table back too)."""
    stage = "pmsync_stage"
    cursor = connection.connection.driver_connection.cursor()
    cursor.execute(f"CREATE TEMPORARY TABLE {stage} AS SELECT {statement.columns} FROM {statement.table} WITH NO DATA")
    with cursor.copy(f"COPY {stage} ({statement.columns}) FROM STDIN") as copy:
        for values in statement.parameters(rows):
            copy.write_row(values)
    cursor.execute(f"INSERT INTO {statement.table} ({statement.columns}) SELECT {statement.columns} FROM {stage} "
                   f"{statement.on_conflict}")
    cursor.execute(f"DROP TABLE {stage}")


def _first_per_key(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """What executemany of INSERT … DO NOTHING keeps: the first row of each key."""
    key_of = itemgetter(*keys)
    kept: dict[Any, dict[str, Any]] = {}
    for row in rows:
        kept.setdefault(key_of(row), row)
    return list(kept.values())


def _last_per_key(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """What executemany of INSERT … DO UPDATE leaves: the last row of each key (one statement may not update a row
    twice)."""
    key_of = itemgetter(*keys)
    return list({key_of(row): row for row in rows}.values())


@dataclass(frozen=True)
class _Insert:
    """A compiled INSERT … ON CONFLICT for one set of columns, and what turns rows into its parameter tuples."""

    table: str
    columns: str
    placeholders: str
    on_conflict: str
    parameters: Callable[[list[dict[str, Any]]], list[tuple]]

    @property
    def sql(self) -> str:
        return f"INSERT INTO {self.table} ({self.columns}) VALUES ({self.placeholders}) {self.on_conflict}"


_STATEMENTS: dict[tuple, _Insert] = {}


def _statement(dialect: Any, table: Table, names: tuple[str, ...], keys: tuple[str, ...], update: tuple[str, ...]):
    """The INSERT text in the driver's placeholder style, and what turns rows into its parameter tuples: the values
    of `names` through their columns' converters, then the Python-side defaults of the columns the rows leave out
    (SQLAlchemy would fill them in), converted once."""
    cache_key = (dialect.name, id(dialect), table.name, names, keys, update)
    found = _STATEMENTS.get(cache_key)
    if found is not None:
        return found
    unknown = [name for name in names if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}; fix the row built for it")
    defaulted = [
        column for column in table.c
        if column.name not in names and column.default is not None and column.default.is_scalar
    ]
    quote = dialect.identifier_preparer.quote
    columns = [table.c[name] for name in names] + defaulted
    on_conflict = f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) "
    if update:
        on_conflict += "DO UPDATE SET " + ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in update)
    else:
        on_conflict += "DO NOTHING"
    processors = [bind_processor(table.c[name], dialect) for name in names]
    defaults = tuple(
        column.default.arg if process is None else process(column.default.arg)
        for column, process in ((column, bind_processor(column, dialect)) for column in defaulted)
    )
    found = _STATEMENTS[cache_key] = _Insert(
        dialect.identifier_preparer.format_table(table), ", ".join(quote(c.name) for c in columns),
        ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(columns)), on_conflict,
        parameter_builder(names, processors, defaults),
    )
    return found


def among(connection: Connection, column: ColumnElement, values: list) -> ColumnElement[bool]:
    """`column IN values` with the values as one parameter, however many there are: an array on PostgreSQL, a JSON
    list on SQLite (so one statement serves a whole page, with no limit on parameters)."""
    element = String() if values and isinstance(values[0], str) else BigInteger()
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(element)))
    listed = func.json_each(bindparam(None, json.dumps(list(values)), type_=String())).table_valued("value")
    return column.in_(select(listed.c.value))


def id_rows(connection: Connection, values: list[int]) -> Any:
    """The ids as a table of one column, `value`, from one parameter (PostgreSQL: unnest of an array; SQLite:
    json_each of a JSON list): what a set-based statement selects its rows from."""
    if connection.dialect.name == "postgresql":
        return func.unnest(bindparam(None, list(values), type_=postgresql.ARRAY(BigInteger()))).table_valued(
            "value").render_derived()
    return func.json_each(bindparam(None, json.dumps(list(values)), type_=String())).table_valued("value")


def insert_on_conflict(connection: Connection) -> Callable[[Table], Any]:
    """The dialect's `insert` that has `on_conflict_do_update` (PostgreSQL's or SQLite's)."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite_insert


STALE_STATISTICS = text(
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.n_mod_since_analyze > 1000 + 0.1 * GREATEST(c.reltuples, 0)"
)


def refresh_statistics(engine: Engine) -> list[str]:
    """On PostgreSQL, ANALYZE each table changed by over 10 % since its last ANALYZE, as autovacuum would.

    A bulk load outruns autovacuum (or it is off): on statistics of an empty table the planner keeps scanning
    tables that have grown to millions of rows. Returns the tables analysed.
    """
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as connection:
        stale = list(connection.execute(STALE_STATISTICS).scalars())
        for name in stale:
            connection.exec_driver_sql(f'ANALYZE "{name}"')
    return stale
