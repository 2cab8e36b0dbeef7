"""Building a new index generation from the current one plus added, replaced or deleted articles."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import bm25s
import faiss
import numpy as np

from rag.chunking import Chunker
from rag.embedding import Embedder, embed_with_spans
from rag.models import Article, Chunk, Span
from rag.store import ArticleRecord, IndexData
from rag.text import content_terms, split_sentences

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)


@dataclass
class _Columns:
    """Growing per-row columns of a generation being assembled."""

    articles: list[ArticleRecord] = field(default_factory=list)
    chunks: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)
    sentences: list[tuple[int, int, int]] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    sentence_vectors: list[np.ndarray] = field(default_factory=list)


def empty_index(manifest: dict[str, Any], dimension: int) -> IndexData:
    return _finish(_Columns(), manifest, dimension)


def apply_changes(
    old: IndexData, add: Sequence[Article], remove: set[str], embedder: Embedder,
    chunker: Chunker, *, progress: bool = False,
) -> IndexData:
    """A new generation: ``old`` without ``remove`` (and without replaced ids), plus ``add``."""
    replaced = remove | {a.doc_id for a in add}
    cols = _Columns()
    _copy_kept(old, replaced, cols)
    if add:
        _add_articles(add, embedder, chunker, cols, progress=progress)
    return _finish(cols, old.manifest, embedder.dimension)


def _copy_kept(old: IndexData, dropped: set[str], cols: _Columns) -> None:
    keep_docs = [i for i, a in enumerate(old.articles) if a.doc_id not in dropped]
    if not keep_docs:
        return
    new_pos = {old_pos: new for new, old_pos in enumerate(keep_docs)}
    cols.articles.extend(old.articles[i] for i in keep_docs)
    chunk_mask = np.isin(old.chunk_doc, keep_docs)
    sent_mask = np.isin(old.sent_doc, keep_docs)
    sent_new_row = np.cumsum(sent_mask) - 1  # old sentence row -> new row
    for row in np.flatnonzero(chunk_mask):
        lo, hi = int(old.chunk_sent_lo[row]), int(old.chunk_sent_hi[row])
        new_lo = int(sent_new_row[lo]) if hi > lo else 0
        cols.chunks.append((new_pos[int(old.chunk_doc[row])], int(old.chunk_no[row]),
                            int(old.chunk_start[row]), int(old.chunk_end[row]),
                            new_lo, new_lo + (hi - lo)))
    for row in np.flatnonzero(sent_mask):
        cols.sentences.append((new_pos[int(old.sent_doc[row])], int(old.sent_start[row]),
                               int(old.sent_end[row])))
    if old.vectors.ntotal:
        cols.vectors.append(old.vectors.reconstruct_n(0, old.vectors.ntotal)[chunk_mask])
    cols.sentence_vectors.append(np.asarray(old.sentence_vectors[sent_mask], dtype=np.float32))


def _add_articles(
    articles: Sequence[Article], embedder: Embedder, chunker: Chunker, cols: _Columns,
    *, progress: bool,
) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    texts: list[str] = []
    spans: list[list[Span]] = []
    owners: list[list[int]] = []  # sentence rows whose vector each chunk provides
    for article in articles:
        doc_pos = len(cols.articles)
        cols.articles.append(ArticleRecord(
            article.doc_id, article.title, article.text, article.url, article.date,
            article.source, article.content_hash, now))
        first_sentence = len(cols.sentences)
        sentences = split_sentences(article.text)
        cols.sentences.extend((doc_pos, s.start, s.end) for s in sentences)
        chunks = chunker.split(article)
        homes = _home_chunks(sentences, chunks)
        for c_index, chunk in enumerate(chunks):
            lo, hi = _overlapping(sentences, chunk)
            cols.chunks.append((doc_pos, c_index, chunk.start, chunk.end,
                                first_sentence + lo, first_sentence + hi))
            mine = [i for i in range(lo, hi) if homes[i] == c_index]
            texts.append(chunk.text)
            spans.append([_relative(sentences[i], chunk) for i in mine])
            owners.append([first_sentence + i for i in mine])
    vectors, span_vectors = embed_with_spans(embedder, texts, spans, progress=progress)
    sentence_vectors = np.zeros((len(cols.sentences), embedder.dimension), dtype=np.float32)
    for rows, vecs in zip(owners, span_vectors, strict=True):
        sentence_vectors[rows] = vecs
    already = sum(len(v) for v in cols.sentence_vectors)
    cols.vectors.append(vectors)
    cols.sentence_vectors.append(sentence_vectors[already:])


def _overlapping(sentences: list[Span], chunk: Chunk) -> tuple[int, int]:
    idx = [i for i, s in enumerate(sentences) if s.start < chunk.end and s.end > chunk.start]
    return (idx[0], idx[-1] + 1) if idx else (0, 0)


def _home_chunks(sentences: list[Span], chunks: list[Chunk]) -> list[int]:
    """For each sentence, the chunk that holds most of it (the first that holds it all)."""
    homes = []
    for s in sentences:
        overlaps = [min(s.end, c.end) - max(s.start, c.start) for c in chunks]
        homes.append(int(np.argmax(overlaps)) if overlaps else -1)
    return homes


def _relative(sentence: Span, chunk: Chunk) -> Span:
    return Span(max(sentence.start, chunk.start) - chunk.start,
                min(sentence.end, chunk.end) - chunk.start)


def _finish(cols: _Columns, manifest: dict[str, Any], dimension: int) -> IndexData:
    chunks = np.array(cols.chunks, dtype=np.int64).reshape(-1, 6)
    sents = np.array(cols.sentences, dtype=np.int64).reshape(-1, 3)
    index = faiss.IndexFlatIP(dimension)
    if cols.vectors:
        index.add(np.ascontiguousarray(np.vstack(cols.vectors), dtype=np.float32))
    sentence_vectors = (np.vstack(cols.sentence_vectors) if cols.sentence_vectors
                        else np.zeros((0, dimension), dtype=np.float32))
    texts = [cols.articles[d].text[s:e] for d, _, s, e, _, _ in cols.chunks]
    return IndexData(
        manifest=manifest, articles=tuple(cols.articles),
        chunk_doc=chunks[:, 0], chunk_no=chunks[:, 1], chunk_start=chunks[:, 2],
        chunk_end=chunks[:, 3], chunk_sent_lo=chunks[:, 4], chunk_sent_hi=chunks[:, 5],
        sent_doc=sents[:, 0], sent_start=sents[:, 1], sent_end=sents[:, 2],
        vectors=index, sentence_vectors=sentence_vectors.astype(np.float16),
        bm25=build_bm25(texts),
    )


def build_bm25(texts: Sequence[str]) -> bm25s.BM25 | None:
    """BM25 over chunk texts, with the same terms the answer composer uses."""
    if not texts:
        return None
    retriever = bm25s.BM25()
    retriever.index([content_terms(t) or ["\x00"] for t in texts], show_progress=False)
    return retriever
