"""The index on disk: a directory with ``manifest.json`` and one generation folder of data.

Layout::

    index/
      manifest.json       model, dimension, chunking, counts, version, generation, file sizes
      gen-000007/
        vectors.faiss     chunk vectors (inner product on normalised vectors)
        sentences.npy     sentence vectors (float16), pooled from the chunks' token vectors
        meta.sqlite       articles (with the exact text offsets refer to), chunks, sentences
        bm25/             the BM25 index over chunk texts

Saving writes a new generation folder, then atomically replaces the manifest: a crash at any
point leaves the previous index readable. Readers notice a newer generation by the manifest.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from rag import jsonio
from rag.errors import IndexCorruptError, IndexMissingError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REBUILD_HINT = "rebuild it with `rag ingest --rebuild PATH...`"
_DATA_FILES = ("vectors.faiss", "sentences.npy", "meta.sqlite")


@dataclass(frozen=True)
class ArticleRecord:
    doc_id: str
    title: str
    text: str
    url: str | None
    date: str | None
    source: str | None
    content_hash: str
    ingested_at: str


@dataclass(frozen=True)
class IndexData:
    """Everything one generation of the index holds, in memory and immutable."""

    manifest: dict[str, Any]
    articles: tuple[ArticleRecord, ...]
    chunk_doc: np.ndarray  # article position of each chunk row
    chunk_no: np.ndarray  # chunk number within its article
    chunk_start: np.ndarray
    chunk_end: np.ndarray
    chunk_sent_lo: np.ndarray  # sentence rows [lo, hi) that overlap the chunk
    chunk_sent_hi: np.ndarray
    sent_doc: np.ndarray
    sent_start: np.ndarray
    sent_end: np.ndarray
    vectors: Any  # faiss.Index
    sentence_vectors: np.ndarray
    bm25: bm25s.BM25 | None

    @cached_property
    def matrix(self) -> np.ndarray:
        """The chunk vectors as an (n, d) float32 array copied from the FAISS flat index.

        One query against a flat index is a matrix-vector product; BLAS does it with every
        core, while FAISS scans single-threaded for a single query (9 vs 23 ms at 100k chunks
        on the 2-core reference machine, see bench/query_bench.py)."""
        if self.vectors.ntotal == 0:
            return np.zeros((0, self.vectors.d), dtype=np.float32)
        raw = faiss.vector_to_array(self.vectors.codes).view(np.float32)
        return raw.reshape(int(self.vectors.ntotal), int(self.vectors.d))

    @property
    def generation(self) -> int:
        return int(self.manifest.get("generation", 0))

    def chunk_text(self, row: int) -> str:
        article = self.articles[int(self.chunk_doc[row])]
        return article.text[int(self.chunk_start[row]) : int(self.chunk_end[row])]

    def chunk_id(self, row: int) -> str:
        return f"{self.articles[int(self.chunk_doc[row])].doc_id}#{int(self.chunk_no[row])}"


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.exists():
        raise IndexMissingError(
            f"no index at {root}: build one with `rag ingest PATH...` (e.g. `rag ingest seeds/`)"
        )
    try:
        manifest = jsonio.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"index manifest {path} is unreadable ({exc}); {REBUILD_HINT}") from None
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"index manifest {path} is not an object; {REBUILD_HINT}")
    return manifest


def check_compatible(manifest: dict[str, Any], model: str, dimension: int) -> None:
    """Refuse an index of another format, model or dimension, naming the mismatch."""
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index format version {version!r} is not supported (expected {FORMAT_VERSION}); "
            + REBUILD_HINT
        )
    if manifest.get("model") != model or manifest.get("dimension") != dimension:
        raise IndexCorruptError(
            f"index was built with model {manifest.get('model')!r} "
            f"(dimension {manifest.get('dimension')}), but this service uses {model!r} "
            f"(dimension {dimension}); {REBUILD_HINT}"
        )


def load_index(root: Path, model: str, dimension: int) -> IndexData:
    """Load and validate the current generation; damaged or mismatched data is refused."""
    manifest = read_manifest(root)
    check_compatible(manifest, model, dimension)
    data_dir = root / str(manifest.get("data_dir", ""))
    try:
        _check_files(data_dir, manifest)
        data = _read_generation(data_dir, manifest)
    except IndexCorruptError:
        raise
    except Exception as exc:  # any decoding failure means damage
        raise IndexCorruptError(f"index at {root} is damaged ({exc}); {REBUILD_HINT}") from exc
    _check_counts(data, root)
    return data


def _check_files(data_dir: Path, manifest: dict[str, Any]) -> None:
    sizes = manifest.get("files", {})
    for name in _DATA_FILES:
        path = data_dir / name
        if not path.is_file():
            raise IndexCorruptError(f"index file {path} is missing; {REBUILD_HINT}")
        if sizes.get(name) != path.stat().st_size:
            raise IndexCorruptError(
                f"index file {path} has {path.stat().st_size} bytes, the manifest says "
                f"{sizes.get(name)}: it is damaged; {REBUILD_HINT}"
            )


def _read_generation(data_dir: Path, manifest: dict[str, Any]) -> IndexData:
    con = sqlite3.connect(f"file:{data_dir / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        articles = tuple(
            ArticleRecord(*row)
            for row in con.execute(
                "SELECT doc_id, title, text, url, date, source, content_hash, ingested_at "
                "FROM articles ORDER BY pos"
            )
        )
        chunks = np.array(
            con.execute(
                "SELECT doc_pos, chunk_no, start, end, sent_lo, sent_hi FROM chunks ORDER BY row"
            ).fetchall(),
            dtype=np.int64,
        ).reshape(-1, 6)
        sents = np.array(
            con.execute("SELECT doc_pos, start, end FROM sentences ORDER BY row").fetchall(),
            dtype=np.int64,
        ).reshape(-1, 3)
    finally:
        con.close()
    bm25_dir = data_dir / "bm25"
    bm25 = bm25s.BM25.load(str(bm25_dir)) if (bm25_dir / "params.index.json").exists() else None
    return IndexData(
        manifest=manifest, articles=articles,
        chunk_doc=chunks[:, 0], chunk_no=chunks[:, 1], chunk_start=chunks[:, 2],
        chunk_end=chunks[:, 3], chunk_sent_lo=chunks[:, 4], chunk_sent_hi=chunks[:, 5],
        sent_doc=sents[:, 0], sent_start=sents[:, 1], sent_end=sents[:, 2],
        vectors=faiss.read_index(str(data_dir / "vectors.faiss")),
        sentence_vectors=np.load(data_dir / "sentences.npy", mmap_mode="r"),
        bm25=bm25,
    )


def _check_counts(data: IndexData, root: Path) -> None:
    counts = data.manifest.get("counts", {})
    actual = {
        "articles": len(data.articles),
        "chunks": int(data.vectors.ntotal),
        "sentences": int(data.sentence_vectors.shape[0]),
    }
    if len(data.chunk_doc) != actual["chunks"] or len(data.sent_doc) != actual["sentences"]:
        raise IndexCorruptError(f"index at {root} is damaged (metadata/vector mismatch); "
                                + REBUILD_HINT)
    for key, value in actual.items():
        if counts.get(key) != value:
            raise IndexCorruptError(
                f"index at {root} is damaged: manifest counts {counts.get(key)} {key}, "
                f"found {value}; {REBUILD_HINT}"
            )


def save_index(root: Path, data: IndexData) -> dict[str, Any]:
    """Write ``data`` as a new generation, then switch the manifest to it atomically."""
    root.mkdir(parents=True, exist_ok=True)
    generation = _latest_generation(root) + 1
    name = f"gen-{generation:06d}"
    tmp = root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    _write_generation(tmp, data)
    files = {n: (tmp / n).stat().st_size for n in _DATA_FILES}
    _fsync_dir(tmp)
    os.replace(tmp, root / name)
    manifest = {
        **data.manifest,
        "format_version": FORMAT_VERSION,
        "generation": generation,
        "data_dir": name,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "counts": {
            "articles": len(data.articles),
            "chunks": int(data.vectors.ntotal),
            "sentences": int(data.sentence_vectors.shape[0]),
        },
        "files": files,
    }
    tmp_manifest = root / f".{MANIFEST}.tmp-{os.getpid()}"
    tmp_manifest.write_text(json.dumps(manifest, indent=2), "utf-8")
    with open(tmp_manifest, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp_manifest, root / MANIFEST)
    _fsync_dir(root)
    _prune(root, keep={name, _previous(root, name)})
    return manifest


def _write_generation(folder: Path, data: IndexData) -> None:
    faiss.write_index(data.vectors, str(folder / "vectors.faiss"))
    np.save(folder / "sentences.npy", np.asarray(data.sentence_vectors, dtype=np.float16))
    if data.bm25 is not None:
        data.bm25.save(str(folder / "bm25"))
    con = sqlite3.connect(folder / "meta.sqlite")
    try:
        con.executescript(_SCHEMA)
        con.executemany(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?)",
            ((i, a.doc_id, a.title, a.text, a.url, a.date, a.source, a.content_hash,
              a.ingested_at) for i, a in enumerate(data.articles)),
        )
        chunk_cols = (data.chunk_doc, data.chunk_no, data.chunk_start, data.chunk_end,
                      data.chunk_sent_lo, data.chunk_sent_hi)
        con.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?)",
                        ((i, *map(int, row))
                         for i, row in enumerate(zip(*chunk_cols, strict=True))))
        sent_cols = (data.sent_doc, data.sent_start, data.sent_end)
        con.executemany("INSERT INTO sentences VALUES (?,?,?,?)",
                        ((i, *map(int, row)) for i, row in enumerate(zip(*sent_cols, strict=True))))
        con.commit()
    finally:
        con.close()


_SCHEMA = """
CREATE TABLE articles (pos INTEGER PRIMARY KEY, doc_id TEXT UNIQUE NOT NULL, title TEXT,
    text TEXT NOT NULL, url TEXT, date TEXT, source TEXT, content_hash TEXT, ingested_at TEXT);
CREATE TABLE chunks (row INTEGER PRIMARY KEY, doc_pos INTEGER, chunk_no INTEGER,
    start INTEGER, end INTEGER, sent_lo INTEGER, sent_hi INTEGER);
CREATE TABLE sentences (row INTEGER PRIMARY KEY, doc_pos INTEGER, start INTEGER, end INTEGER);
"""


def _latest_generation(root: Path) -> int:
    numbers = [int(p.name[4:]) for p in root.glob("gen-*") if p.name[4:].isdigit()]
    return max(numbers, default=0)


def _previous(root: Path, current: str) -> str:
    names = sorted(p.name for p in root.glob("gen-*") if p.name < current)
    return names[-1] if names else ""


def _prune(root: Path, keep: set[str]) -> None:
    """Drop old generations (the previous one stays for readers still loading it)."""
    for path in root.iterdir():
        stale_tmp = ".tmp-" in path.name and time.time() - path.stat().st_mtime > 3600
        if (path.name.startswith("gen-") and path.name not in keep) or stale_tmp:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
