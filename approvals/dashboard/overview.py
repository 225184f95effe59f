"""The overview's figures: requests per day by outcome, time from email to answer, callback
outcomes and attempt latency, over the last :data:`DAYS` days, for what the viewer may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from statistics import quantiles

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from approvals.dashboard import charts
from approvals.dashboard.accounts import Viewer
from approvals.store.models import (
    Delivery,
    DeliveryAttempt,
    Recipient,
    Response,
    Subscription,
    utcnow,
)
from approvals.store.status import DeliveryStatus, SubscriptionStatus

DAYS = 14
# Percentiles are taken over at most this many of the most recent answers and attempts.
SAMPLE = 5000
LATENCY_BUCKETS_MS = (100, 300, 1000, 3000, 10000)


@dataclass(frozen=True)
class Figures:
    per_day: list[charts.Stack]
    answer_seconds: tuple[float, float] | None  # median, p90
    answers: int
    callbacks: dict[str, int]
    attempt_ms: tuple[float, float] | None  # median, p90
    latency_buckets: list[tuple[str, int]]


def _median_p90(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0], values[0]
    cuts = quantiles(values, n=10, method="inclusive")
    return cuts[4], cuts[8]


def figures(session: Session, viewer: Viewer) -> Figures:
    since = utcnow() - timedelta(days=DAYS)
    own = [] if viewer.is_admin else [Subscription.client_id == viewer.client_id]
    created = Subscription.created_at
    if session.get_bind().dialect.name == "postgresql":  # the day in UTC, not the server's zone
        created = func.timezone("UTC", created)
    day = func.date(created)
    counts = session.execute(
        select(day, Subscription.status, func.count())
        .where(Subscription.created_at >= since, *own)
        .group_by(day, Subscription.status)
    )
    by_day: dict[str, dict[str, int]] = {}
    for when, status, count in counts:
        by_day.setdefault(str(when)[:10], {})[status] = count
    today = utcnow().date()
    per_day = [
        charts.Stack(
            (today - timedelta(days=n)).strftime("%m-%d"),
            by_day.get(str(today - timedelta(days=n)), {}),
        )
        for n in range(DAYS - 1, -1, -1)
    ]
    waits = session.execute(
        select(Response.responded_at, Recipient.sent_at)
        .join(Recipient, Recipient.id == Response.recipient_id)
        .join(Subscription, Subscription.id == Response.subscription_id)
        .where(Response.responded_at >= since, Recipient.sent_at.is_not(None), *own)
        .order_by(Response.responded_at.desc())
        .limit(SAMPLE)
    ).all()
    answer_seconds = [max((r - s).total_seconds(), 0.0) for r, s in waits]
    delivery_own = [] if viewer.is_admin else [Delivery.client_id == viewer.client_id]
    outcomes = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.created_at >= since, *delivery_own)
            .group_by(Delivery.status)
        ).all()
    )
    durations = [
        float(ms)
        for (ms,) in session.execute(
            select(DeliveryAttempt.duration_ms)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(DeliveryAttempt.started_at >= since, *delivery_own)
            .order_by(DeliveryAttempt.started_at.desc())
            .limit(SAMPLE)
        )
    ]
    return Figures(
        per_day=per_day,
        answer_seconds=_median_p90(answer_seconds),
        answers=len(answer_seconds),
        callbacks={str(s): outcomes.get(str(s), 0) for s in DeliveryStatus},
        attempt_ms=_median_p90(durations),
        latency_buckets=_buckets(durations),
    )


def _buckets(durations: list[float]) -> list[tuple[str, int]]:
    edges = (0, *LATENCY_BUCKETS_MS)
    found = []
    for low, high in zip(edges, LATENCY_BUCKETS_MS, strict=False):
        found.append((f"{low}-{high} ms", sum(1 for d in durations if low <= d < high)))
    last = LATENCY_BUCKETS_MS[-1]
    found.append((f"≥ {last} ms", sum(1 for d in durations if d >= last)))
    return found


def charts_for(figures: Figures) -> dict[str, Markup]:
    """The overview's pictures, as SVG safe to put in the page (every label escaped)."""
    parts = [str(s) for s in SubscriptionStatus]
    return {
        "per_day": Markup(
            charts.stacked_bars(f"Requests per day, last {DAYS} days", figures.per_day, parts)
        ),
        "callbacks": Markup(charts.bars("Callbacks by outcome", sorted(figures.callbacks.items()))),
        "latency": Markup(charts.bars("Callback attempt latency", figures.latency_buckets)),
    }
