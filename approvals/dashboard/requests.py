"""The requests a viewer may see: one page of a filtered list, the counts, and one request whole.

Lists are newest first and paged by keyset (``created_at``, ``id``) on the indexes made for
them, so page 1,000 costs what page 1 does. An admin sees every client's requests; anyone else
only their own, and another client's request is "not found", whatever its id.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.orm import Session, selectinload

from approvals.approval.subscriptions import deliveries_for
from approvals.dashboard.accounts import Viewer
from approvals.errors import NotFound
from approvals.policies.view import PolicyView, policy_view
from approvals.store.models import (
    ApiClient,
    Delivery,
    Recipient,
    Response,
    Subscription,
)
from approvals.store.status import SubscriptionStatus

PAGE_SIZE = 50
KINDS = ("approvalmail", "mailwithoptions")
STATUSES = tuple(str(s) for s in SubscriptionStatus)


@dataclass(frozen=True)
class RequestFilter:
    """What the list is narrowed to; every field optional."""

    status: str | None = None
    kind: str | None = None
    recipient: str | None = None
    since: date | None = None
    until: date | None = None
    search: str | None = None


@dataclass(frozen=True)
class RequestRow:
    id: str
    kind: str
    subject: str
    status: str
    created_at: datetime
    recipients: list[str]
    client_name: str


@dataclass(frozen=True)
class RequestPage:
    rows: list[RequestRow]
    counts: dict[str, int]
    next_cursor: str | None


@dataclass(frozen=True)
class RequestDetail:
    subscription: Subscription
    client_name: str
    answers: list[tuple[Response, str]]  # each answer with its recipient's address
    deliveries: list[Delivery]
    policy: PolicyView
    handed: dict[str, str] = field(default_factory=dict)  # recipient id -> the address handed to


class BadCursor(ValueError):
    """A page cursor that is not one this list made."""


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, row_id = raw.split("|", 1)
        return datetime.fromisoformat(moment), row_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("this page link is not valid; start from the first page") from None


def _subject() -> ColumnElement[str]:
    return Subscription.message["Subject"].as_string()


def _conditions(viewer: Viewer, filters: RequestFilter) -> list[ColumnElement[bool]]:
    """Everything but the status (the counts are per status)."""
    found: list[ColumnElement[bool]] = []
    if not viewer.is_admin:
        found.append(Subscription.client_id == viewer.client_id)
    if filters.kind:
        found.append(Subscription.kind == filters.kind)
    if filters.recipient:
        # From the recipients' index to their requests (an EXISTS per request would scan).
        found.append(
            Subscription.id.in_(
                select(Recipient.subscription_id).where(
                    func.lower(Recipient.address) == filters.recipient.strip().lower()
                )
            )
        )
    if filters.since:
        found.append(
            Subscription.created_at >= datetime.combine(filters.since, time.min, tzinfo=UTC)
        )
    if filters.until:
        found.append(
            Subscription.created_at
            < datetime.combine(filters.until + timedelta(days=1), time.min, tzinfo=UTC)
        )
    if filters.search:
        escaped = filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found.append(func.lower(_subject()).like(f"%{escaped.lower()}%", escape="\\"))
    return found


def status_counts(session: Session, viewer: Viewer, filters: RequestFilter) -> dict[str, int]:
    """How many requests of each status match the filter (status aside)."""
    counts = dict.fromkeys(STATUSES, 0)
    rows = session.execute(
        select(Subscription.status, func.count())
        .where(*_conditions(viewer, filters))
        .group_by(Subscription.status)
    )
    for status, count in rows:
        counts[status] = count
    return counts


def list_requests(
    session: Session,
    viewer: Viewer,
    filters: RequestFilter,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> RequestPage:
    """One page of the viewer's requests, newest first, and the counts per status."""
    conditions = _conditions(viewer, filters)
    if filters.status:
        conditions.append(Subscription.status == filters.status)
    if cursor:
        moment, row_id = decode_cursor(cursor)
        # A row-value comparison: one range on the (created_at, id) index.
        conditions.append(tuple_(Subscription.created_at, Subscription.id) < (moment, row_id))
    found = list(
        session.execute(
            select(Subscription, ApiClient.name)
            .join(ApiClient, ApiClient.id == Subscription.client_id)
            .where(*conditions)
            .options(selectinload(Subscription.recipients))
            .order_by(Subscription.created_at.desc(), Subscription.id.desc())
            .limit(limit + 1)
        ).all()
    )
    rows = [
        RequestRow(
            id=s.id,
            kind=s.kind,
            subject=str(s.message.get("Subject") or ""),
            status=s.status,
            created_at=s.created_at,
            recipients=[r.address for r in s.recipients if r.reassigned_to is None],
            client_name=name,
        )
        for s, name in found[:limit]
    ]
    last = found[limit - 1][0] if len(found) > limit else None
    return RequestPage(
        rows,
        status_counts(session, viewer, filters),
        encode_cursor(last.created_at, last.id) if last is not None else None,
    )


def visible_subscription(session: Session, viewer: Viewer, subscription_id: str) -> Subscription:
    """The request, if the viewer may see it; otherwise "not found" (never "forbidden")."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or not viewer.sees(subscription.client_id):
        raise NotFound("no such request", field="id")
    return subscription


def request_detail(session: Session, viewer: Viewer, subscription_id: str) -> RequestDetail:
    """Everything the request page shows: recipients, answers, callbacks and their attempts."""
    subscription = visible_subscription(session, viewer, subscription_id)
    addresses = {r.id: r.address for r in subscription.recipients}
    answers = [
        (answer, addresses.get(answer.recipient_id, ""))
        for answer in session.scalars(
            select(Response)
            .where(Response.subscription_id == subscription.id)
            .order_by(Response.responded_at)
        )
    ]
    handed = {
        r.id: addresses.get(r.reassigned_to, "") for r in subscription.recipients if r.reassigned_to
    }
    client_name = session.scalar(
        select(ApiClient.name).where(ApiClient.id == subscription.client_id)
    )
    return RequestDetail(
        subscription=subscription,
        client_name=client_name or "",
        answers=answers,
        deliveries=deliveries_for(session, subscription.id),
        policy=policy_view(session, subscription),
        handed=handed,
    )
