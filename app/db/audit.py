"""The audit trail: rows queued by requests, written in batches by one background thread,
so a request pays for appending to a list, not for a database round trip."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from app.core.runs import DatabaseUnavailable
from app.db.store import Database, now

log = logging.getLogger("seed_authority.audit")
MAX_PENDING = 100_000
"""Rows kept while the database is away; older ones are dropped (and counted) past it."""


class AuditWriter:
    def __init__(self, db: Database, flush_ms: float = 200.0) -> None:
        self.db, self.interval = db, flush_ms / 1000
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = self.dropped = 0

    def record(self, run: str, endpoint: str, *, spawn_key: str | None = None,
               offset: int | None = None, count: int | None = None,
               request_id: str | None = None, api_key_id: str | None = None) -> None:
        row = {"at": now(), "run": run, "endpoint": endpoint[:200], "spawn_key": spawn_key,
               "offset": None if offset is None else str(offset), "count": count,
               "request_id": request_id and request_id[:100],
               "api_key_id": api_key_id and api_key_id[:100]}
        with self._lock:
            self._pending.append(row)
            if len(self._pending) > MAX_PENDING:
                del self._pending[0]
                self.dropped += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="audit", daemon=True)
                self._thread.start()

    def flush(self) -> int:
        """Write what is queued now; the rows written (0 if the database is away)."""
        with self._lock:
            rows, self._pending = self._pending, []
        try:
            self.db.write_audit(rows)
        except DatabaseUnavailable:
            with self._lock:
                self._pending[:0] = rows
            return 0
        except Exception:  # a row the database refuses must not stop the trail
            log.exception("audit rows dropped")
            self.dropped += len(rows)
            return 0
        self.written += len(rows)
        return len(rows)

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def stats(self) -> Mapping[str, int]:
        with self._lock:
            return {"pending": len(self._pending), "written": self.written,
                    "dropped": self.dropped}
