"""A command migrates the platform only when its schema is behind: the newest revision read from the scripts as text
agrees with Alembic's, and the recorded revision is compared on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from pmsync.platform.schema_version import head_revision, schema_is_current
from pmsync.platform.database import MIGRATIONS_DIR, migrate

VERSIONS = MIGRATIONS_DIR / "versions"


def test_the_newest_revision_read_as_text_is_alembics_head():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert head_revision(VERSIONS) == ScriptDirectory.from_config(config).get_current_head()


def test_a_branch_has_no_single_head_and_leaves_the_decision_to_alembic(tmp_path):
    (tmp_path / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (tmp_path / "0002_b.py").write_text('revision: str = "0002"\ndown_revision: str | None = "0001"\n')
    assert head_revision(tmp_path) == "0002"
    (tmp_path / "0003_c.py").write_text("revision = '0003'\ndown_revision = '0001'\n")
    assert head_revision(tmp_path) is None
    (tmp_path / "0004_merge.py").write_text("revision = '0004'\ndown_revision = ('0002', '0003')\n")
    assert head_revision(tmp_path) == "0004"


def test_only_a_schema_behind_is_migrated(platform_url, platform_engine):
    assert not schema_is_current(platform_engine, VERSIONS)  # empty database
    migrate(platform_engine)
    assert schema_is_current(platform_engine, VERSIONS)

    with platform_engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    assert not schema_is_current(platform_engine, VERSIONS)
