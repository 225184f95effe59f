"""Callbacks across requests: the failing first, then the most recent, by receiver host."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import case, select
from sqlalchemy.orm import Session, selectinload

from approvals.dashboard.accounts import Viewer
from approvals.store.models import Delivery
from approvals.store.status import DeliveryStatus

LIMIT = 100
FAILING = (DeliveryStatus.FAILED, DeliveryStatus.STOPPED)


@dataclass(frozen=True)
class CallbackRow:
    delivery: Delivery
    host: str
    last_error: str
    last_at: datetime | None


def receiver_host(url: str) -> str:
    return urlsplit(url).hostname or ""


def list_callbacks(
    session: Session, viewer: Viewer, host: str | None = None, limit: int = LIMIT
) -> list[CallbackRow]:
    """The viewer's deliveries, failed and stopped ones first, newest first within each."""
    query = select(Delivery).options(selectinload(Delivery.attempts))
    if not viewer.is_admin:
        query = query.where(Delivery.client_id == viewer.client_id)
    if host:
        wanted = host.strip().lower()
        # The host sits between "://" (and any user info) and the port or path: match loosely
        # in SQL, exactly here.
        query = query.where(Delivery.url.contains(wanted))
    failing_first = case((Delivery.status.in_(FAILING), 0), else_=1)
    rows = session.scalars(
        query.order_by(failing_first, Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)
    )
    found = []
    for delivery in rows:
        if host and receiver_host(delivery.url) != host.strip().lower():
            continue
        last = delivery.attempts[-1] if delivery.attempts else None
        error = ""
        if last is not None:
            error = last.error_code or (f"HTTP {last.status_code}" if last.status_code else "")
        found.append(
            CallbackRow(
                delivery, receiver_host(delivery.url), error, last.started_at if last else None
            )
        )
    return found
