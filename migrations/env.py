"""Alembic environment: migrates the connection pmsync hands over (or PMSYNC_DATABASE_URL from the CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from schemas.tables import metadata

connection = context.config.attributes.get("connection")


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    from pmsync.platform.database import normalise_url
    from pmsync.settings import PlatformSettings

    engine = create_engine(normalise_url(PlatformSettings().database_url))
    with engine.begin() as fresh:
        run(fresh)
