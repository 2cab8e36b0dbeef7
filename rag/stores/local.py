"""The embedded local store (the default): a catalog plus append-only segments, no server.

Layout of the index directory::

    catalog.sqlite     articles (texts and metadata), segments, tombstones, meta (WAL)
    segments/seg-N/    immutable arrays of one batch of articles (``rag.stores.segment``)
    .lock              serialises writers across processes (fcntl)
    .rebuild/          a store being rebuilt aside (``rag ingest --rebuild``), while it runs
    .rebuild.lock      held by the process rebuilding (fcntl)

A write costs what the change costs: it writes one small segment for the new articles and
records replaced or deleted ones as tombstones, in one catalog transaction. When a size tier
holds ``MERGE_FACTOR`` segments they are merged into one (dropping tombstoned rows), so the
number of segments stays logarithmic in the archive; ``rag compact`` merges everything.
Folders left by a crash (written but never committed, or merged away but not yet removed, or
a rebuild that did not finish) are deleted by the next writer, so leftovers never pile up.

A rebuild (:meth:`LocalStore.rebuilding`) writes a whole new store in ``.rebuild/`` while
this one keeps answering, then swaps it in with one catalog transaction
(``rag.stores.local_swap``): a crash at any moment leaves the old index or the new one whole.
A full disk is a :class:`~rag.errors.StorageFullError` naming the path; what the failed write
had put on disk is removed.
"""

from __future__ import annotations

import fcntl
import logging
import math
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rag.errors import IndexCorruptError, StorageFullError
from rag.stores import local_swap, segment
from rag.stores.base import (
    STORE_FORMAT,
    ArticleRecord,
    DocumentSummary,
    PreparedArticle,
    StoreInfo,
    WriteResult,
    article_values,
    group_values,
    groups_left,
)
from rag.stores.catalog import ARTICLE_COLUMNS, CATALOG, Catalog
from rag.stores.local_reader import LocalReader
from rag.stores.space import full_disk_as_error
from rag.stores.sql import RELABEL_SQL

log = logging.getLogger(__name__)

MERGE_FACTOR = 8  # segments of one size tier merged together (Lucene's default is 10)
TIER_BASE_ROWS = 1000  # tier 0 holds segments under this many chunks; each tier is 8x larger
REBUILD_HINT = "rebuild it with `rag ingest --rebuild PATH...`"
REBUILD_DIR = ".rebuild"  # the store a rebuild writes aside, inside the index folder
REBUILD_LOCK = ".rebuild.lock"  # held (fcntl) by the process rebuilding, for its whole run


class LocalStore:
    """``Store`` over an index directory; many processes may read and write it at once."""

    def __init__(self, root: Path, keys_from: LocalStore | None = None) -> None:
        """``keys_from``: the store whose counter hands out article keys (a rebuild's store
        takes them from the store it will replace, so that no key ever names two articles,
        not even for a question that straddles the swap)."""
        self.root = Path(root)
        _refuse_old_layout(self.root)
        self.catalog = Catalog(self.root / CATALOG)
        self._keys_from = keys_from
        self._write_lock = threading.RLock()  # writers in this process, one at a time
        self._reader_lock = threading.Lock()  # never held across a write: readers never wait
        self._reader: LocalReader | None = None
        self._loaded: dict[str, segment.Segment] = {}

    def info(self) -> StoreInfo | None:
        if not (self.root / CATALOG).exists():
            return None
        meta = self.catalog.meta()
        info = Catalog.info_from(meta)
        version = meta.get("format_version")
        if info is not None and version != STORE_FORMAT:
            raise IndexCorruptError(
                f"index at {self.root} has format {version!r}, this version reads "
                f"{STORE_FORMAT}; {REBUILD_HINT}"
            )
        return info

    # -- reading ---------------------------------------------------------------------------
    def reader(self) -> LocalReader:
        version = self.catalog.version()
        current = self._reader
        if current is not None and current.version == version:
            return current
        with self._reader_lock:  # one thread builds it; the others then reuse it
            current = self._reader
            if current is not None and current.version == self.catalog.version():
                return current
            for _ in range(5):  # a merge may remove a folder between listing and opening it
                try:
                    self._reader = self._build_reader()
                    return self._reader
                except FileNotFoundError:
                    time.sleep(0.05)
        raise IndexCorruptError(f"index at {self.root} lists a missing segment; " + REBUILD_HINT)

    def _build_reader(self) -> LocalReader:
        con = self.catalog.connection()
        con.execute("BEGIN")  # one read transaction: segments and tombstones agree
        try:
            version = self.catalog.version()
            names = [n for n, _ in self.catalog.segments()]
            dead = set(self.catalog.dead_keys())
        finally:
            con.execute("COMMIT")
        segments = []
        for name in names:
            if name not in self._loaded:
                try:
                    self._loaded[name] = segment.load(self.root / "segments" / name)
                except FileNotFoundError:
                    raise
                except (OSError, ValueError, KeyError) as exc:
                    raise IndexCorruptError(
                        f"index segment {name} in {self.root} is damaged ({exc}); " + REBUILD_HINT
                    ) from None
            segments.append(self._loaded[name])
        for stale in set(self._loaded) - set(names):
            del self._loaded[stale]
        return LocalReader(self.catalog, version, segments, dead)

    def content_hashes(self, doc_ids: Collection[str]) -> dict[str, str]:
        if not (self.root / CATALOG).exists():
            return {}
        return {d: h for d, (_, _, h) in self.catalog.keys_of(doc_ids).items()}

    def document(self, doc_id: str) -> ArticleRecord | None:
        if not (self.root / CATALOG).exists():
            return None
        return self.catalog.article(doc_id)

    def list_documents(self, limit: int, after: str | None = None) -> list[DocumentSummary]:
        rows = (
            self.catalog.connection()
            .execute(
                "SELECT doc_id, title, url, date, source, length(text), chunks, content_hash, "
                "ingested_at, author FROM articles WHERE doc_id > ? ORDER BY doc_id LIMIT ?",
                (after or "", limit),
            )
            .fetchall()
        )
        return [DocumentSummary(*row) for row in rows]

    def counts(self) -> dict[str, int]:
        row = (
            self.catalog.connection()
            .execute(
                "SELECT count(*), coalesce(sum(chunks), 0), coalesce(sum(sentences), 0) "
                "FROM articles"
            )
            .fetchone()
        )
        return {
            "articles": row[0],
            "chunks": row[1],
            "sentences": row[2],
            "segments": len(self.catalog.segments()),
        }

    # -- writing ---------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        (self.root / "segments").mkdir(parents=True, exist_ok=True)  # before the catalog
        with self._write_lock, open(self.root / ".lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self._remove_orphans()
                yield
            except BaseException:
                self._remove_orphans_quietly()  # free what the failed write put on disk
                raise
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def write(
        self, info: StoreInfo, add: Sequence[PreparedArticle], delete: Collection[str] = ()
    ) -> WriteResult:
        with self._writing():
            known = self.catalog.keys_of([p.article.doc_id for p in add] + list(delete))
            meta = self.catalog.meta()
            next_key = self._first_key(len(add), meta)
            name = None
            if add:
                name = f"seg-{int(meta.get('next_segment', 1)):08d}"
                items = [(next_key + i, p) for i, p in enumerate(add)]
                self._new_folder(
                    name,
                    lambda f: segment.write(f, items, info.dimension),
                    lambda: _segment_bytes(add, info.dimension),
                )
            gone = [d for d in delete if d in known]
            with full_disk_as_error(self.root / CATALOG, lambda: _catalog_bytes(add)):
                self._commit(info, add, gone, known, next_key, name)
            try:
                self._merge_tiers(info.dimension)
            except StorageFullError as exc:  # the articles are committed: merge another time
                log.warning("segments not merged this time: %s", exc.message)
                self._remove_orphans_quietly()
        replaced = tuple(p.article.doc_id for p in add if p.article.doc_id in known)
        added = tuple(p.article.doc_id for p in add if p.article.doc_id not in known)
        return WriteResult(added, replaced, tuple(gone))

    def _commit(
        self,
        info: StoreInfo,
        add: Sequence[PreparedArticle],
        gone: list[str],
        known: dict[str, tuple[int, str, str]],
        next_key: int,
        name: str | None,
    ) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self.catalog.transaction() as con:
            dropped = [known[d] for d in [p.article.doc_id for p in add] + gone if d in known]
            con.executemany(
                "INSERT OR REPLACE INTO dead VALUES (?, ?)", [(key, seg) for key, seg, _ in dropped]
            )
            con.executemany(
                "DELETE FROM articles WHERE doc_key = ?", [(key,) for key, _, _ in dropped]
            )
            con.executemany("DELETE FROM bands WHERE doc_key = ?", [(k,) for k, _, _ in dropped])
            con.executemany(
                f"INSERT INTO articles ({_INSERTED}) VALUES ({','.join('?' * 16)})",
                [_article_row(next_key + i, p, now, name or "") for i, p in enumerate(add)],
            )
            con.executemany(
                "INSERT OR IGNORE INTO bands VALUES (?, ?)",
                [(b, next_key + i) for i, p in enumerate(add) for b in p.band_keys],
            )
            gone_ids = [p.article.doc_id for p in add if p.article.doc_id in known] + gone
            for label in groups_left(add, gone_ids):
                con.execute(RELABEL_SQL.format(mark="?"), (label,) * 4)
            if name is not None:
                con.execute(
                    "INSERT INTO segments VALUES (?, ?)",
                    (name, sum(len(p.chunk_start) for p in add)),
                )
            meta = self.catalog.meta()
            Catalog.set_meta(
                con,
                format_version=STORE_FORMAT,
                model=info.model,
                dimension=info.dimension,
                chunking=info.chunking,
                version=int(meta.get("version", 0)) + 1,
                next_doc_key=next_key + len(add),
                next_segment=int(meta.get("next_segment", 1)) + (1 if name else 0),
            )

    def _first_key(self, n: int, meta: dict[str, object]) -> int:
        """The first of ``n`` new article keys (from ``keys_from`` when rebuilding)."""
        if self._keys_from is not None and n:
            return self._keys_from.reserve_keys(n)
        return int(str(meta.get("next_doc_key", 1)))

    def reserve_keys(self, n: int) -> int:
        """Set ``n`` article keys aside for a store rebuilt aside; returns the first."""
        with self._writing(), self.catalog.transaction() as con:
            first = int(self.catalog.meta().get("next_doc_key", 1))
            Catalog.set_meta(con, next_doc_key=first + n)
        return first

    def _new_folder(
        self, name: str, fill: Callable[[Path], object], needed: Callable[[], int]
    ) -> None:
        """Write a segment folder under a temporary name, then give it its name."""
        tmp = self.root / "segments" / f".tmp-{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        with full_disk_as_error(self.root / "segments", needed):
            fill(tmp)
            tmp.rename(self.root / "segments" / name)
            segment.fsync_dir(self.root / "segments")

    def _remove_orphans(self) -> None:
        """Delete folders no committed state refers to, and what a rebuild that did not
        finish left (called under the writer lock)."""
        listed = {n for n, _ in self.catalog.segments()}
        for path in (self.root / "segments").iterdir():
            if path.name not in listed:
                log.info("removing leftover segment folder %s", path.name)
                shutil.rmtree(path, ignore_errors=True)
        if (self.root / REBUILD_DIR).exists():
            with open(self.root / REBUILD_LOCK, "w") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return  # a rebuild is under way in another process or thread
                log.info("removing the folder of a rebuild that did not finish")
                shutil.rmtree(self.root / REBUILD_DIR, ignore_errors=True)

    def _remove_orphans_quietly(self) -> None:
        """``_remove_orphans`` after a failed write, never hiding the write's own error."""
        try:
            self._remove_orphans()
        except Exception as exc:  # the catalog may be unreadable too; the next writer retries
            log.warning("leftovers of a failed write not removed yet: %s", exc)

    def _merge_tiers(self, dimension: int) -> None:
        tiers: dict[int, list[str]] = {}
        for name, rows in self.catalog.segments():
            tier = 0 if rows < TIER_BASE_ROWS else 1 + int(math.log(rows / TIER_BASE_ROWS, 8))
            tiers.setdefault(tier, []).append(name)
        for names in tiers.values():
            if len(names) >= MERGE_FACTOR:
                self._merge(names, dimension)

    def _merge(self, names: list[str], dimension: int) -> None:
        """Replace the segments ``names`` by one, dropping tombstoned articles."""
        reader = self.reader()
        parts = [s for s in reader.segments if s.name in names]
        meta = self.catalog.meta()
        new = f"seg-{int(meta.get('next_segment', 1)):08d}"
        rows: list[int] = []
        self._new_folder(
            new,
            lambda f: rows.append(segment.merge(f, parts, reader.dead, dimension)),
            lambda: sum(_folder_bytes(p.folder) for p in parts),
        )
        catalog_full = full_disk_as_error(self.root / CATALOG, lambda: 4096 * (1 + len(names)))
        with catalog_full, self.catalog.transaction() as con:
            marks = ",".join("?" * len(names))
            con.execute(f"DELETE FROM segments WHERE name IN ({marks})", names)
            con.execute(f"DELETE FROM dead WHERE segment IN ({marks})", names)
            con.execute(
                f"UPDATE articles SET segment = ? WHERE segment IN ({marks})", [new, *names]
            )
            con.execute("INSERT INTO segments VALUES (?, ?)", (new, rows[0]))
            Catalog.set_meta(
                con,
                version=int(meta.get("version", 0)) + 1,
                next_segment=int(meta.get("next_segment", 1)) + 1,
            )
        log.info("merged %d segments into %s (%d chunks)", len(names), new, rows[0])
        self._remove_orphans()

    def compact(self) -> None:
        info = self.info()
        if info is None:
            return
        with self._writing():
            names = [n for n, _ in self.catalog.segments()]
            if len(names) > 1 or self.catalog.dead_keys():
                self._merge(names, info.dimension)

    def reset(self) -> None:
        """Remove everything; a damaged catalog is deleted and made anew."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._replace_damaged_catalog()
        with self._writing():
            with self.catalog.transaction() as con:
                for table in ("articles", "segments", "dead", "bands"):
                    con.execute(f"DELETE FROM {table}")
                version = int(self.catalog.meta().get("version", 0)) + 1
                con.execute("DELETE FROM meta")
                Catalog.set_meta(con, version=version)
            self._remove_orphans()

    @contextmanager
    def rebuilding(self) -> Iterator[LocalStore]:
        """An empty store in ``.rebuild/`` to fill; when the block ends without an error it
        replaces this one (one catalog transaction), otherwise it is removed.

        This store answers and takes writes meanwhile (writes made during the rebuild are
        replaced by it). One rebuild runs at a time: a second waits for the first. A damaged
        catalog is replaced by an empty one first (it answered nothing anyway)."""
        self.root.mkdir(parents=True, exist_ok=True)  # `--rebuild` into a new directory
        with open(self.root / REBUILD_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released by the kernel if this process dies
            self._replace_damaged_catalog()
            started = self.catalog.version()
            aside = self.root / REBUILD_DIR
            shutil.rmtree(aside, ignore_errors=True)  # an earlier rebuild that did not finish
            fresh = LocalStore(aside, keys_from=self)
            (aside / "segments").mkdir(parents=True)
            fresh.catalog.connection()  # an empty catalog, even if nothing is written
            try:
                yield fresh
                fresh.close()
                with self._writing():
                    if self.catalog.version() != started:
                        log.warning(
                            "the index at %s changed while it was rebuilt; what was written "
                            "to it meanwhile is not in the rebuilt index",
                            self.root,
                        )
                    local_swap.swap_in(self.root, self.catalog, aside)
                    self._remove_orphans()  # the old index's segments
            finally:
                fresh.close()
                shutil.rmtree(aside, ignore_errors=True)

    def _replace_damaged_catalog(self) -> None:
        try:
            self.catalog.connection()
        except IndexCorruptError:
            log.warning("replacing the damaged catalog in %s", self.root)
            for suffix in ("", "-wal", "-shm"):
                (self.root / (CATALOG + suffix)).unlink(missing_ok=True)

    def close(self) -> None:
        self.catalog.close()


_INSERTED = ARTICLE_COLUMNS


def _segment_bytes(add: Sequence[PreparedArticle], dimension: int) -> int:
    """About the size of the segment files for ``add`` (vectors, spans, postings)."""
    chunks = sum(len(p.chunk_start) for p in add)
    sentences = sum(len(p.sent_start) for p in add)
    terms = sum(len(t) for p in add for t in p.chunk_terms)
    return chunks * (4 * dimension + 5 * 8 + 4) + sentences * (2 * dimension + 16) + terms * 12


def _catalog_bytes(add: Sequence[PreparedArticle]) -> int:
    """About what the catalog grows by for ``add`` (texts and metadata, twice: WAL, then
    the database file)."""
    return 2 * sum(len(p.article.text.encode()) + 512 for p in add)


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())


def _article_row(key: int, p: PreparedArticle, now: str, seg: str) -> tuple[object, ...]:
    return (
        key,
        *article_values(p),
        now,
        seg,
        len(p.chunk_start),
        len(p.sent_start),
        *group_values(p),
    )


def _refuse_old_layout(root: Path) -> None:
    if (root / "manifest.json").exists() and not (root / CATALOG).exists():
        raise IndexCorruptError(
            f"index at {root} was written by an older version (one generation folder per "
            f"write); {REBUILD_HINT}"
        )


def remove_old_layout(root: Path) -> None:
    """Delete the files of the generation-folder layout (for ``--rebuild``)."""
    if not (root / "manifest.json").exists():
        return
    for path in root.iterdir():
        if path.name == "manifest.json" or path.name.startswith(("gen-", ".gen-", ".manifest")):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
