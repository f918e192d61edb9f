"""Initial schema: subjects, entities, activations, invokers, workflows, workflow runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subjects",
        sa.Column("namespace", sa.String(256), primary_key=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("blocked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("limits", sa.JSON, nullable=True),
        sa.Column("created", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "entities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(256), nullable=False),
        sa.Column("collection", sa.String(16), nullable=False),
        sa.Column("package", sa.String(256), nullable=False, server_default=""),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("path", sa.String(513), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("doc", sa.JSON, nullable=False),
        sa.Column("updated", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("namespace", "path", name="uq_entities_namespace_path"),
    )
    op.create_index("ix_entities_collection", "entities", ["namespace", "collection", "package"])
    op.create_table(
        "activations",
        sa.Column("activation_id", sa.String(32), primary_key=True),
        sa.Column("namespace", sa.String(256), nullable=False),
        sa.Column("name", sa.String(513), nullable=False),
        sa.Column("start", sa.BigInteger, nullable=False),
        sa.Column("end", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("status_code", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("deadline", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cause", sa.String(32), nullable=True),
        sa.Column("doc", sa.JSON, nullable=False),
    )
    op.create_index("ix_activations_ns_start", "activations", ["namespace", "start"])
    op.create_index("ix_activations_ns_name_start", "activations", ["namespace", "name", "start"])
    op.create_index("ix_activations_state", "activations", ["state"])
    op.create_table(
        "invokers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("url", sa.String(256), nullable=False),
        sa.Column("user_memory", sa.Integer, nullable=False),
        sa.Column("cpus", sa.Float, nullable=False),
        sa.Column("registered", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.JSON, nullable=True),
    )
    op.create_table(
        "workflows",
        sa.Column("namespace", sa.String(256), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("hints", sa.Text, nullable=True),
        sa.Column("hints_updated", sa.BigInteger, nullable=True),
        sa.Column("profiles", sa.JSON, nullable=True),
        sa.Column("updated", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "workflow_runs",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("namespace", sa.String(256), nullable=False),
        sa.Column("workflow", sa.String(256), nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("start", sa.BigInteger, nullable=False),
        sa.Column("end", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("met_slo", sa.Boolean, nullable=True),
        sa.Column("core_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("gb_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("doc", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_workflow_runs_ns_wf_start", "workflow_runs", ["namespace", "workflow", "start"]
    )


def downgrade() -> None:
    for index, table in [
        ("ix_workflow_runs_ns_wf_start", "workflow_runs"),
        ("ix_activations_state", "activations"),
        ("ix_activations_ns_name_start", "activations"),
        ("ix_activations_ns_start", "activations"),
        ("ix_entities_collection", "entities"),
    ]:
        op.drop_index(index, table_name=table)
    for table in ["workflow_runs", "workflows", "invokers", "activations", "entities", "subjects"]:
        op.drop_table(table)
