"""Helpers the command groups share: the database of the configured instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from approvals.config import load_settings

if TYPE_CHECKING:
    from approvals.store.db import Database


def database() -> Database:
    from approvals.store.db import database_for

    return database_for(load_settings().database_url)


def upgrade(db: Database) -> None:
    from approvals.store.migrate import upgrade as apply

    apply(db)
