"""The platform database: engine, migrations, and dialect-aware upserts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def normalise_url(url: str) -> str:
    """Accept the usual PostgreSQL spellings and use the psycopg 3 driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    """An engine for the platform database; SQLite gets foreign keys and WAL."""
    engine = create_engine(normalise_url(url), pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the platform schema to the newest migration (idempotent; serialised across processes on PostgreSQL).

    On SQLite, foreign keys are off while migrating (a batch migration rebuilds a table others reference) and checked
    before the commit, as Alembic advises.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                if not sqlite:
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
    """INSERT … ON CONFLICT DO NOTHING, so a re-run never duplicates a row."""
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=keys)
    connection.execute(statement, rows)


def upsert(connection: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str], update: list[str]) -> None:
    """INSERT … ON CONFLICT DO UPDATE of the named columns."""
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={column: statement.excluded[column] for column in update}
    )
    connection.execute(statement, rows)


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
