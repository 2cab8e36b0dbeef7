"""The local store's catalog: one SQLite file (WAL) with articles, segments and tombstones.

It is the local store's source of truth: a segment folder exists for readers only once the
transaction naming it has committed, so a crash at any moment leaves the last committed state
(SQLite's journal makes the commit atomic and durable with ``synchronous=FULL``). Readers are
never blocked by a writer (WAL). ``meta.version`` goes up with every commit; readers compare
it to the version their view was built from.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.errors import IndexCorruptError, StoreUnavailableError
from rag.models import Copy, Filters
from rag.stores.base import ArticleRecord, DuplicateCandidate, StoreInfo
from rag.stores.sql import ARTICLE_FIELDS, filter_sql, record_from_row

CATALOG = "catalog.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    doc_key INTEGER PRIMARY KEY, doc_id TEXT UNIQUE NOT NULL, title TEXT NOT NULL,
    text TEXT NOT NULL, url TEXT, date TEXT, source TEXT, author TEXT,
    content_hash TEXT NOT NULL, ingested_at TEXT NOT NULL, segment TEXT NOT NULL,
    chunks INTEGER NOT NULL, sentences INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS articles_source ON articles (lower(source));
CREATE INDEX IF NOT EXISTS articles_date ON articles (date);
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead (doc_key INTEGER PRIMARY KEY, segment TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bands (
    band_key INTEGER NOT NULL, doc_key INTEGER NOT NULL, PRIMARY KEY (band_key, doc_key))
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bands_doc ON bands (doc_key);
"""
# Every column of ``articles``, in the order rows are inserted (``LocalStore.write``)
ARTICLE_COLUMNS = (
    "doc_key, doc_id, title, text, url, date, source, author, content_hash, ingested_at, "
    "segment, chunks, sentences, entities, group_id, minhash"
)
# Columns added after the first catalogs were written: a catalog without them gets them in
# place (ALTER TABLE keeps every article; old ones have no entities, are their own story
# group and, without a signature, are never offered as a near-duplicate candidate).
ADDED_COLUMNS = (
    ("entities", "TEXT NOT NULL DEFAULT '[]'"),
    ("group_id", "TEXT"),
    ("minhash", "BLOB"),
)


# SQLite's result codes for a damaged file ("database disk image is malformed", "file is not
# a database"); any other error (locked, full, I/O) is not the catalog's content.
DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def damaged(path: Path, exc: sqlite3.DatabaseError) -> IndexCorruptError:
    """The one error a damaged catalog gives, naming the file and the fix."""
    return IndexCorruptError(
        f"index catalog {path} is damaged ({exc}); rebuild it with "
        "`rag ingest --rebuild PATH...` or restore the index directory from a backup"
    )


class _Cursor(sqlite3.Cursor):
    """A cursor whose damage errors, at any step of a query, are ``IndexCorruptError``
    (SQLite finds a damaged page only when a query reads it)."""

    def _guard(self, exc: sqlite3.DatabaseError) -> Exception:
        if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in DAMAGE_CODES:
            return damaged(Path(self.connection.catalog_path), exc)  # type: ignore[attr-defined]
        return exc

    def execute(self, *args: Any) -> _Cursor:
        try:
            return super().execute(*args)
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from None

    def executemany(self, *args: Any) -> _Cursor:
        try:
            return super().executemany(*args)
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from None

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from None

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from None

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from None


class _Connection(sqlite3.Connection):
    """Runs every statement through a ``_Cursor``."""

    catalog_path = ""

    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)


class Catalog:
    """Thread-local SQLite connections to one catalog file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._checked = False  # PRAGMA quick_check passed (once per process)

    def connection(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None, factory=_Connection)
            con.catalog_path = str(self.path)
            try:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=FULL")
                if not self._checked:
                    _quick_check(con, self.path)
                    self._checked = True
                con.executescript(SCHEMA)
                _add_columns(con)
            except (sqlite3.DatabaseError, IndexCorruptError) as exc:
                con.close()
                if isinstance(exc, IndexCorruptError):
                    raise
                if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in DAMAGE_CODES:
                    raise damaged(self.path, exc) from None
                # locked past the timeout, unreadable, a full disk: not damage (and so not
                # a reason for ``reset()`` to replace the file)
                raise StoreUnavailableError(
                    f"cannot open index catalog {self.path} ({exc})"
                ) from None
            self._local.con = con
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed when the block ends.

        On an error it is rolled back if still open: SQLite has already rolled back a
        COMMIT that failed for lack of disk space, and a second ROLLBACK would raise "no
        transaction is active" over the real error."""
        con = self.connection()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # -- meta ------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        rows = self.connection().execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def version(self) -> int:
        row = self.connection().execute("SELECT value FROM meta WHERE key='version'").fetchone()
        return int(json.loads(row[0])) if row else 0

    def info(self) -> StoreInfo | None:
        return self.info_from(self.meta())

    @staticmethod
    def info_from(meta: dict[str, Any]) -> StoreInfo | None:
        if "model" not in meta:
            return None
        return StoreInfo(meta["model"], int(meta["dimension"]), meta.get("chunking") or {})

    @staticmethod
    def set_meta(con: sqlite3.Connection, **values: Any) -> None:
        con.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(k, json.dumps(v)) for k, v in values.items()],
        )

    # -- reads -----------------------------------------------------------------------------
    def segments(self) -> list[tuple[str, int]]:
        return self.connection().execute("SELECT name, rows FROM segments ORDER BY name").fetchall()

    def dead_keys(self) -> list[int]:
        return [r[0] for r in self.connection().execute("SELECT doc_key FROM dead")]

    def articles(self, doc_keys: Iterable[int]) -> dict[int, ArticleRecord]:
        keys = list(doc_keys)
        out: dict[int, ArticleRecord] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            for row in self.connection().execute(
                f"SELECT {ARTICLE_FIELDS} FROM articles WHERE doc_key IN ({marks})", part
            ):
                record = record_from_row(row)
                out[record.doc_key] = record
        return out

    def article(self, doc_id: str) -> ArticleRecord | None:
        row = (
            self.connection()
            .execute(f"SELECT {ARTICLE_FIELDS} FROM articles WHERE doc_id = ?", (doc_id,))
            .fetchone()
        )
        return record_from_row(row) if row else None

    def band_matches(self, band_keys: Collection[int]) -> list[tuple[int, DuplicateCandidate]]:
        """(doc_key, candidate) of the articles with a signature sharing a band key."""
        keys, out, seen = [int(k) for k in band_keys], [], set()
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            for key, doc_id, group, sig in self.connection().execute(
                "SELECT DISTINCT a.doc_key, a.doc_id, coalesce(a.group_id, a.doc_id), a.minhash "
                f"FROM bands b JOIN articles a ON a.doc_key = b.doc_key "
                f"WHERE b.band_key IN ({marks}) AND a.minhash IS NOT NULL",
                part,
            ):
                if key not in seen:
                    seen.add(key)
                    out.append((key, DuplicateCandidate(doc_id, group, bytes(sig))))
        return out

    def group_rows(self, group_ids: Collection[str]) -> list[tuple[int, str, Copy]]:
        """(doc_key, group_id, copy) of the members of the given groups, by doc_id."""
        ids, out = list(group_ids), []
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            out += [
                (key, group, Copy(doc_id, title, source, date, url))
                for key, group, doc_id, title, source, date, url in self.connection().execute(
                    "SELECT doc_key, coalesce(group_id, doc_id), doc_id, title, source, date, url "
                    f"FROM articles WHERE group_id IN ({marks}) "
                    f"OR (group_id IS NULL AND doc_id IN ({marks})) ORDER BY doc_id",
                    part + part,
                )
            ]
        return out

    def keys_of(self, doc_ids: Collection[str]) -> dict[str, tuple[int, str, str]]:
        """doc_id -> (doc_key, segment, content_hash) for the ids that exist."""
        out = {}
        ids = list(doc_ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for doc_id, key, seg, h in self.connection().execute(
                "SELECT doc_id, doc_key, segment, content_hash FROM articles "
                f"WHERE doc_id IN ({marks})",
                part,
            ):
                out[doc_id] = (key, seg, h)
        return out

    def filtered_keys(self, f: Filters) -> list[int]:
        """Keys of the articles that pass ``f`` (source compared case-insensitively)."""
        where, args = filter_sql(f)
        return [
            r[0]
            for r in self.connection().execute(f"SELECT doc_key FROM articles WHERE {where}", args)
        ]


def _quick_check(con: sqlite3.Connection, path: Path) -> None:
    """SQLite's structural check of every page (0.3 s for a 415 MB catalog of 100k articles),
    so a damaged catalog is refused when it is opened, not by whichever query first reads the
    damaged page, and ``reset()`` replaces it. Text changed inside a valid page is not seen."""
    problems = [row[0] for row in con.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise damaged(path, sqlite3.DatabaseError("; ".join(problems)))


def _add_columns(con: sqlite3.Connection) -> None:
    """Upgrade a catalog written before ``ADDED_COLUMNS`` in place (once, under a write lock)."""
    have = {r[1] for r in con.execute("PRAGMA table_info(articles)")}
    if not all(name in have for name, _ in ADDED_COLUMNS):
        con.execute("BEGIN IMMEDIATE")
        try:
            have = {r[1] for r in con.execute("PRAGMA table_info(articles)")}
            for name, ddl in ADDED_COLUMNS:
                if name not in have:
                    con.execute(f"ALTER TABLE articles ADD COLUMN {name} {ddl}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    con.execute("CREATE INDEX IF NOT EXISTS articles_group ON articles (group_id)")
