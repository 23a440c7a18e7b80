"""Storage of runs, cursors, claims and the audit trail (SQLAlchemy 2, Alembic migrations).

The one stateful part of the service: replicas share it through PostgreSQL; the default is
an SQLite file (a single replica).
"""
