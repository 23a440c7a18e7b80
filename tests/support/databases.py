"""Databases for the tests of runs: a fresh SQLite file, or a fresh schema on the real
PostgreSQL server (127.0.0.1:5432, database ``test``, user ``postgres``, no password; override
with SEED_AUTHORITY_TEST_POSTGRES_URL). Each test gets an empty database, so migrations are
exercised from nothing every time."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("SEED_AUTHORITY_TEST_POSTGRES_URL",
                        "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def postgres_reachable() -> str | None:
    """None if the server answers, else why not."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure: report it
        return f"{type(exc).__name__}: {exc}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose connections work in a new, empty schema, dropped afterwards."""
    why = postgres_reachable()
    if why is not None:
        if os.environ.get("SEED_AUTHORITY_TEST_POSTGRES") == "require":
            pytest.fail(f"PostgreSQL at {PG_URL} is required and unreachable: {why}")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable: {why}")
    schema = f"sa_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'runs.db'}"
    else:
        with postgres_schema() as url:
            yield url
