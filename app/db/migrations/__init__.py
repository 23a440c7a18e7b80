"""Alembic migrations of the database (``python -m app.db.migrate`` applies them)."""
