"""Cluster state: live controllers, and what an accepted activation needs to be finished or
re-dispatched by another controller.

``controllers``: one row per running controller process (an *incarnation*: a restart is a new
row), refreshed every second; a row not refreshed for a few seconds is a dead controller.
``activations.controller``: the incarnation that accepted a running activation;
``activations.message``: the invoke message it sends to an invoker (cleared when the final
record is stored), so that another controller can re-dispatch work that never started.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "controllers",
        sa.Column("incarnation", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("url", sa.String(256), nullable=False),
        sa.Column("started", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("draining", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("activations") as batch:
        batch.add_column(sa.Column("controller", sa.String(32), nullable=True))
        batch.add_column(sa.Column("message", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activations") as batch:
        batch.drop_column("message")
        batch.drop_column("controller")
    op.drop_table("controllers")
