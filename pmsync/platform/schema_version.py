"""Whether the platform schema is at the newest migration, read without importing Alembic (it costs a second)."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, inspect, text

REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)
QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def head_revision(versions: Path) -> str | None:
    """The one newest revision among the migration scripts, read as text (importing Alembic costs a second).

    None when the scripts have no single head (a branch, or none found): the caller lets Alembic decide.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision = REVISION.search(source)
        if revision is None:
            continue
        revisions.add(revision.group(1))
        down = DOWN_REVISION.search(source)
        if down is not None:
            parents.update(QUOTED.findall(down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(engine: Engine, versions: Path) -> bool:
    """True when the database records exactly the newest revision; a new, older or unknown one needs Alembic."""
    head = head_revision(versions)
    if head is None:
        return False
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        recorded = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return recorded == [head]
