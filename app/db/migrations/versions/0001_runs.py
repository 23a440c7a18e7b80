"""Runs, cursors, claims and the audit trail.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("seed", sa.String(40), nullable=False),
        sa.Column("seed_given", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("versions", sa.JSON, nullable=False),
    )
    op.create_table(
        "cursors",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", Id, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "name", name="uq_cursors_run_name"),
    )
    op.create_table(
        "claims",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("cursor_id", Id, sa.ForeignKey("cursors.id"), nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("key", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("cursor_id", "key", name="uq_claims_cursor_key"),
    )
    op.create_index("ix_claims_cursor_offset", "claims", ["cursor_id", "offset"])
    op.create_table(
        "audit",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("spawn_key", sa.String(200), nullable=True),
        sa.Column("offset", sa.String(20), nullable=True),
        sa.Column("count", sa.BigInteger, nullable=True),
        sa.Column("request_id", sa.String(100), nullable=True),
        sa.Column("api_key_id", sa.String(100), nullable=True),
    )
    op.create_index("ix_audit_run_id", "audit", ["run", "id"])


def downgrade() -> None:
    op.drop_table("audit")
    op.drop_table("claims")
    op.drop_table("cursors")
    op.drop_table("runs")
