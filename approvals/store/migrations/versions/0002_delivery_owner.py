"""deliveries name their owner (kind and id) instead of a foreign key to subscriptions

Revision ID: 0002_delivery_owner
Revises: 4e2775036731
Create Date: 2026-12-01 19:00:00

Existing callbacks all belong to approval subscriptions: their ``subscription_id`` becomes
``("approval", subscription_id)``. Batch mode rebuilds the table on SQLite, which cannot drop a
column that a foreign key names.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_delivery_owner"
down_revision = "4e2775036731"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("owner_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("owner_id", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE deliveries SET owner_kind = 'approval', owner_id = subscription_id "
        "WHERE subscription_id IS NOT NULL"
    )
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_index("ix_deliveries_subscription_id")
        batch_op.drop_column("subscription_id")
        batch_op.create_index("ix_deliveries_owner", ["owner_kind", "owner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_index("ix_deliveries_owner")
        batch_op.add_column(sa.Column("subscription_id", sa.String(length=32), nullable=True))
    op.execute("UPDATE deliveries SET subscription_id = owner_id WHERE owner_kind = 'approval'")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.create_foreign_key(
            "fk_deliveries_subscription_id", "subscriptions", ["subscription_id"], ["id"]
        )
        batch_op.create_index("ix_deliveries_subscription_id", ["subscription_id"], unique=False)
        batch_op.drop_column("owner_id")
        batch_op.drop_column("owner_kind")
