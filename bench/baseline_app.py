"""The intake baseline: a bare Flask route doing one INSERT, under the web's gunicorn settings.

``python -m bench.baseline_app --port P --database-url URL --workers W --threads T``

It takes the same JSON body as ``POST /approvalmail/$subscriptions``, parses it, inserts one
row into a table of its own in the service's database and answers 201 with an id: the least a
plain program must do to accept a request durably. No validation, no authentication, no rate
limit, no broker. The engine comes from the service's ``make_engine`` so both sides talk to the
database the same way (SQLite: WAL and busy timeout; PostgreSQL: the same pool).
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, request
from gunicorn.app.base import BaseApplication
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, insert

from approvals.store.db import make_engine

metadata = MetaData()
requests_table = Table(
    "bench_baseline_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def create_app(database_url: str) -> Flask:
    engine = make_engine(database_url)
    app = Flask("bench-baseline")

    @app.post("/baseline")
    def accept() -> tuple[dict[str, Any], int]:
        body = json.loads(request.get_data())
        row_id = uuid.uuid4().hex
        with engine.begin() as connection:
            connection.execute(
                insert(requests_table).values(
                    id=row_id, body=json.dumps(body), created_at=datetime.now(UTC)
                )
            )
        return {"id": row_id}, 201

    return app


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any], database_url: str) -> None:
        self.options = options
        self.database_url = database_url
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app(self.database_url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    metadata.create_all(engine)
    engine.dispose()
    # The same options as approvals.web.server.serve, so only the application differs.
    _Server(
        {
            "bind": f"127.0.0.1:{args.port}",
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread",
            "accesslog": "-",
            "graceful_timeout": 20,
            "timeout": 60,
        },
        args.database_url,
    ).run()


if __name__ == "__main__":
    main()
