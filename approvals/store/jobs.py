"""Work that a transaction makes due, published only once that transaction commits.

A service that makes a row due (a recipient's mail, a callback) calls :func:`after_commit` in
the same session. When the session commits, the process's :class:`Publisher` hands the row
ids to the broker ("go look at row N"); when it rolls back they are forgotten. So no route can
forget to enqueue, and nothing is enqueued for a row that was never written. A message that
is lost anyway (the process died before publishing) only delays the work: the row is due and
the beat sweeper finds it (DESIGN 4).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from sqlalchemy.orm import Session

_PENDING = "approvals.jobs"


class Job(StrEnum):
    """What a message asks a worker to do, by the name of the task that does it."""

    SEND_MAIL = "worker.tasks.send_recipient_mail"
    SEND_REMINDER = "worker.tasks.send_reminders"
    DELIVER_CALLBACK = "worker.tasks.deliver_callback"
    SWEEP = "worker.tasks.sweep"
    RUN_OPERATION = "worker.tasks.run_operations"
    POLL_TRIGGER = "worker.tasks.poll_trigger_subscriptions"
    SCHEDULE_TRIGGER_POLLS = "worker.tasks.schedule_trigger_polls"


class Publisher(Protocol):
    def publish(self, job: Job, item_id: str) -> None:
        """Have ``job`` look at row ``item_id`` soon; must not block or raise."""


def after_commit(session: Session, job: Job, item_id: str) -> None:
    """Publish ``job`` for ``item_id`` when ``session`` commits (never if it rolls back)."""
    if not session.in_transaction():
        session.begin()  # so a rollback() is seen (one without a transaction fires no event)
    session.info.setdefault(_PENDING, []).append((job, item_id))


def take_jobs(session: Session) -> list[tuple[Job, str]]:
    """The jobs ``session`` owes now that it committed (called by the session's Database)."""
    return session.info.pop(_PENDING, [])


def forget_jobs(session: Session) -> None:
    """A rolled-back session owes nothing."""
    session.info.pop(_PENDING, None)
