"""dashboard: admin keys, browser sessions, one-time sign-in links, indexes for the lists

Revision ID: 0007_dashboard
Revises: 0006_approval_policies
Create Date: 2026-12-02 18:30:00

Sessions and sign-in links are stored by the SHA-256 of their token, like API keys: a copy
of the database signs nobody in.
"""

import sqlalchemy as sa
from alembic import op

from approvals.store.models import UTCDateTime

revision = "0007_dashboard"
down_revision = "0006_approval_policies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has it): a batch copy would drop a table others refer to.
    op.add_column(
        "api_clients",
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "dashboard_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_dashboard_sessions_client_id", "dashboard_sessions", ["client_id"])
    op.create_table(
        "signin_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(
        "ix_subscriptions_client_created", "subscriptions", ["client_id", "created_at", "id"]
    )
    op.create_index("ix_subscriptions_created", "subscriptions", ["created_at", "id"])
    op.create_index("ix_subscriptions_client_status", "subscriptions", ["client_id", "status"])
    op.create_index("ix_recipients_address_lower", "recipients", [sa.text("lower(address)")])
    op.create_index("ix_deliveries_created", "deliveries", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_created", table_name="deliveries")
    op.drop_index("ix_recipients_address_lower", table_name="recipients")
    op.drop_index("ix_subscriptions_client_status", table_name="subscriptions")
    op.drop_index("ix_subscriptions_created", table_name="subscriptions")
    op.drop_index("ix_subscriptions_client_created", table_name="subscriptions")
    op.drop_table("signin_links")
    op.drop_index("ix_dashboard_sessions_client_id", table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
    with op.batch_alter_table("api_clients") as batch_op:
        batch_op.drop_column("is_admin")
