"""connector operations run against Graph, with their kept answers

Revision ID: 0004_operations
Revises: 0003_client_mailboxes
Create Date: 2026-12-02 03:30:00
"""

import sqlalchemy as sa
from alembic import op

from approvals.store.models import UTCDateTime

revision = "0004_operations"
down_revision = "0003_client_mailboxes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("mailbox", sa.String(length=320), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("repeatable", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("result_status", sa.Integer(), nullable=True),
        sa.Column("result_type", sa.String(length=255), nullable=True),
        sa.Column("result_body", sa.LargeBinary(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "idempotency_key"),
    )
    op.create_index("ix_operations_status_due", "operations", ["status", "due_at"])
    op.create_index("ix_operations_expires", "operations", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_operations_expires", table_name="operations")
    op.drop_index("ix_operations_status_due", table_name="operations")
    op.drop_table("operations")
