"""Owed rows: claiming them, giving them back, and which the sweeper must enqueue again.

Every table of owed work (mail, callbacks, and Graph operations to come) is claimed the same
way, by :meth:`OwedRows.claim`: one conditional UPDATE ... RETURNING on
:meth:`OwedRows.owed_now` (compare-and-set), so two workers never act on one row. Whether a
claim older than the timeout is taken over is the table's rule (``retake_lapsed``): a mail or
a callback may be repeated after a worker died, so it is; an operation whose outcome may be
unknown (a send through Graph) must not be repeated blindly, so it is not.

Every owed row also says when a broker message for it is expected (``enqueued_at``; NULL when
none was sent). The sweeper enqueues only rows whose message is missing or overdue by the claim
timeout, so a backlog in the broker is never multiplied by the sweeper's own copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, bindparam, or_, select, update

from approvals.store.models import Delivery, Operation, Recipient, TriggerSubscription
from approvals.store.status import (
    DeliveryStatus,
    EmailStatus,
    OperationStatus,
    TriggerPollStatus,
)

# Retries sooner than this ride on a broker countdown; later ones wait for the sweeper.
MAX_COUNTDOWN_SECONDS = 120.0
# Every table of owed work calls an unclaimed row "due".
DUE = "due"


def expected_message_at(next_at: datetime, delay: float | None) -> datetime | None:
    """When the broker should deliver the retry's message: only if a countdown is used."""
    return next_at if delay is not None and delay <= MAX_COUNTDOWN_SECONDS else None


@dataclass(frozen=True)
class OwedRows:
    """Where a table keeps its claim: each table of owed work names its columns once here."""

    table: Any
    status: Any
    working: str  # the status of a claimed row
    claimed_at: Any
    attempts: Any
    due_at: Any
    enqueued_at: Any
    # Whether a claim older than the timeout is owed again: always, never, or for the rows a
    # condition picks (operations: the repeatable ones).
    retake_lapsed: bool | ColumnElement[bool] = True
    _statements: dict[tuple[str, ...], Any] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def owed_now(self, now: datetime, claim_timeout: float) -> ColumnElement[bool]:
        """Due and past their time, or (``retake_lapsed``) claimed by a worker that has not
        finished in time."""
        return self._owed(now, now - timedelta(seconds=claim_timeout))

    def lapsed(self, now: datetime, claim_timeout: float) -> ColumnElement[bool]:
        """Claimed by a worker that has not finished within the claim timeout."""
        return self._lapsed(now - timedelta(seconds=claim_timeout))

    def _owed(self, now: Any, claimed_before: Any) -> ColumnElement[bool]:
        due = and_(self.status == DUE, self.due_at <= now)
        if self.retake_lapsed is False:
            return due
        lapsed = self._lapsed(claimed_before)
        if self.retake_lapsed is not True:
            lapsed = and_(lapsed, self.retake_lapsed)
        return or_(due, lapsed)

    def _lapsed(self, claimed_before: Any) -> ColumnElement[bool]:
        return and_(self.status == self.working, self.claimed_at < claimed_before)

    def claim(
        self,
        conn: Connection,
        ids: Sequence[str],
        *,
        now: datetime,
        claim_timeout: float,
        returning: Sequence[Any],
    ) -> list[Row[Any]]:
        """Claim whichever of ``ids`` are owed now, counting an attempt; their ``returning``
        columns (the id first). Rows another worker holds, or that are done, are left alone."""
        values = {
            "ids": list(ids),
            "now": now,
            "claimed_before": now - timedelta(seconds=claim_timeout),
        }
        return list(conn.execute(self._claim_statement(tuple(returning)), values).all())

    def _claim_statement(self, returning: tuple[Any, ...]) -> Any:
        """The claim's UPDATE, built once per table and columns: building it cost a worker
        more CPU than running it."""
        key = tuple(column.key for column in returning)
        statement = self._statements.get(key)
        if statement is None:
            moment = self.due_at.type
            now = bindparam("now", type_=moment)
            statement = self._statements[key] = (
                update(self.table)
                .where(
                    self.table.id.in_(bindparam("ids", expanding=True)),
                    self._owed(now, bindparam("claimed_before", type_=moment)),
                )
                .values(
                    {
                        self.status: self.working,
                        self.claimed_at: now,
                        self.attempts: self.attempts + 1,
                    }
                )
                .returning(self.table.id, *returning)
            )
        return statement

    def take_for_enqueue(
        self, conn: Connection, *, now: datetime, claim_timeout: float, limit: int
    ) -> list[str]:
        """Ids of owed rows whose message is missing or overdue, marked as enqueued now."""
        overdue = or_(
            self.enqueued_at.is_(None),
            self.enqueued_at < now - timedelta(seconds=claim_timeout),
        )
        owed = self.owed_now(now, claim_timeout)
        ids = list(
            conn.scalars(
                select(self.table.id).where(owed, overdue).order_by(self.due_at).limit(limit)
            )
        )
        if ids:
            conn.execute(
                update(self.table).where(self.table.id.in_(ids)).values({self.enqueued_at: now})
            )
        return ids

    def give_back(
        self, conn: Connection, ids: list[str], *, due: datetime, message_expected: bool
    ) -> None:
        """Undo this worker's claims on ``ids`` without counting an attempt: owed at ``due``.

        ``message_expected``: the caller enqueues them again (for ``due``); otherwise the
        sweeper will, as for a message that went missing.
        """
        conn.execute(
            update(self.table)
            .where(self.table.id.in_(ids), self.status == self.working)
            .values(
                {
                    self.status: DUE,
                    self.claimed_at: None,
                    self.attempts: self.attempts - 1,
                    self.due_at: due,
                    self.enqueued_at: due if message_expected else None,
                }
            )
        )


MAIL = OwedRows(
    Recipient,
    Recipient.email_status,
    EmailStatus.SENDING,
    Recipient.email_claimed_at,
    Recipient.email_attempts,
    Recipient.email_next_at,
    Recipient.email_enqueued_at,
)
DELIVERIES = OwedRows(
    Delivery,
    Delivery.status,
    DeliveryStatus.DELIVERING,
    Delivery.claimed_at,
    Delivery.attempt_count,
    Delivery.next_attempt_at,
    Delivery.enqueued_at,
)
OPERATIONS = OwedRows(
    Operation,
    Operation.status,
    OperationStatus.RUNNING,
    Operation.claimed_at,
    Operation.attempts,
    Operation.due_at,
    Operation.enqueued_at,
    retake_lapsed=Operation.repeatable.is_(True),
)
# A push trigger's poll: a worker that died mid-poll wrote nothing, so its poll is run again.
TRIGGER_POLLS = OwedRows(
    TriggerSubscription,
    TriggerSubscription.poll_status,
    TriggerPollStatus.POLLING,
    TriggerSubscription.poll_claimed_at,
    TriggerSubscription.polls,
    TriggerSubscription.next_poll_at,
    TriggerSubscription.poll_enqueued_at,
)
