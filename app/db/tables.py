"""The tables (SQLAlchemy Core). The migrations in ``migrations/versions`` create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()
# An auto-incrementing 64-bit key (SQLite only auto-increments INTEGER PRIMARY KEY).
Id = BigInteger().with_variant(Integer(), "sqlite")

runs = Table(
    "runs", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("seed", String(40), nullable=False, comment="decimal: 128 bits fit no SQL integer"),
    Column("seed_given", Boolean, nullable=False),
    Column("note", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("versions", JSON, nullable=False),
)

cursors = Table(
    "cursors", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("runs.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("run_id", "name", name="uq_cursors_run_name"),
)

claims = Table(
    "claims", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("cursor_id", Id, ForeignKey("cursors.id"), nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("worker", String(200), nullable=False),
    Column("key", String(100), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("cursor_id", "key", name="uq_claims_cursor_key"),
    Index("ix_claims_cursor_offset", "cursor_id", "offset"),
)

audit = Table(
    "audit", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("run", String(64), nullable=False),
    Column("endpoint", String(200), nullable=False),
    Column("spawn_key", String(200), nullable=True),
    Column("offset", String(20), nullable=True, comment="decimal: offsets reach 2**64-1"),
    Column("count", BigInteger, nullable=True),
    Column("request_id", String(100), nullable=True),
    Column("api_key_id", String(100), nullable=True),
    Index("ix_audit_run_id", "run", "id"),
)
