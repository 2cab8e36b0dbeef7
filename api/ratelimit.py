"""Per-client rate limit with one budget per host, shared by every worker process.

A token bucket per client (``per_minute`` tokens, refilled continuously) kept in a small SQLite
file in WAL mode. Why SQLite: ``rag serve --workers N`` runs separate processes, so an
in-memory counter gives each worker its own budget (N times the limit). SQLite is in the
standard library, already used by the index, serialises the read-modify-write of a bucket with
``BEGIN IMMEDIATE`` across processes, survives a worker being killed mid-request (a torn
transaction rolls back), and in WAL mode with ``synchronous=NORMAL`` a check costs tens of
microseconds (no fsync per request). Shared memory would need its own locking and sizing; an
fcntl-locked file would need its own format. The file holds only buckets touched in the last
minute (older ones are full again, so dropping them loses nothing).

Limitation: the budget is per host. Several hosts behind a load balancer each keep their own
file; counting across hosts needs a shared database (not done yet).
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from pathlib import Path

from rag.errors import RateLimitError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 2000  # a check waits at most this long for another worker's transaction
PURGE_EVERY_S = 60.0  # how often idle (full) buckets are dropped from the file
LOCKED_RETRIES = 5  # attempts when another worker holds the file (setting up WAL at start)

_SCHEMA = """CREATE TABLE IF NOT EXISTS buckets (
    client TEXT PRIMARY KEY, tokens REAL NOT NULL, updated REAL NOT NULL)"""


class RateLimiter:
    """``check(client)`` takes one token from the client's bucket or raises ``RateLimitError``
    (with ``retry_after``: seconds until a token is back). ``per_minute <= 0`` disables it.

    The file is opened lazily on the first check. If it cannot be used (locked for longer than
    ``BUSY_TIMEOUT_MS``, unwritable), the request is let through and a warning logged: the
    bounded compute queue still protects the server, and a broken counter file must not take
    the whole API down."""

    def __init__(self, per_minute: int, path: Path) -> None:
        self.per_minute = per_minute
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection per process, used by one thread at once
        self._last_purge = 0.0

    def check(self, client: str) -> None:
        if self.per_minute <= 0:
            return
        with self._lock:
            wait = self._take_retrying(client)
            if wait is None:
                return
        if wait > 0:
            raise RateLimitError(
                f"rate limit of {self.per_minute} requests per minute exceeded; retry later",
                retry_after=wait,
            )

    def _take_retrying(self, client: str) -> float | None:
        """``_take``, tried again when another worker holds the file (its first connection
        switches the file to WAL, which a second worker starting at once may find locked);
        None, with a warning, when the file stays unusable."""
        for attempt in range(LOCKED_RETRIES):
            try:
                return self._take(client)
            except sqlite3.OperationalError as exc:
                self._close()
                if "locked" not in str(exc) or attempt == LOCKED_RETRIES - 1:
                    log.warning(
                        "rate limit file %s unusable, request let through: %s", self.path, exc
                    )
                    return None
                time.sleep(0.05 * (attempt + 1))
            except sqlite3.Error as exc:
                log.warning("rate limit file %s unusable, request let through: %s", self.path, exc)
                self._close()
                return None
        return None

    def _take(self, client: str) -> float:
        """One token from ``client``'s bucket: 0 when taken, else seconds until one is back.

        The time is read once the file is locked: read before, a worker that waited for the
        lock would store an older time than the last writer's and refill that span twice."""
        conn = self._connect()
        rate = self.per_minute / 60.0
        conn.execute("BEGIN IMMEDIATE")
        now = time.time()
        try:
            row = conn.execute(
                "SELECT tokens, updated FROM buckets WHERE client = ?", (client,)
            ).fetchone()
            tokens = float(self.per_minute) if row is None else float(row[0])
            elapsed = 0.0 if row is None else max(0.0, now - float(row[1]))
            tokens = min(float(self.per_minute), tokens + elapsed * rate)
            wait = 0.0 if tokens >= 1.0 else max(1.0, math.ceil((1.0 - tokens) / rate))
            if wait == 0.0:
                tokens -= 1.0
            conn.execute(
                "INSERT OR REPLACE INTO buckets (client, tokens, updated) VALUES (?, ?, ?)",
                (client, tokens, now),
            )
            if now - self._last_purge > PURGE_EVERY_S:
                conn.execute("DELETE FROM buckets WHERE updated < ?", (now - 60.0,))
                self._last_purge = now
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return wait

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
