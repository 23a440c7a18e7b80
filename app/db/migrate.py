"""Apply the migrations: ``python -m app.db.migrate [URL]`` (default: the configured URL).

The service also applies them itself on its first database request. On PostgreSQL an
advisory lock makes replicas that start together migrate one after the other.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK_ID = 0x5EED_A07


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection) -> None:
    """Bring the database to the newest revision (idempotent), then commit."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
    command.upgrade(alembic_config(connection), "head")
    connection.commit()


def main(argv: list[str]) -> int:
    from app.config import get_settings
    from app.db.store import Database

    url = argv[0] if argv else get_settings().database_url
    Database(url).migrate()
    print(f"migrated {Database.redact(url)} to the newest revision")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
