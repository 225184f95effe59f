"""push subscriptions to the connector's triggers

Revision ID: 0005_trigger_subscriptions
Revises: 0004_operations
Create Date: 2026-12-02 14:20:00
"""

import sqlalchemy as sa
from alembic import op

from approvals.store.models import UTCDateTime

revision = "0005_trigger_subscriptions"
down_revision = "0004_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_subscriptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("mailbox", sa.String(length=320), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("notification_url", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("poll_status", sa.String(length=20), nullable=False),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("poll_claimed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("poll_enqueued_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_poll_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_poll_items", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_trigger_subscriptions_client_id", "trigger_subscriptions", ["client_id"])
    op.create_index(
        "ix_trigger_subscriptions_poll", "trigger_subscriptions", ["poll_status", "next_poll_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_trigger_subscriptions_poll", table_name="trigger_subscriptions")
    op.drop_index("ix_trigger_subscriptions_client_id", table_name="trigger_subscriptions")
    op.drop_table("trigger_subscriptions")
