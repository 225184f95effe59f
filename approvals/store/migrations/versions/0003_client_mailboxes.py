"""API clients are bound to the Microsoft 365 mailboxes they may act on

Revision ID: 0003_client_mailboxes
Revises: 0002_delivery_owner
Create Date: 2026-12-02 03:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_client_mailboxes"
down_revision = "0002_delivery_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_mailboxes",
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"]),
        sa.PrimaryKeyConstraint("client_id", "address"),
    )


def downgrade() -> None:
    op.drop_table("client_mailboxes")
