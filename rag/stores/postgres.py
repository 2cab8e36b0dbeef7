"""The PostgreSQL + pgvector store: many API hosts and ingest processes share one database.

Dense search is pgvector's HNSW (inner product on normalised vectors, iterative scans so
that filters do not starve the result), lexical search is BM25 in SQL over a postings table
(``rag.stores.pg_schema``), filters are SQL on the articles table. An article and all its
rows are written in one transaction; concurrent writers of the same ``doc_id`` are serialised
by an advisory lock on it, writers of different articles run side by side. Connections come
from a pool (psycopg 3 + psycopg_pool); vectors travel as pgvector's types.

A database that goes away is ``StoreUnavailableError`` (HTTP 503) within about
``DOWN_AFTER_S``: a request that gets no pooled connection that soon asks the database
directly, and fails at once when it does not answer (rather than waiting the pool's
``POOL_WAIT_S``, meant for a pool that is merely busy). Pooled connections are checked
before use, and the pool reconnects on its own once the database is back: no restart.
"""

from __future__ import annotations

import gc
import logging
import re
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rag.errors import StoreUnavailableError
from rag.stores import pg_rebuild
from rag.stores.base import (
    ArticleRecord,
    DocumentSummary,
    PreparedArticle,
    StoreInfo,
    WriteResult,
    article_values,
    group_values,
    groups_left,
    handle,
)
from rag.stores.pg_reader import PostgresReader, return_freed
from rag.stores.pg_schema import MIGRATION_LOCK, content_ddl, migrate
from rag.stores.space import full_disk_as_error
from rag.stores.sql import ARTICLE_FIELDS, RELABEL_SQL, record_from_row

log = logging.getLogger(__name__)

POOL_MAX = 8  # connections per process: API worker threads plus one writer
CONNECT_TIMEOUT_S = 10
POOL_WAIT_S = 30  # for a connection from a busy pool (psycopg_pool's default)
DOWN_AFTER_S = 1.0  # no pooled connection this soon: ask the database whether it is up
PROBE_TIMEOUT_S = 2  # connecting to ask (libpq's smallest connect_timeout)
# A failing background connection attempt is given up after this long (psycopg_pool's 5
# minutes let its backoff grow to minutes, so the pool stayed empty well after the database
# was back); the next request that finds the pool empty starts a new attempt.
RECONNECT_S = 2.0


def _ensure_vector_extension(con: Any) -> None:
    """Create pgvector once, under a lock: processes starting together on a new database
    would otherwise both try, and the second would fail. A database that has it already gets
    no write (a read-only replica opens too)."""
    query = "SELECT 1 FROM pg_extension WHERE extname = 'vector'"
    if con.execute(query).fetchone():
        return
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        if not con.execute(query).fetchone():
            con.execute("CREATE EXTENSION vector")


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _reason(exc: Exception) -> str:
    """The first line of a driver error (libpq's messages run to several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PostgresStore:
    """``Store`` over a PostgreSQL database with the pgvector extension."""

    def __init__(self, url: str, rebuild: bool = False) -> None:
        """``rebuild``: the store a rebuild fills aside (``rag.stores.pg_rebuild``)."""
        self.url = url
        self._rebuild = rebuild
        self._prepare_database()
        from pgvector.psycopg import register_vector
        from psycopg_pool import ConnectionPool, PoolTimeout

        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX,
            open=False,
            configure=register_vector,
            kwargs={"autocommit": True}
            | ({"options": pg_rebuild.search_path()} if rebuild else {}),
            check=ConnectionPool.check_connection,  # a connection broken by a restart is dropped
            timeout=POOL_WAIT_S,
            reconnect_timeout=RECONNECT_S,
        )
        try:
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except PoolTimeout:
            self.pool.close()
            raise StoreUnavailableError(
                f"the database at {_redact(url)} stopped answering while opening; try again"
            ) from None
        self._info: StoreInfo | None = None
        self._down = False  # the last probe found the database unreachable

    def _prepare_database(self) -> None:
        import psycopg

        try:
            con = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            raise StoreUnavailableError(
                f"cannot reach the database at {_redact(self.url)} ({_reason(exc)}); check "
                "RAG_DATABASE_URL / --database-url"
            ) from None
        with con:
            try:
                _ensure_vector_extension(con)
            except psycopg.Error:
                raise StoreUnavailableError(
                    "the database has no pgvector extension: install pgvector on the server "
                    "and run `CREATE EXTENSION vector;` as a superuser"
                ) from None
            try:
                migrate(con)
            except ValueError as exc:
                raise StoreUnavailableError(f"{exc}; upgrade rag to use it") from None

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A pooled connection (see the module doc); a connection lost while in use is
        ``StoreUnavailableError`` too (other errors, a deadlock say, are left as they are)."""
        import psycopg

        con = self._getconn()
        try:
            with con:
                yield con
        except psycopg.OperationalError as exc:
            if not (con.broken or con.closed or isinstance(exc, psycopg.errors.AdminShutdown)):
                raise
            raise self._unavailable(exc) from None
        finally:
            self.pool.putconn(con)

    def _getconn(self) -> Any:
        from psycopg_pool import PoolTimeout

        return_freed()  # connections of readers the garbage collector freed
        if self._down:  # still down? ask before waiting on the pool
            self._probe()
        try:
            return self.pool.getconn(timeout=DOWN_AFTER_S)
        except PoolTimeout:
            gc.collect()  # readers lost in reference cycles hold connections: free them
            return_freed()
            self._probe()  # raises when the database does not answer
        try:
            return self.pool.getconn(timeout=POOL_WAIT_S)
        except PoolTimeout:
            raise StoreUnavailableError(
                f"no database connection came free in {POOL_WAIT_S} s (all {POOL_MAX} busy)"
            ) from None

    def _probe(self) -> None:
        import psycopg

        try:
            psycopg.connect(self.url, connect_timeout=PROBE_TIMEOUT_S).close()
        except psycopg.Error as exc:
            self._down = True
            raise self._unavailable(exc) from None
        self._down = False

    def _unavailable(self, exc: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"the database at {_redact(self.url)} is unavailable ({_reason(exc)}); "
            "answers resume once it is back"
        )

    def _fetch(self, sql: str, args: Sequence[Any] = (), binary: bool = False) -> list[Any]:
        with self._connection() as con:
            return con.cursor(binary=binary).execute(sql, args).fetchall()

    def info(self) -> StoreInfo | None:
        if self._info is None:
            meta = dict(self._fetch("SELECT key, value FROM rag_meta"))
            if "model" in meta:
                self._info = StoreInfo(
                    meta["model"], int(meta["dimension"]), meta.get("chunking") or {}
                )
        return self._info

    def reader(self) -> PostgresReader:
        """A view of one snapshot, taken by its first statement (``rag.stores.pg_reader``)."""
        return PostgresReader(self)

    # -- documents -------------------------------------------------------------------------
    def content_hashes(self, doc_ids: Collection[str]) -> dict[str, str]:
        return dict(
            self._fetch(
                "SELECT doc_id, content_hash FROM articles WHERE doc_id = ANY(%s)", (list(doc_ids),)
            )
        )

    def document(self, doc_id: str) -> ArticleRecord | None:
        rows = self._fetch(f"SELECT {ARTICLE_FIELDS} FROM articles WHERE doc_id = %s", (doc_id,))
        return record_from_row(rows[0]) if rows else None

    def list_documents(self, limit: int, after: str | None = None) -> list[DocumentSummary]:
        rows = self._fetch(
            "SELECT doc_id, title, url, date, source, length(text), chunks, content_hash, "
            'ingested_at, author FROM articles WHERE doc_id COLLATE "C" > %s '
            'ORDER BY doc_id COLLATE "C" '
            "LIMIT %s",
            (after or "", limit),
        )
        return [DocumentSummary(*row) for row in rows]

    def counts(self) -> dict[str, int]:
        row = self._fetch(
            "SELECT count(*), coalesce(sum(chunks), 0), coalesce(sum(sentences), 0) FROM articles"
        )[0]
        return {"articles": int(row[0]), "chunks": int(row[1]), "sentences": int(row[2])}

    # -- writes ----------------------------------------------------------------------------
    def write(
        self, info: StoreInfo, add: Sequence[PreparedArticle], delete: Collection[str] = ()
    ) -> WriteResult:
        ids = sorted({p.article.doc_id for p in add} | set(delete))
        self._remove_abandoned_rebuild()
        full = full_disk_as_error("the database", lambda: _write_bytes(add))
        with full, self._connection() as con, con.transaction():
            self._ensure_content(con, info)
            for doc_id in ids:  # sorted: two writers never wait on each other in a cycle
                con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (doc_id,))
            known = dict(
                con.execute(
                    "SELECT doc_id, doc_key FROM articles WHERE doc_id = ANY(%s)", (ids,)
                ).fetchall()
            )
            if known:
                self._drop(con, list(known.values()))
            for p in add:
                self._insert(con, p)
            dropped = [p.article.doc_id for p in add if p.article.doc_id in known]
            dropped += [d for d in delete if d in known]
            for label in groups_left(add, dropped):
                con.execute(RELABEL_SQL.format(mark="%s"), (label,) * 4)
        return WriteResult(
            added=tuple(p.article.doc_id for p in add if p.article.doc_id not in known),
            replaced=tuple(p.article.doc_id for p in add if p.article.doc_id in known),
            deleted=tuple(d for d in delete if d in known),
        )

    def _ensure_content(self, con: Any, info: StoreInfo) -> None:
        if self.info() is not None:
            return
        con.execute("SELECT pg_advisory_xact_lock(7314022)")
        con.execute(content_ddl(info.dimension))
        from psycopg.types.json import Jsonb

        con.execute(
            "INSERT INTO rag_meta VALUES ('model', %s), ('dimension', %s), "
            "('chunking', %s) ON CONFLICT DO NOTHING",
            (Jsonb(info.model), Jsonb(info.dimension), Jsonb(info.chunking)),
        )

    def _drop(self, con: Any, keys: list[int]) -> None:
        row = con.execute(
            "SELECT count(*), coalesce(sum(n_terms), 0) FROM chunks WHERE doc_key = ANY(%s)",
            (keys,),
        ).fetchone()
        con.execute("UPDATE rag_stats SET chunks = chunks - %s, terms = terms - %s", row)
        con.execute("DELETE FROM articles WHERE doc_key = ANY(%s)", (keys,))

    def _insert(self, con: Any, p: PreparedArticle) -> None:
        from pgvector import HalfVector, Vector

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        key = con.execute(
            "INSERT INTO articles (doc_id, title, text, url, date, source, author, "
            "content_hash, ingested_at, chunks, sentences, entities, group_id, minhash) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING doc_key",
            (*article_values(p), now, len(p.chunk_start), len(p.sent_start), *group_values(p)),
        ).fetchone()[0]
        if p.band_keys:
            con.execute(
                "INSERT INTO bands SELECT DISTINCT b, %s FROM unnest(%s::bigint[]) AS b",
                (key, list(p.band_keys)),
            )
        lengths = [max(len(t), 1) for t in p.chunk_terms]
        with con.cursor().copy(
            'COPY chunks (handle, doc_key, start, "end", sent_lo, sent_hi, '
            "n_terms, embedding) FROM STDIN"
        ) as cp:
            for i in range(len(p.chunk_start)):
                cp.write_row(
                    (
                        handle(key, i),
                        key,
                        int(p.chunk_start[i]),
                        int(p.chunk_end[i]),
                        int(p.chunk_sent_lo[i]),
                        int(p.chunk_sent_hi[i]),
                        lengths[i],
                        Vector(p.chunk_vectors[i]),
                    )
                )
        with con.cursor().copy(
            'COPY sentences (handle, doc_key, start, "end", embedding) FROM STDIN'
        ) as cp:
            for i in range(len(p.sent_start)):
                cp.write_row(
                    (
                        handle(key, i),
                        key,
                        int(p.sent_start[i]),
                        int(p.sent_end[i]),
                        HalfVector(p.sentence_vectors[i]),
                    )
                )
        with con.cursor().copy(
            "COPY postings (term, handle, tf, n_terms, doc_key) FROM STDIN"
        ) as cp:
            for i, terms in enumerate(p.chunk_terms):
                counts: dict[str, int] = {}
                for t in terms:
                    counts[t] = counts.get(t, 0) + 1
                for t, n in counts.items():
                    cp.write_row((t, handle(key, i), n, lengths[i], key))
        con.execute(
            "UPDATE rag_stats SET chunks = chunks + %s, terms = terms + %s",
            (len(lengths), sum(lengths)),
        )

    def compact(self) -> None:
        self._remove_abandoned_rebuild()
        with self._connection() as con:
            for table in ("articles", "chunks", "sentences", "postings"):
                con.execute(f"VACUUM (ANALYZE) {table}")

    def reset(self) -> None:
        with self._connection() as con, con.transaction():
            con.execute("DROP TABLE IF EXISTS postings, sentences, chunks")
            con.execute("DELETE FROM articles")
            con.execute("DELETE FROM rag_meta")
            con.execute("UPDATE rag_stats SET chunks = 0, terms = 0")
        self._info = None

    @contextmanager
    def rebuilding(self) -> Iterator[PostgresStore]:
        """An empty store in the schema ``rag_rebuild``, swapped in when the block ends
        without an error (``rag.stores.pg_rebuild``); this one answers meanwhile. Writes
        made here during the rebuild are replaced by it; a second rebuild waits."""
        with self._connection() as con:
            con.execute("SELECT pg_advisory_lock(%s)", (pg_rebuild.REBUILD_LOCK,))
            try:
                pg_rebuild.create_schema(con)
                fresh = PostgresStore(self.url, rebuild=True)
                try:
                    yield fresh
                finally:
                    fresh.close()
                pg_rebuild.swap(con)
                self._info = None
            finally:
                _quietly(pg_rebuild.drop_schema, con)  # gone already after a swap
                _quietly(con.execute, "SELECT pg_advisory_unlock(%s)", (pg_rebuild.REBUILD_LOCK,))

    def _remove_abandoned_rebuild(self) -> None:
        if not self._rebuild:
            with self._connection() as con:
                pg_rebuild.remove_abandoned(con)


def _quietly(call: Any, *args: Any) -> None:
    """Clean-up after a rebuild, never hiding the rebuild's own error."""
    import psycopg

    try:
        call(*args)
    except psycopg.Error as exc:
        log.warning("clean-up after a rebuild failed (the next writer retries): %s", exc)


def _write_bytes(add: Sequence[PreparedArticle]) -> int:
    """About what a write adds to the database: texts, vectors and postings."""
    return sum(
        len(p.article.text.encode()) + p.chunk_vectors.nbytes + p.sentence_vectors.nbytes // 2
        for p in add
    )
