"""Transactions whose commit is on disk before the caller goes on: what must survive a power cut (a push's attempt)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from pmsync.platform.database import SQLITE_SYNCHRONOUS


@contextmanager
def durable_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction whose commit is on disk when the block ends (a power cut cannot take it back), for a record that
    must survive what follows it (a request to the source). SQLite: synchronous=FULL on the connection for this commit
    (set outside the transaction, where it takes effect), the engine's setting again after. PostgreSQL: commits are
    durable unless synchronous_commit is off (a server, database or role setting): then on, for this transaction only.
    """
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with connection.begin():
                connection.exec_driver_sql(
                    "SELECT set_config('synchronous_commit', 'on', true) WHERE current_setting('synchronous_commit') = 'off'"
                )
                yield connection
            return
        _sqlite_synchronous(connection, "FULL")
        try:
            with connection.begin():
                yield connection
        finally:
            if not connection.invalidated:
                _sqlite_synchronous(connection, SQLITE_SYNCHRONOUS)


def _sqlite_synchronous(connection: Connection, level: str) -> None:
    """Set the connection's `synchronous` through the driver, outside any transaction (as the engine's pragmas are)."""
    cursor = connection.connection.driver_connection.cursor()
    cursor.execute(f"PRAGMA synchronous={level}")
    cursor.close()
