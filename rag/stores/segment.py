"""One immutable segment of the local store: a folder of arrays for a batch of articles.

A write adds one segment; merges replace several with one. Everything numeric is a ``.npy``
file opened memory-mapped, so a process holds in RAM only the pages its queries touch (and the
HNSW graph of large segments). Article texts and metadata live in the catalog (SQLite), not
here. Layout of ``seg-NNNNNNNN/``::

    meta.json          rows, sentences, articles, dimension, whether ann.faiss exists, and
                       the size and checksum of every other file (``rag.stores.checksums``)
    articles.npy       (a, 5) int64: doc_key, chunk_lo, chunk_hi, sent_lo, sent_hi (rows)
    chunks.npy         (n, 5) int64: article index, start, end, sentence ordinals [lo, hi)
    sentences.npy      (m, 2) int64: start, end
    vectors.npy        (n, d) float32 chunk vectors
    sentence_vectors.npy (m, d) float16
    lex_*.npy/json     lexical postings (``rag.stores.lexical``)
    ann.faiss          an inverted-file index over vectors.npy (8-bit codes), for segments
                       of ANN_MIN_ROWS chunks or more
"""

from __future__ import annotations

import json
import logging
import mmap
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.stores import checksums, lexical
from rag.stores.base import ORDINAL_BITS, PreparedArticle
from rag.stores.lexical import Postings

log = logging.getLogger(__name__)

# Segments of this many chunks get an approximate index (an inverted file with 8-bit codes,
# cheaper to build than HNSW): a size tier holds up to 7 segments, so the flat ones must stay
# small for their exact scans to add up to little (docs/experiments.md, "Storage").
ANN_MIN_ROWS = 20_000
ANN_MAX_LISTS = 1024  # clusters: sqrt(rows), capped so that training stays in seconds
ANN_PROBE_SHARE = 0.05  # of the clusters scanned per query...
ANN_MIN_PROBES = 16  # ...but at least this many (small segments have few clusters)
ANN_CANDIDATES = 4  # times k read from the codes, then rescored exactly from vectors.npy
# Below this share of allowed rows (filters, deletions), exact search over the allowed rows
# beats scanning clusters whose rows are mostly filtered out.
EXACT_BELOW = 0.05


@dataclass
class Segment:
    name: str
    folder: Path
    articles: np.ndarray
    chunks: np.ndarray
    sentences: np.ndarray
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    postings: Postings
    ann: Any | None

    @property
    def rows(self) -> int:
        return len(self.chunks)

    @cached_property
    def key_index(self) -> dict[int, int]:
        """Article key -> article row, built once per segment (segments never change)."""
        return {int(k): a for a, k in enumerate(self.articles[:, 0])}

    @cached_property
    def chunk_handles(self) -> np.ndarray:
        art = self.chunks[:, 0]
        keys = self.articles[art, 0]
        ordinals = np.arange(self.rows) - self.articles[art, 1]
        return (keys << ORDINAL_BITS) | ordinals

    def dense(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` rows by inner product among ``allowed`` (None: all)."""
        if self.rows == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        share = 1.0 if allowed is None else float(allowed.mean())
        if self.ann is not None and share >= EXACT_BELOW:
            return self._approximate(vector, k, allowed)
        if allowed is not None and share < 0.5:
            rows = np.flatnonzero(allowed)
            sims = self.vectors[rows] @ vector
            top = _top(sims, k)
            return rows[top], sims[top].astype(np.float64)
        sims = np.asarray(self.vectors @ vector, dtype=np.float64)
        if allowed is not None:
            sims = np.where(allowed, sims, -np.inf)
        top = _top(sims, k)
        top = top[np.isfinite(sims[top])]
        return top, sims[top]

    def _approximate(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        assert self.ann is not None
        params = faiss.SearchParametersIVF()
        params.nprobe = min(
            self.ann.nlist, max(ANN_MIN_PROBES, round(self.ann.nlist * ANN_PROBE_SHARE))
        )
        if allowed is not None:
            bits = np.packbits(allowed, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(self.rows, faiss.swig_ptr(bits))
        _, found = self.ann.search(vector.reshape(1, -1), ANN_CANDIDATES * k, params=params)
        rows = found[0][found[0] >= 0].astype(np.int64)
        sims = np.asarray(self.vectors[np.sort(rows)] @ vector, dtype=np.float64)
        rows = np.sort(rows)
        top = _top(sims, k)
        return rows[top], sims[top]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(scores))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def write(folder: Path, items: Sequence[tuple[int, PreparedArticle]], dimension: int) -> None:
    """Write a segment for ``(doc_key, prepared)`` pairs into the new folder ``folder``."""
    arts: list[tuple[int, int, int, int, int]] = []
    chunks: list[np.ndarray] = []
    sents: list[np.ndarray] = []
    vecs: list[np.ndarray] = []
    svecs: list[np.ndarray] = []
    terms: list[tuple[str, ...]] = []
    for i, (key, p) in enumerate(items):
        c0, s0 = sum(len(c) for c in chunks), sum(len(x) for x in sents)
        n, m = len(p.chunk_start), len(p.sent_start)
        arts.append((key, c0, c0 + n, s0, s0 + m))
        chunks.append(
            np.stack(
                [np.full(n, i), p.chunk_start, p.chunk_end, p.chunk_sent_lo, p.chunk_sent_hi],
                axis=1,
            )
            .astype(np.int64)
            .reshape(-1, 5)
        )
        sents.append(np.stack([p.sent_start, p.sent_end], axis=1).astype(np.int64).reshape(-1, 2))
        vecs.append(np.asarray(p.chunk_vectors, dtype=np.float32).reshape(-1, dimension))
        svecs.append(np.asarray(p.sentence_vectors, dtype=np.float16).reshape(-1, dimension))
        terms.extend(p.chunk_terms)
    _save(
        folder,
        np.array(arts, dtype=np.int64).reshape(-1, 5),
        _cat(chunks, (0, 5)),
        _cat(sents, (0, 2)),
        _cat(vecs, (0, dimension), np.float32),
        _cat(svecs, (0, dimension), np.float16),
        lexical.build(terms),
    )


def merge(folder: Path, parts: Sequence[Segment], dead: set[int], dimension: int) -> int:
    """Write one segment holding the live articles of ``parts``; returns its row count."""
    arts: list[np.ndarray] = []
    chunks: list[np.ndarray] = []
    sents: list[np.ndarray] = []
    vecs: list[np.ndarray] = []
    svecs: list[np.ndarray] = []
    lex_parts = []
    c_total = s_total = 0
    for seg in parts:
        alive = ~np.isin(seg.articles[:, 0], list(dead))
        chunk_alive = alive[seg.chunks[:, 0]] if seg.rows else np.zeros(0, bool)
        sent_alive = np.repeat(alive, seg.articles[:, 4] - seg.articles[:, 3])
        new_row = np.full(seg.rows, -1, dtype=np.int64)
        new_row[chunk_alive] = c_total + np.arange(int(chunk_alive.sum()))
        lex_parts.append((seg.postings, new_row))
        new_art = np.cumsum(alive) - 1 + len(arts)  # arts holds one row per article
        for a in np.flatnonzero(alive):
            key, clo, chi, slo, shi = (int(x) for x in seg.articles[a])
            arts.append(
                np.array(
                    [[key, c_total, c_total + chi - clo, s_total, s_total + shi - slo]],
                    dtype=np.int64,
                )
            )
            c_total += chi - clo
            s_total += shi - slo
        kept = seg.chunks[chunk_alive].copy()
        kept[:, 0] = new_art[kept[:, 0]]
        chunks.append(kept)
        sents.append(np.asarray(seg.sentences[sent_alive]))
        vecs.append(np.asarray(seg.vectors[chunk_alive]))
        svecs.append(np.asarray(seg.sentence_vectors[sent_alive]))
    _save(
        folder,
        _cat(arts, (0, 5)),
        _cat(chunks, (0, 5)),
        _cat(sents, (0, 2)),
        _cat(vecs, (0, dimension), np.float32),
        _cat(svecs, (0, dimension), np.float16),
        lexical.merge(lex_parts),
    )
    return c_total


def _cat(parts: list[Any], empty: tuple[int, int], dtype: Any = np.int64) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(empty, dtype=dtype)


def _save(
    folder: Path,
    articles: np.ndarray,
    chunks: np.ndarray,
    sentences: np.ndarray,
    vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    postings: Postings,
) -> None:
    folder.mkdir(parents=True)
    np.save(folder / "articles.npy", articles)
    np.save(folder / "chunks.npy", chunks)
    np.save(folder / "sentences.npy", sentences)
    np.save(folder / "vectors.npy", vectors)
    np.save(folder / "sentence_vectors.npy", sentence_vectors)
    lexical.save(postings, folder)
    ann = len(vectors) >= ANN_MIN_ROWS
    if ann:
        _build_ann(folder, vectors)
    meta = {
        "rows": len(chunks),
        "sentences": len(sentences),
        "articles": len(articles),
        "dimension": int(vectors.shape[1]),
        "ann": ann,
    }
    meta = checksums.seal(meta, folder, [p.name for p in folder.iterdir()])
    (folder / "meta.json").write_text(json.dumps(meta), "utf-8")
    for path in folder.iterdir():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(folder)


def _build_ann(folder: Path, vectors: np.ndarray) -> None:
    import faiss

    n, d = vectors.shape
    lists = min(ANN_MAX_LISTS, int(np.sqrt(n)))
    log.info("building an inverted-file index (%d lists) over %d vectors", lists, n)
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, d, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    sample = np.random.default_rng(0).choice(n, size=min(n, 40 * lists), replace=False)
    index.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
    for start in range(0, n, 100_000):
        index.add(np.ascontiguousarray(vectors[start : start + 100_000], dtype=np.float32))
    index.quantizer = quantizer  # keep the Python object alive with the index
    faiss.write_index(index, str(folder / "ann.faiss"))


def load(folder: Path) -> Segment:
    """Open a segment, memory-mapped, after checking its files against their checksums; a
    missing file raises FileNotFoundError, a damaged one OSError or ValueError (naming it)."""
    try:
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
    except ValueError as exc:  # not JSON, not UTF-8
        raise checksums.SegmentDamaged(f"{folder / 'meta.json'}: {exc}") from None
    if not isinstance(meta, dict):
        raise checksums.SegmentDamaged(f"{folder / 'meta.json'} is not a segment's meta.json")
    if not checksums.verify(meta, folder):
        log.info("segment %s has no checksums (written by an earlier version)", folder)

    def arr(name: str) -> np.ndarray:
        try:
            return np.load(folder / name, mmap_mode="r")
        except ValueError as exc:  # a header numpy cannot read, a file shorter than it says
            raise checksums.SegmentDamaged(f"{folder / name}: {exc}") from None

    def rows_at_random(name: str) -> np.ndarray:
        """Vectors are read a few rows at a time: no read-ahead (it filled memory with
        neighbouring rows no question asked for: serve RSS 3.5 GiB at 1M chunks)."""
        array = arr(name)
        raw = getattr(array, "_mmap", None)
        if raw is not None and hasattr(mmap, "MADV_RANDOM"):
            raw.madvise(mmap.MADV_RANDOM)
        return array

    ann = None
    if meta.get("ann"):
        import faiss

        try:
            ann = faiss.read_index(str(folder / "ann.faiss"))
        except RuntimeError as exc:  # faiss reports a damaged file as a RuntimeError
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
            raise checksums.SegmentDamaged(f"{folder / 'ann.faiss'}: {reason}") from None
    seg = Segment(
        folder.name,
        folder,
        np.asarray(arr("articles.npy")),
        arr("chunks.npy"),
        arr("sentences.npy"),
        rows_at_random("vectors.npy"),
        rows_at_random("sentence_vectors.npy"),
        lexical.load(folder),
        ann,
    )
    if seg.rows != meta["rows"] or len(seg.sentences) != meta["sentences"]:
        raise ValueError(f"segment {folder} does not match its meta.json")
    return seg


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
