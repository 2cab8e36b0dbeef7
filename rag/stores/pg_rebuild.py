"""Rebuilding the PostgreSQL store aside, in its own schema, and swapping it in atomically.

``rag ingest --rebuild`` fills an empty store in the schema ``rag_rebuild`` (the same tables,
made by the same migrations) while the store in ``public`` keeps answering. The swap is one
transaction: it drops the old tables and moves the new ones into ``public``. PostgreSQL's DDL
is transactional, so a crash before the COMMIT leaves the old store whole and the abandoned
schema behind; the next rebuild or write drops it. Readers see the new tables at their next
statement (waiting a moment on the swap's table locks).

One rebuild runs at a time: the rebuilding process holds a session advisory lock, which the
server releases when that process dies, so a writer that can take the lock knows any
``rag_rebuild`` schema it finds was abandoned. The rebuilt articles take their keys from the
old store's sequence, so no key ever names two articles, not even for a question that
straddles the swap.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rag.stores.pg_schema import MIGRATIONS

log = logging.getLogger(__name__)

SCHEMA = "rag_rebuild"
REBUILD_LOCK = 7_314_023  # session advisory lock held by the process rebuilding
# every table of a store, dependants first (the order they are dropped in)
TABLES = ("bands", "postings", "sentences", "chunks", "articles", "rag_meta", "rag_stats")
# The swap takes every table's lock before it changes anything, waiting at most this long
# for each (below PostgreSQL's 1 s deadlock_timeout: a reader that holds one table and wants
# another the swap holds is never the one aborted; the swap lets go and tries again).
SWAP_LOCK_TIMEOUT = "200ms"
SWAP_TRIES = 100  # about 20 s of tries while readers keep the tables busy


def create_schema(con: Any) -> None:
    """An empty store in ``SCHEMA`` (content tables come with its first write)."""
    with con.transaction():
        con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        con.execute(f"SET LOCAL search_path TO {SCHEMA}, public")
        for version in sorted(MIGRATIONS):
            con.execute(MIGRATIONS[version])
        sequence = _key_sequence(con)
        con.execute(
            f"ALTER TABLE {SCHEMA}.articles ALTER COLUMN doc_key "
            f"SET DEFAULT nextval('{sequence}'::regclass)"
        )
        con.execute(f"DROP SEQUENCE {SCHEMA}.articles_doc_key_seq")


def search_path() -> str:
    """The connection option that makes a store's statements use the rebuild's tables."""
    return f"-c search_path={SCHEMA},public"


def swap(con: Any) -> None:
    """Replace the tables in ``public`` by the rebuilt ones, in one transaction."""
    import psycopg

    for attempt in range(SWAP_TRIES):
        try:
            with con.transaction():
                con.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
                _swap_tables(con)
            log.info("swapped in the rebuilt store")
            return
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            if attempt == SWAP_TRIES - 1:
                raise
            log.info("the swap waited for readers' locks; trying again")
            time.sleep(0.01 * (1 + attempt % 10))


def _swap_tables(con: Any) -> None:
    old = _tables(con, "public")
    con.execute(f"LOCK TABLE {', '.join(f'public.{t}' for t in old)} IN ACCESS EXCLUSIVE MODE")
    sequence = _key_sequence(con)
    con.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    con.execute(f"DROP TABLE {', '.join(f'public.{t}' for t in old)}")
    for table in _tables(con, SCHEMA):
        con.execute(f"ALTER TABLE {SCHEMA}.{table} SET SCHEMA public")
    con.execute(f"ALTER SEQUENCE {sequence} OWNED BY public.articles.doc_key")
    con.execute(f"DROP SCHEMA {SCHEMA}")


def drop_schema(con: Any) -> None:
    con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def remove_abandoned(con: Any) -> None:
    """Drop the schema of a rebuild whose process is gone (no one holds its lock)."""
    if con.execute("SELECT to_regnamespace(%s)", (SCHEMA,)).fetchone()[0] is None:
        return
    if not con.execute("SELECT pg_try_advisory_lock(%s)", (REBUILD_LOCK,)).fetchone()[0]:
        return  # a rebuild is under way
    try:
        log.info("removing the schema of a rebuild that did not finish")
        drop_schema(con)
    finally:
        con.execute("SELECT pg_advisory_unlock(%s)", (REBUILD_LOCK,))


def _tables(con: Any, schema: str) -> list[str]:
    """The store's tables present in ``schema``, dependants first."""
    found = {
        r[0]
        for r in con.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall()
    }
    return [t for t in TABLES if t in found]


def _key_sequence(con: Any) -> str:
    """The sequence the store in ``public`` numbers its articles with (qualified name)."""
    row = con.execute("SELECT pg_get_serial_sequence('public.articles', 'doc_key')").fetchone()
    if row is None or row[0] is None:
        raise RuntimeError("public.articles has no key sequence")
    return str(row[0])
