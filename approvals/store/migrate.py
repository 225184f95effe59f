"""Apply Alembic migrations; ``approvals db upgrade`` and ``approvals run`` both call this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from approvals.store.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


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
