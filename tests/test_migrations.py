"""Migrations: an existing database reaches the models' schema and keeps what it held."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from approvals.store.db import Database
from approvals.store.migrate import upgrade
from approvals.store.models import Base
from tests.conftest import BACKENDS, PG_URL, PostgresDatabase

FIRST = "4e2775036731"


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "embedded":
        database = Database(f"sqlite:///{tmp_path / 'state.sqlite'}")
        yield database
        database.dispose()
        return
    assert PG_URL
    server = PostgresDatabase(PG_URL)
    server.create()
    database = Database(server.url)
    yield database
    database.dispose()
    server.drop()


def test_the_schema_after_every_migration_is_the_models_schema(db: Database) -> None:
    upgrade(db)
    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_callbacks_owed_before_owners_existed_keep_their_subscription(db: Database) -> None:
    """A callback written by the first schema belongs to its approval subscription after."""
    upgrade(db, FIRST)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_clients (id, name, key_hash, key_prefix, webhook_secret, "
                "created_at) VALUES ('c1', 'old', 'h', 'p', 's', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO subscriptions (id, client_id, kind, status, notification_url, "
                "message, options, created_at, expires_at) VALUES ('s1', 'c1', 'approvalmail', "
                "'pending', 'http://127.0.0.1/cb', '{}', '[]', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO deliveries (id, client_id, subscription_id, url, payload, "
                "webhook_id, status, attempt_count, created_at) VALUES ('d1', 'c1', 's1', "
                "'http://127.0.0.1/cb', '{}', 'msg_1', 'due', 0, CURRENT_TIMESTAMP)"
            )
        )
    upgrade(db)
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT owner_kind, owner_id, status FROM deliveries")).one()
    assert tuple(row) == ("approval", "s1", "due")
