"""The PostgreSQL store's reader: one question's consistent view, one round trip per stage.

A reader is one REPEATABLE READ, READ ONLY transaction on one pooled connection, begun by its
first statement: every search, statistic, vector and text it returns comes from the one
snapshot the database took then, so a writer that commits while a question is being answered
is seen by the next question, never by half of this one (the port's promise; ``rag.engine``).
The transaction ends, and the connection goes back to the pool, when the reader is closed
(``View.renew`` closes the reader it replaces) or dropped: the engine keeps a view for one
question, so CPython frees it, and with it the connection, as the question returns. A reader
caught in a reference cycle is freed by the garbage collector instead; its connection then
goes back at the store's next request (the pool is not entered from inside a collection), and
a pool found empty runs a collection before anything else (``PostgresStore._getconn``).

Each stage of a question is one statement, sent with the transaction's start on the first
(a pipeline: one round trip), and every statement is prepared on its connection at first use
(``prepare=True``; psycopg's own threshold would wait for the fifth): the dense search; the
lexical search with its term statistics (document frequencies, chunk count and average length
computed in the same statement, and kept for ``term_stats``); chunk vectors; the pool's
articles with their sentence and chunk spans (arrays per article); sentence vectors; story
groups. docs/postgres.md shows the plans.
"""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from collections import deque
from collections.abc import Collection, Sequence
from typing import Any, Protocol

import numpy as np

from rag.errors import StoreUnavailableError
from rag.models import Copy, Filters
from rag.stores import lexical
from rag.stores.base import DocData, DuplicateCandidate, StoreInfo
from rag.stores.sql import ARTICLE_FIELDS, filter_sql, record_from_row

log = logging.getLogger(__name__)

EF_SEARCH = 128  # HNSW candidate list, as the local store's HNSW segments
BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
# pgvector's settings for this transaction: a list of ef candidates, and iterative scans so
# that filters do not starve the result
SETTINGS = (
    "SELECT set_config('hnsw.ef_search', %s, true), "
    "set_config('hnsw.iterative_scan', 'relaxed_order', true)"
)
DENSE = (
    "SELECT c.handle, -(c.embedding <#> %(v)s), c.embedding FROM chunks c{join} "
    "ORDER BY c.embedding <#> %(v)s LIMIT %(k)s"
)
# BM25 as the local store computes it (``rag.stores.lexical``: the same idf, k1, b and
# collection statistics; a repeated query term counts again), with the statistics in the same
# statement: rows with a handle are hits, the rest give each term's document frequency and, as
# their score, the chunk count. Hits come with their vectors (as dense hits do), which
# retrieval asks for next. "p.term = ANY" lets the planner read each term's range of the
# covering primary key (an index-only scan).
LEXICAL = """
WITH q AS (SELECT term, count(*)::float8 AS uses FROM unnest(%(terms)s::text[]) AS term
           GROUP BY term),
stats AS (SELECT chunks::float8 AS n, greatest(terms::float8 / greatest(chunks, 1), 1e-9) AS avg
          FROM rag_stats),
w AS (SELECT q.term, d.df, q.uses * ln(1.0 + (stats.n - d.df + 0.5) / (d.df + 0.5)) AS w
      FROM q CROSS JOIN stats
      CROSS JOIN LATERAL (SELECT count(*) AS df FROM postings p WHERE p.term = q.term) d),
hits AS (
    SELECT p.handle,
           sum(w.w * p.tf / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.n_terms / stats.avg))) AS s
    FROM w JOIN postings p ON p.term = w.term CROSS JOIN stats{join}
    WHERE p.term = ANY(%(terms)s){filters}
    GROUP BY p.handle ORDER BY s DESC, p.handle LIMIT %(k)s)
SELECT hits.handle, hits.s, c.embedding, NULL AS term, NULL AS df
FROM hits JOIN chunks c ON c.handle = hits.handle
UNION ALL
SELECT NULL, stats.n, NULL, w.term, w.df FROM w CROSS JOIN stats
"""
DOCUMENTS = f"""
SELECT {ARTICLE_FIELDS}, s.s_start, s.s_end, c.c_start, c.c_end, c.c_lo, c.c_hi
FROM articles a
CROSS JOIN LATERAL (SELECT array_agg(start ORDER BY handle) AS s_start,
                           array_agg("end" ORDER BY handle) AS s_end
                    FROM sentences WHERE sentences.doc_key = a.doc_key) s
CROSS JOIN LATERAL (SELECT array_agg(start ORDER BY handle) AS c_start,
                           array_agg("end" ORDER BY handle) AS c_end,
                           array_agg(sent_lo ORDER BY handle) AS c_lo,
                           array_agg(sent_hi ORDER BY handle) AS c_hi
                    FROM chunks WHERE chunks.doc_key = a.doc_key) c
WHERE a.doc_key = ANY(%s)
"""
GROUPS = (
    "SELECT coalesce(group_id, doc_id) g, doc_id, title, source, date, url "
    "FROM articles WHERE group_id = ANY(%(ids)s) OR (group_id IS NULL AND doc_id = ANY(%(ids)s)) "
    'ORDER BY doc_id COLLATE "C"'
)
CANDIDATES = (
    "SELECT DISTINCT a.doc_id, coalesce(a.group_id, a.doc_id), a.minhash FROM bands b "
    "JOIN articles a ON a.doc_key = b.doc_key "
    "WHERE b.band_key = ANY(%s) AND a.minhash IS NOT NULL"
)

# Connections of readers freed by the garbage collector, returned at the next request (a
# collection may run inside the pool's own code, whose lock is not re-entrant).
_returned: deque[tuple[Any, Any]] = deque()
_collecting = threading.local()


def _note_collection(phase: str, info: dict[str, Any]) -> None:
    _collecting.on = phase == "start"


gc.callbacks.append(_note_collection)


def return_freed() -> None:
    """Give the pool back the connections of readers the garbage collector freed."""
    while _returned:
        try:
            lease = _returned.popleft()
        except IndexError:
            return
        _end(*lease)


def _end(pool: Any, con: Any) -> None:
    """End a reader's transaction and give its connection back (a broken one is dropped)."""
    import psycopg

    try:
        if not (con.broken or con.closed):
            con.execute("ROLLBACK")
    except psycopg.Error as exc:
        log.debug("ending a reader's transaction failed: %s", exc)
    pool.putconn(con)


class Database(Protocol):
    """What a reader needs of ``PostgresStore`` (which imports this module)."""

    pool: Any

    def info(self) -> StoreInfo | None: ...

    def _getconn(self) -> Any: ...

    def _unavailable(self, exc: Exception) -> StoreUnavailableError: ...


class _Lease:
    """The reader's connection and transaction; no reference to the reader itself."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.con: Any = None
        self.lock = threading.Lock()

    def release(self) -> None:
        con, self.con = self.con, None
        if con is None:
            return
        if getattr(_collecting, "on", False):
            _returned.append((self.pool, con))
        else:
            _end(self.pool, con)


class PostgresReader:
    """``StoreReader`` over one snapshot of the database (see the module doc)."""

    def __init__(self, store: Database) -> None:
        self.store = store
        self._lease = _Lease(store.pool)
        self._finalizer = weakref.finalize(self, self._lease.release)
        self._ef = 0  # hnsw.ef_search of this transaction (0: not begun)
        self._dfs: dict[str, int] = {}  # term statistics, asked twice per question
        self._chunks: int | None = None
        self._vectors_of: dict[int, Any] = {}  # chunk vectors that came with search hits

    def close(self) -> None:
        """End the transaction now (the reader may not be used after)."""
        self._finalizer()

    def _run(self, sql: str, args: Any = (), binary: bool = False, ef: int = 0) -> list[Any]:
        """Rows of one statement, in this reader's transaction (begun here if new)."""
        import psycopg

        lease = self._lease
        with lease.lock:
            if lease.con is None:
                if self._ef:
                    raise RuntimeError("this reader was closed")
                lease.con = self.store._getconn()
            con = lease.con
            setup: list[tuple[str, Any]] = [] if self._ef else [(BEGIN, ())]
            if max(ef, EF_SEARCH) > self._ef:
                self._ef = max(ef, EF_SEARCH)
                setup.append((SETTINGS, (str(self._ef),)))
            try:
                if not setup:
                    return con.cursor(binary=binary).execute(sql, args, prepare=True).fetchall()
                with con.pipeline():
                    for statement, values in setup:
                        con.execute(statement, values, prepare=True)
                    cur = con.cursor(binary=binary)
                    cur.execute(sql, args, prepare=True)
                    return cur.fetchall()
            except psycopg.Error as exc:
                lease.release()
                if isinstance(exc, psycopg.OperationalError) and (con.broken or con.closed):
                    raise self.store._unavailable(exc) from None
                raise

    def chunk_count(self) -> int:
        if self._chunks is None:
            self._chunks = int(self._run("SELECT chunks FROM rag_stats")[0][0])
        return self._chunks

    def _where(self, filters: Filters, table: str) -> tuple[str, str, dict[str, Any]]:
        """A join on articles and the filter's conditions (named ``%(f0)s``...), or nothing."""
        if filters.is_empty():
            return "", "", {}
        where, args = filter_sql(filters, "a.date", "a.source", "a.doc_id", "%s")
        named = {f"f{i}": a for i, a in enumerate(args)}
        for name in named:  # the marks are filter_sql's own: values travel as parameters
            where = where.replace("%s", f"%({name})s", 1)
        return f" JOIN articles a ON a.doc_key = {table}.doc_key", where, named

    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters
    ) -> tuple[np.ndarray, np.ndarray]:
        from pgvector import Vector

        join, where, named = self._where(filters, "c")
        sql = DENSE.format(join=f"{join} WHERE {where}" if join else "")
        v = Vector(np.asarray(vector, dtype=np.float32))
        return self._hits(self._run(sql, named | {"v": v, "k": k}, True, ef=2 * k))

    def lexical_search(
        self, terms: Sequence[str], k: int, filters: Filters
    ) -> tuple[np.ndarray, np.ndarray]:
        if not terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        join, where, named = self._where(filters, "p")
        sql = LEXICAL.format(join=join, filters=f" AND {where}" if join else "")
        named |= {"terms": list(terms), "k1": lexical.K1, "b": lexical.B, "k": k}
        rows = self._run(sql, named, True)
        for _, n, _, term, df in (r for r in rows if r[0] is None):
            self._dfs[term] = int(df)
            self._chunks = int(n)
        return self._hits([r for r in rows if r[0] is not None])

    def _hits(self, rows: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Handles and scores of (handle, score, vector) rows, best first; vectors kept."""
        self._vectors_of.update((int(r[0]), r[2]) for r in rows)
        return _sorted(rows)

    def term_stats(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        missing = [t for t in dict.fromkeys(terms) if t not in self._dfs]
        if missing:
            found = dict(
                self._run(
                    "SELECT term, count(*) FROM postings WHERE term = ANY(%s) GROUP BY term",
                    (missing,),
                )
            )
            self._dfs.update({t: int(found.get(t, 0)) for t in missing})
        return self.chunk_count(), {t: self._dfs[t] for t in terms}

    def chunk_vectors(self, handles: np.ndarray) -> np.ndarray:
        wanted = [int(h) for h in handles]
        if not all(h in self._vectors_of for h in wanted):
            return self._vectors("chunks", wanted)
        if not wanted:
            info = self.store.info()
            return np.zeros((0, info.dimension if info else 0), dtype=np.float32)
        return np.array([_array(self._vectors_of[h]) for h in wanted], dtype=np.float32)

    def sentence_vectors(self, handles: Sequence[int]) -> np.ndarray:
        return self._vectors("sentences", [int(h) for h in handles])

    def _vectors(self, table: str, handles: list[int]) -> np.ndarray:
        rows = dict(  # binary: no parsing of vector text
            self._run(
                f"SELECT handle, embedding FROM {table} WHERE handle = ANY(%s)", (handles,), True
            )
        )
        info = self.store.info()
        d = info.dimension if info else 0
        gone = np.zeros(d, dtype=np.float32)  # not in this snapshot: similarity 0
        return np.array(
            [_array(rows[h]) if h in rows else gone for h in handles], dtype=np.float32
        ).reshape(-1, d)

    def documents(self, doc_keys: Collection[int]) -> dict[int, DocData]:
        out = {}
        for row in self._run(DOCUMENTS, ([int(k) for k in doc_keys],), True):
            record = record_from_row(row[:12])
            s_start, s_end, c_start, c_end, c_lo, c_hi = (
                np.asarray(a or [], dtype=np.int64) for a in row[12:]
            )
            out[record.doc_key] = DocData(record, s_start, s_end, c_start, c_end, c_lo, c_hi)
        return out

    def duplicate_candidates(self, band_keys: Collection[int]) -> list[DuplicateCandidate]:
        rows = self._run(CANDIDATES, ([int(k) for k in band_keys],))
        return [DuplicateCandidate(d, g, bytes(sig)) for d, g, sig in rows]

    def group_members(self, group_ids: Collection[str]) -> dict[str, tuple[Copy, ...]]:
        out: dict[str, list[Copy]] = {}
        for group, *fields in self._run(GROUPS, {"ids": list(group_ids)}):
            out.setdefault(group, []).append(Copy(*fields))
        return {g: tuple(copies) for g, copies in out.items()}


def _array(value: Any) -> np.ndarray:
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, np.float32)


def _sorted(rows: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    rows = sorted(rows, key=lambda r: (-float(r[1]), int(r[0])))  # ties: by handle
    return (
        np.array([int(r[0]) for r in rows], dtype=np.int64),
        np.array([float(r[1]) for r in rows], dtype=np.float64),
    )
