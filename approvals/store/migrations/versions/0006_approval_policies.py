"""approval policies: several answers per request, reminders, escalation, reassignment, outcome

Revision ID: 0006_approval_policies
Revises: 0005_trigger_subscriptions
Create Date: 2026-12-02 14:45:00

``responses`` now holds one answer per recipient (no longer one per subscription): the unnamed
unique constraint on ``subscription_id`` is dropped (named through a convention in batch mode on
SQLite, by PostgreSQL's default name there) and one on ``recipient_id`` added.
"""

import sqlalchemy as sa
from alembic import op

from approvals.store.models import UTCDateTime

revision = "0006_approval_policies"
down_revision = "0005_trigger_subscriptions"
branch_labels = None
depends_on = None

_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique_name() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "responses_subscription_id_key"
    return "uq_responses_subscription_id"


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.add_column(sa.Column("policy", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("decided_option", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("escalate_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("recipients") as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("reassigned_to", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("reassigned_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reassign_remote_addr", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reassign_user_agent", sa.Text(), nullable=True))
    with op.batch_alter_table("responses", naming_convention=_CONVENTION) as batch_op:
        batch_op.drop_constraint(_old_unique_name(), type_="unique")
        batch_op.create_unique_constraint("uq_responses_recipient_id", ["recipient_id"])
        batch_op.create_index("ix_responses_subscription_id", ["subscription_id"], unique=False)
    op.create_table(
        "reminders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subscription_id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("enqueued_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"]),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("recipient_id"),
    )
    with op.batch_alter_table("reminders") as batch_op:
        batch_op.create_index("ix_reminders_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_reminders_subscription_id", ["subscription_id"], unique=False)


def downgrade() -> None:
    op.drop_table("reminders")
    with op.batch_alter_table("responses", naming_convention=_CONVENTION) as batch_op:
        batch_op.drop_index("ix_responses_subscription_id")
        batch_op.drop_constraint("uq_responses_recipient_id", type_="unique")
        batch_op.create_unique_constraint(_old_unique_name(), ["subscription_id"])
    with op.batch_alter_table("recipients") as batch_op:
        for column in (
            "reassign_user_agent",
            "reassign_remote_addr",
            "reassigned_at",
            "reassigned_to",
            "source",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("subscriptions") as batch_op:
        for column in ("escalated_at", "escalate_at", "decided_option", "outcome", "policy"):
            batch_op.drop_column(column)
