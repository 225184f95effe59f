"""Apply Alembic migrations; ``approvals db upgrade`` and ``approvals run`` both call this."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from approvals.store.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Where Alembic keeps the revision a database is at (its default name).
VERSION_TABLE = "alembic_version"


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to run from several processes at once."""
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes starting together must not both create the tables.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727272)")
        config = alembic_config(db)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def revision(db: Database, message: str) -> None:
    """Autogenerate a new migration (a developer's tool)."""
    with db.engine.begin() as connection:
        config = alembic_config(db)
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


def pending_migrations(connection: Connection) -> tuple[set[str], set[str]]:
    """The database's revisions and the code's heads; equal when the schema is current.

    Read from Alembic's version table directly: a MigrationContext per call logged eight lines
    of plugin set-up at INFO for every readiness probe."""
    current: set[str] = set()
    if inspect(connection).has_table(VERSION_TABLE):
        current = set(connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))
    return current, set(_script_heads())


@functools.cache
def _script_heads() -> tuple[str, ...]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return tuple(ScriptDirectory.from_config(config).get_heads())
