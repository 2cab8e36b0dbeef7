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

With ``RAG_DATABASE_URL`` set, the buckets live in PostgreSQL instead
(:class:`SharedRateLimiter`), so every host behind a load balancer spends from the same budget:
one ``INSERT ... ON CONFLICT DO UPDATE`` per check, which PostgreSQL runs under the bucket's
row lock, with the database's clock (hosts whose clocks disagree still agree on the refill).
The table is ``UNLOGGED`` (a crash empties it, which only refills every bucket) and is created
by this module; nothing in the store's schema depends on it.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from rag.errors import RateLimitError
from rag.settings import Settings

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


class Limiter(Protocol):
    per_minute: int

    def check(self, client: str) -> None: ...


def rate_limiter(settings: Settings, path: Path) -> Limiter:
    """The shared PostgreSQL buckets when RAG_DATABASE_URL is set, else the host's file."""
    if settings.storage.database_url and settings.api.rate_limit_per_minute > 0:
        return SharedRateLimiter(settings.api.rate_limit_per_minute, settings.storage.database_url)
    return RateLimiter(settings.api.rate_limit_per_minute, path)


PG_CONNECT_TIMEOUT_S = 3  # a check never waits longer than this for a database that went away
PG_STATEMENT_TIMEOUT_MS = 2000  # nor this long for another host's row lock
PG_RETRY_AFTER_S = 10.0  # after a failure, requests pass unchecked this long before a reconnect
PG_TABLE_LOCK = 7_314_022  # pg_advisory_xact_lock key: hosts starting at once create it once
_PG_SCHEMA = """CREATE UNLOGGED TABLE IF NOT EXISTS rag_rate_buckets (
    client text PRIMARY KEY, tokens double precision NOT NULL,
    updated double precision NOT NULL, taken boolean NOT NULL)"""
# The SET expressions run once the row is locked, so clock_timestamp() is read after any other
# host's update of this bucket: ``updated`` never goes back and no span is refilled twice.
_NOW = "extract(epoch FROM clock_timestamp())"
_REFILLED = f"least(%(cap)s, b.tokens + greatest(0, {_NOW} - b.updated) * %(rate)s)"
_PG_TAKE = f"""INSERT INTO rag_rate_buckets AS b (client, tokens, updated, taken)
VALUES (%(client)s, %(cap)s - 1, {_NOW}, true)
ON CONFLICT (client) DO UPDATE SET
    tokens = CASE WHEN {_REFILLED} >= 1 THEN {_REFILLED} - 1 ELSE {_REFILLED} END,
    updated = greatest(b.updated, {_NOW}),
    taken = {_REFILLED} >= 1
RETURNING tokens, taken"""
_PG_PURGE = f"DELETE FROM rag_rate_buckets WHERE updated < {_NOW} - 60"


class SharedRateLimiter:
    """``RateLimiter``'s contract, with the buckets in PostgreSQL (shared by every host).

    One connection per process, opened on the first check. When the database cannot be used
    the request is let through with a warning, and for ``PG_RETRY_AFTER_S`` no check waits on
    it again: the compute queue still protects each host, and the limiter must not turn a
    database outage into slow or failed answers."""

    def __init__(self, per_minute: int, url: str) -> None:
        self.per_minute = per_minute
        self.url = url
        self._conn: Any = None
        self._lock = threading.Lock()
        self._last_purge = 0.0
        self._down_until = 0.0

    def check(self, client: str) -> None:
        if self.per_minute <= 0:
            return
        with self._lock:
            wait = self._take_or_none(client)
        if wait:
            raise RateLimitError(
                f"rate limit of {self.per_minute} requests per minute exceeded; retry later",
                retry_after=wait,
            )

    def _take_or_none(self, client: str) -> float | None:
        import psycopg

        if time.monotonic() < self._down_until:
            return None
        try:
            return self._take(client)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("shared rate limit unusable, requests let through: %s", reason)
            self._close()
            self._down_until = time.monotonic() + PG_RETRY_AFTER_S
            return None

    def _take(self, client: str) -> float:
        """0 when a token was taken, else the seconds until one is back."""
        conn = self._connect()
        rate = self.per_minute / 60.0
        args = {"client": client, "cap": float(self.per_minute), "rate": rate}
        tokens, taken = conn.execute(_PG_TAKE, args).fetchone()
        now = time.monotonic()
        if now - self._last_purge > PURGE_EVERY_S:
            conn.execute(_PG_PURGE)
            self._last_purge = now
        if taken:
            return 0.0
        return float(max(1.0, math.ceil((1.0 - float(tokens)) / rate)))

    def _connect(self) -> Any:
        if self._conn is None:
            import psycopg

            conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=PG_CONNECT_TIMEOUT_S,
                options=f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS}",
            )
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_TABLE_LOCK,))
                conn.execute(_PG_SCHEMA)
            self._conn = conn
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
