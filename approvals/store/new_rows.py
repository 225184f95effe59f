"""Writing a new subscription and its recipients, the intake's only write.

On PostgreSQL, when nothing else is written in the request, both tables take one statement
(``WITH new_subscription AS (INSERT ...) INSERT ...``) in autocommit: one round trip instead of
BEGIN, two INSERTs and COMMIT, and atomic all the same, being one statement. The SQL is built
once per shape and cached, since SQLAlchemy cannot cache an INSERT inside a CTE.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.orm import Session

from approvals.store.models import Recipient, Subscription

# Beyond this many recipients the plain two-statement path is used (parameters add up).
MAX_RECIPIENTS_IN_ONE_STATEMENT = 200


def insert_subscription(
    session: Session, subscription: dict[str, Any], recipients: list[dict[str, Any]], *, alone: bool
) -> None:
    """Insert the rows; ``alone``: nothing else is written in this request's transaction."""
    bind = session.get_bind()
    if (
        alone
        and bind.dialect.name == "postgresql"
        and 0 < len(recipients) <= MAX_RECIPIENTS_IN_ONE_STATEMENT
    ):
        sql = _one_statement(tuple(subscription), tuple(recipients[0]), len(recipients))
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(sql, _parameters(subscription, recipients))
        return
    conn = session.connection()
    conn.execute(insert(Subscription.__table__), [subscription])
    conn.execute(insert(Recipient.__table__), recipients)


def _placeholder(table: Table, column: str, name: str) -> str:
    if isinstance(table.c[column].type, JSON):
        return f"CAST(%({name})s AS json)"
    return f"%({name})s"


@lru_cache(maxsize=64)
def _one_statement(columns: tuple[str, ...], recipient_columns: tuple[str, ...], count: int) -> str:
    subscriptions: Table = Subscription.__table__  # type: ignore[assignment]
    recipients: Table = Recipient.__table__  # type: ignore[assignment]
    values = ", ".join(_placeholder(subscriptions, c, f"s_{c}") for c in columns)
    rows = ", ".join(
        "(" + ", ".join(_placeholder(recipients, c, f"r{i}_{c}") for c in recipient_columns) + ")"
        for i in range(count)
    )
    return (
        f"WITH new_subscription AS (INSERT INTO {subscriptions.name} ({', '.join(columns)}) "
        f"VALUES ({values})) "
        f"INSERT INTO {recipients.name} ({', '.join(recipient_columns)}) VALUES {rows}"
    )


def _json_columns(table: Any) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, JSON))


_JSON_COLUMNS = {
    "s_": _json_columns(Subscription.__table__),
    "r": _json_columns(Recipient.__table__),
}


def _parameters(subscription: dict[str, Any], recipients: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [("s_", subscription, _JSON_COLUMNS["s_"])]
    rows += [(f"r{i}_", row, _JSON_COLUMNS["r"]) for i, row in enumerate(recipients)]
    return {
        prefix + column: json.dumps(value) if column in as_json else value
        for prefix, row, as_json in rows
        for column, value in row.items()
    }
