"""``Database``: runs, cursors, claims and audit rows, on any SQLAlchemy URL.

Every write transaction starts with its write (an INSERT ... ON CONFLICT DO NOTHING or an
UPDATE ... RETURNING), so SQLite takes its write lock at once and never has to upgrade a read
lock, and PostgreSQL row locks make concurrent claims on one cursor queue up: each claim
reads the position the previous one committed. Connection failures become
``DatabaseUnavailable`` (503 with Retry-After): a claim is either committed whole or not at all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    create_engine,
    event,
    exc,
    insert,
    make_url,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from app.core.errors import InvalidParameter, UnknownName
from app.core.runs import (
    MAX_CURSOR_POSITION,
    Claim,
    Conflict,
    Cursor,
    CursorSpec,
    DatabaseUnavailable,
    Run,
    current_versions,
    fresh_seed,
    not_found,
)
from app.db import migrate
from app.db.tables import audit, claims, cursors, runs

CONNECT_TIMEOUT_S = 3
STATEMENT_TIMEOUT_MS = 10_000
SQLITE_BUSY_S = 30.0


def now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_S,
                                                  "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi: Any, record: Any) -> None:
            cur = dbapi.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        args["connect_timeout"] = CONNECT_TIMEOUT_S
    engine = create_engine(url, connect_args=args, pool_pre_ping=True, pool_size=10,
                           max_overflow=20, pool_timeout=10)
    if parsed.get_backend_name() == "postgresql":

        @event.listens_for(engine, "connect")
        def _timeouts(dbapi: Any, record: Any) -> None:
            cur = dbapi.cursor()
            cur.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            cur.close()
            dbapi.commit()

    return engine


class _Existing(Exception):
    """Roll back a claim whose idempotency key already has one."""

    def __init__(self, claim_id: int) -> None:
        self.claim_id = claim_id


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._migrated = False
        self._lock = threading.Lock()

    @staticmethod
    def redact(url: str) -> str:
        return make_url(url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- connections -----------------------------------------------------------------------

    def migrate(self) -> None:
        with self._unavailable_on_failure(), self.engine.connect() as conn:
            migrate.upgrade(conn)
        self._migrated = True

    def ready(self) -> None:
        """Migrate once, on the first request that needs the database (retried while it fails)."""
        if not self._migrated:
            with self._lock:
                if not self._migrated:
                    self.migrate()

    @contextmanager
    def _unavailable_on_failure(self) -> Iterator[None]:
        try:
            yield
        except (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError,
                exc.TimeoutError) as e:
            cause = e.orig if isinstance(e, exc.DBAPIError) else e
            raise DatabaseUnavailable("database", "the database cannot be reached now "
                                                  f"({type(cause).__name__}); retry later") from e
        except exc.DBAPIError as e:
            if e.connection_invalidated:
                raise DatabaseUnavailable("database", "the database connection was lost; "
                                                      "retry later") from e
            raise

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction, committed at the end of the block (rolled back on an exception)."""
        self.ready()
        with self._unavailable_on_failure(), self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        with self.begin() as conn:
            conn.execute(select(1))

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert(table) if self.dialect == "postgresql"
                else sqlite.insert(table) if self.dialect == "sqlite" else insert(table))

    # -- runs ------------------------------------------------------------------------------

    @staticmethod
    def _run(row: Row[Any]) -> Run:
        return Run(name=row.name, seed=int(row.seed),
                   seed_source="given" if row.seed_given else "entropy",
                   created_at=_utc(row.created_at), versions=dict(row.versions), note=row.note)

    def create_run(self, name: str, seed: int | None = None, note: str | None = None,
                   versions: Mapping[str, str] | None = None) -> tuple[Run, bool]:
        """The run of that name, created if new (then True). A different explicit seed for
        an existing run is a Conflict."""
        value = fresh_seed() if seed is None else seed
        stmt = self._insert(runs).values(
            name=name, seed=str(value), seed_given=seed is not None, note=note,
            created_at=now(), versions=dict(versions or current_versions()))
        if self.dialect in ("postgresql", "sqlite"):
            stmt = stmt.on_conflict_do_nothing(index_elements=["name"])
        with self.begin() as conn:
            try:
                created = conn.execute(stmt).rowcount == 1
            except exc.IntegrityError:  # other dialects: the name exists
                created = False
            row = conn.execute(select(runs).where(runs.c.name == name)).one()
        run = self._run(row)
        if not created and seed is not None and run.seed != seed:
            raise Conflict("seed", f"run {name!r} exists with another seed; a run's seed never "
                                   "changes (omit seed to get the stored run)")
        return run, created

    def _run_row(self, conn: Connection, name: str) -> Row[Any]:
        row = conn.execute(select(runs).where(runs.c.name == name)).one_or_none()
        if row is None:
            raise not_found(name)
        return row

    def get_run(self, name: str) -> Run:
        with self.begin() as conn:
            return self._run(self._run_row(conn, name))

    def list_runs(self, limit: int, before: int | None = None) -> tuple[list[Run], int | None]:
        """Newest first; ``before``: the page token of the previous page."""
        query = select(runs).order_by(runs.c.id.desc()).limit(limit + 1)
        if before is not None:
            query = query.where(runs.c.id < before)
        with self.begin() as conn:
            rows = conn.execute(query).all()
        token = rows[limit - 1].id if len(rows) > limit else None
        return [self._run(r) for r in rows[:limit]], token

    # -- cursors ---------------------------------------------------------------------------

    def _cursor(self, run: str, row: Row[Any]) -> Cursor:
        return Cursor(run=run, name=row.name, spec=CursorSpec.from_dict(row.spec),
                      position=int(row.position), created_at=_utc(row.created_at))

    def create_cursor(self, run: str, name: str, spec: CursorSpec) -> tuple[Cursor, bool]:
        with self.begin() as conn:
            run_id = self._run_row(conn, run).id
        stmt = self._insert(cursors).values(run_id=run_id, name=name, spec=spec.as_dict(),
                                            position=0, created_at=now())
        if self.dialect in ("postgresql", "sqlite"):
            stmt = stmt.on_conflict_do_nothing(index_elements=["run_id", "name"])
        where = (cursors.c.run_id == run_id) & (cursors.c.name == name)
        with self.begin() as conn:
            try:
                created = conn.execute(stmt).rowcount == 1
            except exc.IntegrityError:
                created = False
            cursor = self._cursor(run, conn.execute(select(cursors).where(where)).one())
        if cursor.spec != spec:
            raise Conflict("cursor", f"cursor {name!r} of run {run!r} exists with another "
                                     f"stream: {cursor.spec.as_dict()}")
        return cursor, created

    def get_cursor(self, run: str, name: str) -> Cursor:
        with self.begin() as conn:
            run_id = self._run_row(conn, run).id
            row = conn.execute(select(cursors).where(
                (cursors.c.run_id == run_id) & (cursors.c.name == name))).one_or_none()
        if row is None:
            raise _no_cursor(run, name)
        return self._cursor(run, row)

    def list_cursors(self, run: str) -> list[Cursor]:
        with self.begin() as conn:
            run_id = self._run_row(conn, run).id
            rows = conn.execute(select(cursors).where(cursors.c.run_id == run_id)
                                .order_by(cursors.c.id)).all()
        return [self._cursor(run, r) for r in rows]

    # -- claims ----------------------------------------------------------------------------

    def _claim(self, run: str, cursor: str, row: Row[Any]) -> Claim:
        return Claim(id=int(row.id), run=run, cursor=cursor, offset=int(row.offset),
                     count=int(row._mapping["count"]), worker=row.worker,
                     created_at=_utc(row.created_at))

    def claim(self, run: str, cursor: str, count: int, worker: str,
              key: str | None = None) -> tuple[Claim, bool, CursorSpec]:
        """Reserve [position, position + count) of the cursor atomically, in one transaction;
        with an idempotency ``key`` already used on this cursor, the claim made with it
        (False). Also the cursor's stream."""
        run_id = select(runs.c.id).where(runs.c.name == run).scalar_subquery()
        advance = (update(cursors)
                   .where((cursors.c.run_id == run_id) & (cursors.c.name == cursor))
                   .values(position=cursors.c.position + count)
                   .returning(cursors.c.id, cursors.c.position, cursors.c.spec))
        try:
            with self.begin() as conn:
                moved = conn.execute(advance).one_or_none()
                if moved is None:
                    self._run_row(conn, run)  # 404 naming the run if that is what is missing
                    raise _no_cursor(run, cursor)
                spec = CursorSpec.from_dict(moved.spec)
                stop = int(moved.position)
                if stop > MAX_CURSOR_POSITION:
                    raise InvalidParameter("count", f"the cursor would pass {MAX_CURSOR_POSITION}")
                if key is not None:
                    existing = conn.execute(select(claims.c.id).where(
                        (claims.c.cursor_id == moved.id) & (claims.c.key == key))).scalar()
                    if existing is not None:
                        raise _Existing(int(existing))
                made = now()
                claim_id = conn.execute(insert(claims).values(
                    cursor_id=moved.id, offset=stop - count, count=count, worker=worker,
                    key=key, created_at=made).returning(claims.c.id)).scalar_one()
        except _Existing as e:
            return self.get_claim(run, cursor, e.claim_id), False, spec
        return Claim(int(claim_id), run, cursor, stop - count, count, worker, made), True, spec

    def _cursor_id(self, conn: Connection, run: str, cursor: str) -> int:
        run_id = self._run_row(conn, run).id
        found = conn.execute(select(cursors.c.id).where(
            (cursors.c.run_id == run_id) & (cursors.c.name == cursor))).scalar()
        if found is None:
            raise _no_cursor(run, cursor)
        return int(found)

    def get_claim(self, run: str, cursor: str, claim_id: int) -> Claim:
        with self.begin() as conn:
            cursor_id = self._cursor_id(conn, run, cursor)
            row = conn.execute(select(claims).where(
                (claims.c.cursor_id == cursor_id) & (claims.c.id == claim_id))).one_or_none()
        if row is None:
            raise UnknownName("claim", f"cursor {cursor!r} of run {run!r} has no claim "
                                       f"{claim_id}")
        return self._claim(run, cursor, row)

    def list_claims(self, run: str, cursor: str, limit: int,
                    start: int = 0) -> tuple[list[Claim], int | None]:
        """Claims in offset order from offset ``start``; the next page's start, or None."""
        with self.begin() as conn:
            cursor_id = self._cursor_id(conn, run, cursor)
            rows = conn.execute(
                select(claims).where((claims.c.cursor_id == cursor_id)
                                     & (claims.c.offset >= start))
                .order_by(claims.c.offset).limit(limit + 1)).all()
        page = [self._claim(run, cursor, r) for r in rows[:limit]]
        return page, (page[-1].next_offset if len(rows) > limit else None)

    # -- audit -----------------------------------------------------------------------------

    def write_audit(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            with self.begin() as conn:
                conn.execute(insert(audit), [dict(r) for r in rows])

    def read_audit(self, run: str, limit: int,
                   after: int = 0) -> tuple[list[dict[str, Any]], int | None]:
        """Oldest first, from after the row id ``after``; the next page's token, or None."""
        with self.begin() as conn:
            self._run_row(conn, run)
            rows = conn.execute(select(audit).where((audit.c.run == run) & (audit.c.id > after))
                                .order_by(audit.c.id).limit(limit + 1)).all()
        out = [{"id": int(r.id), "at": _utc(r.at).isoformat(), "run": r.run,
                "endpoint": r.endpoint, "spawn_key": r.spawn_key,
                "offset": None if r.offset is None else int(r.offset), "count": r._mapping["count"],
                "request_id": r.request_id, "api_key_id": r.api_key_id} for r in rows[:limit]]
        return out, (out[-1]["id"] if len(rows) > limit else None)


def _no_cursor(run: str, name: str) -> UnknownName:
    return UnknownName("cursor", f"run {run!r} has no cursor {name!r}; create it with "
                                 f"PUT /v1/runs/{run}/cursors/{name}")
