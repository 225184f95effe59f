"""Gauges read from the database when ``/metrics`` is scraped: subscriptions by status, and
the rows each sweeper owes (mail, callbacks, operations), due and overdue.

Overdue rows (owed for longer than the claim timeout) are the first thing to alert on: work
that no worker has taken, because none runs, the broker lost its message, or all are stuck.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, or_, select

from approvals.store.claims import DELIVERIES, MAIL, OPERATIONS, OwedRows
from approvals.store.db import Database
from approvals.store.models import Subscription, utcnow
from approvals.store.status import SubscriptionStatus

SWEEPERS: dict[str, OwedRows] = {"mail": MAIL, "callbacks": DELIVERIES, "operations": OPERATIONS}


class DatabaseGauges(Collector):
    """Counts rows at collection time (a few indexed COUNT queries per scrape)."""

    def __init__(self, db: Database, claim_timeout: float) -> None:
        self.db = db
        self.claim_timeout = claim_timeout

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        overdue_before = now - timedelta(seconds=self.claim_timeout)
        subscriptions = GaugeMetricFamily(
            "approvals_subscriptions", "Subscriptions by status.", labels=["status"]
        )
        owed = GaugeMetricFamily(
            "approvals_owed_rows",
            "Rows a sweeper owes work for: due (owed now) and overdue (owed for longer than "
            "APPROVALS_CLAIM_TIMEOUT, or claimed by a worker that vanished).",
            labels=["sweeper", "state"],
        )
        with self.db.engine.connect() as conn:
            counts = dict(
                conn.execute(
                    select(Subscription.status, func.count()).group_by(Subscription.status)
                ).all()
            )
            for status in SubscriptionStatus:
                subscriptions.add_metric([status.value], counts.get(status.value, 0))
            for name, rows in SWEEPERS.items():
                due = rows.owed_now(now, self.claim_timeout)
                late = or_(rows.due_at < overdue_before, rows.lapsed(now, self.claim_timeout))
                row = conn.execute(
                    select(func.count(), func.count().filter(late))
                    .select_from(rows.table)
                    .where(due)
                ).one()
                owed.add_metric([name, "due"], row[0])
                owed.add_metric([name, "overdue"], row[1])
        yield subscriptions
        yield owed
