"""The dashboard's requests list at 100,000 rows against the same pages at 1,000.

``python -m bench.dashboard_run --backend both [--rows 100000]``: per backend, two databases of
one client's requests (each with two recipients), one of ``--rows`` and a baseline of 1,000,
and the pages a person opens, through the real app (Flask's test client, no network): the
first page, a page deep in the list (by its keyset cursor), a recipient filter and a subject
search. Keyset pages must cost what they cost at 1,000 rows (ratio near 1); the target is a
page under 100 ms at 100,000 rows on PostgreSQL.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import insert

from approvals.clients import create_client
from approvals.config import load_settings
from approvals.crypto import SecretBox
from approvals.dashboard.accounts import create_signin_link
from approvals.dashboard.requests import encode_cursor
from approvals.store.db import Database, database_for
from approvals.store.migrate import upgrade
from approvals.store.models import Recipient, Subscription
from approvals.web.app import create_app
from bench.harness import DEFAULT_PG_URL
from bench.report import BackendReport, Row, Target, render
from tests.conftest import PostgresDatabase

BASELINE_ROWS = 1_000
SAMPLES = 15
BATCH = 5_000
PAGE_TARGET_MS = 100.0


def _seed(db: Database, client_id: str, rows: int) -> tuple[datetime, str]:
    """``rows`` requests a minute apart, newest now; the created time and id of the middle one."""
    now = datetime.now(UTC)
    middle: tuple[datetime, str] = (now, "")
    with db.engine.begin() as conn:
        for start in range(0, rows, BATCH):
            subscriptions, recipients = [], []
            for n in range(start, min(start + BATCH, rows)):
                sid = uuid.uuid4().hex
                created = now - timedelta(minutes=n)
                if n == rows // 2:
                    middle = (created, sid)
                subscriptions.append(
                    {
                        "id": sid,
                        "client_id": client_id,
                        "kind": "approvalmail",
                        "notification_url": "http://127.0.0.1:9/cb",
                        "message": {"To": f"p{n}@example.com", "Subject": f"Deploy build {n}"},
                        "options": ["Approve", "Reject"],
                        "status": ("pending", "completed", "cancelled", "expired")[n % 4],
                        "created_at": created,
                        "expires_at": created + timedelta(days=30),
                    }
                )
                recipients += [
                    {
                        "id": uuid.uuid4().hex,
                        "subscription_id": sid,
                        "position": i,
                        "address": f"p{n}-{i}@example.com",
                        "email_status": "sent",
                    }
                    for i in range(2)
                ]
            conn.execute(insert(Subscription), subscriptions)
            conn.execute(insert(Recipient), recipients)
    return middle


def _settle(db: Database) -> None:
    """What a live database has had time to do after a bulk load: statistics, and (PostgreSQL)
    the visibility map autovacuum keeps, without which no index-only scan is possible."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(
            "VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"
        )


def _instance(database_url: str, rows: int) -> tuple[FlaskClient, dict[str, str]]:
    """A signed-in browser on an app whose database holds ``rows`` requests; the paths."""
    folder = tempfile.mkdtemp(prefix="bench-dashboard-")
    settings = load_settings(
        {"APPROVALS_INSTANCE_PATH": folder, "APPROVALS_DATABASE_URL": database_url}
    )
    db = database_for(settings.database_url)
    upgrade(db)
    with db.session() as session:
        client = create_client(session, "bench", SecretBox(settings.secret_key)).id
    middle = _seed(db, client, rows)
    _settle(db)
    with db.session() as session:
        token = create_signin_link(session, client)
    browser = create_app(settings).test_client()
    assert browser.get(f"/dashboard/signin/{token}").status_code == 303
    n = rows // 2
    return browser, {
        "first page": "/dashboard/requests",
        "a page half way down": f"/dashboard/requests?after={encode_cursor(*middle)}",
        "first page, one status": "/dashboard/requests?status=completed",
        "recipient filter": f"/dashboard/requests?recipient=p{n}-1@example.com",
        "subject search": f"/dashboard/requests?q=build+{n}",
    }


def _median_ms(call: Callable[[], object]) -> float:
    call()  # warm
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _page(browser: FlaskClient, path: str) -> Callable[[], object]:
    def get() -> object:
        answer = browser.get(path)
        assert answer.status_code == 200, answer.status_code
        return answer

    return get


def run_backend(name: str, urls: Callable[[], str], rows: int) -> BackendReport:
    report = BackendReport(f"{name}: the requests list, {rows:,} rows vs {BASELINE_ROWS:,}")
    big, big_paths = _instance(urls(), rows)
    small, small_paths = _instance(urls(), BASELINE_ROWS)
    worst = 0.0
    for figure, path in big_paths.items():
        ours = _median_ms(_page(big, path))
        baseline = _median_ms(_page(small, small_paths[figure]))
        if figure != "subject search":
            worst = max(worst, ours)
        report.rows.append(
            Row(f"{figure} (ms, median of {SAMPLES})", ours, baseline, ours / baseline)
        )
    report.targets.append(
        Target(
            f"keyset pages under {PAGE_TARGET_MS:.0f} ms at {rows:,} rows", worst < PAGE_TARGET_MS
        )
    )
    report.notes.append("Subject search scans the client's rows (no index on the JSON subject).")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("embedded", "postgres", "both"), default="both")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    made: list[PostgresDatabase] = []

    def sqlite_url() -> str:
        return f"sqlite:///{tempfile.mkdtemp(prefix='bench-dashboard-db-')}/state.sqlite"

    def postgres_url() -> str:
        database = PostgresDatabase(DEFAULT_PG_URL)
        database.create()
        made.append(database)
        return database.url

    try:
        if args.backend in ("embedded", "both"):
            print(render(run_backend("SQLite", sqlite_url, args.rows)))
        if args.backend in ("postgres", "both"):
            print(render(run_backend("PostgreSQL", postgres_url, args.rows)))
    finally:
        for database in made:
            database.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
