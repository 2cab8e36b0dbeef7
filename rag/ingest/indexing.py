"""Preparing articles for a store: chunks, quotable sentences, vectors and lexical terms.

Embedding runs in bounded batches (``EMBED_BATCH_CHUNKS`` chunks per model call): the model
serves questions between two batches, so a large write never holds it for long.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from rag.ingest.chunking import Chunker
from rag.models import Article, Chunk, Span
from rag.newsparts import quotable
from rag.runtime.embedding import Embedder, embed_with_spans
from rag.runtime.entities import extract
from rag.stores.base import PreparedArticle
from rag.text import content_terms, split_sentences

log = logging.getLogger(__name__)

# Chunks per model call while ingesting, so a question waits behind at most one small call
# (and faster than larger calls with int8 ONNX: docs/experiments.md, "Model backend").
EMBED_BATCH_CHUNKS = 2
# Characters of article text tagged per spaCy call (a few news articles): batches are faster
# than one text at a time (docs/experiments.md, "Named entities").
NER_BATCH_CHARS = 20_000


def prepare(
    articles: Sequence[Article],
    embedder: Embedder,
    chunker: Chunker,
    progress: object | None = None,
    entities: bool = True,
) -> Iterator[PreparedArticle]:
    """Each article chunked, split into quotable sentences and embedded, in order.

    ``progress`` (optional) gets an ``update(1)`` call for each article embedded; with
    ``entities`` each article also gets its named entities (``rag.runtime.entities``, spaCy)."""
    return _counted(_named(_embedded(articles, embedder, chunker), entities), progress)


def _embedded(
    articles: Sequence[Article], embedder: Embedder, chunker: Chunker
) -> Iterator[PreparedArticle]:
    batch: list[tuple[Article, list[Chunk], list[Span], list[tuple[int, int]]]] = []
    size = 0
    for article in articles:
        sentences = quotable(article.text, split_sentences(article.text))
        chunks = chunker.split(article)
        ranges = [_overlapping(sentences, c) for c in chunks]
        batch.append((article, chunks, sentences, ranges))
        size += len(chunks)
        if size >= EMBED_BATCH_CHUNKS:
            yield from _embed(batch, embedder)
            batch, size = [], 0
    if batch:
        yield from _embed(batch, embedder)


def _named(items: Iterator[PreparedArticle], wanted: bool) -> Iterator[PreparedArticle]:
    """The articles with their named entities, when ``wanted``, tagged a few at a time (spaCy
    reads several texts at once faster than one by one)."""
    group: list[PreparedArticle] = []
    for item in items:
        if not wanted:
            yield item
            continue
        group.append(item)
        if sum(len(g.article.text) for g in group) >= NER_BATCH_CHARS:
            yield from _tagged(group)
            group = []
    yield from _tagged(group)


def _tagged(group: list[PreparedArticle]) -> Iterator[PreparedArticle]:
    found = extract([g.article.text for g in group]) if group else []
    for item, entities in zip(group, found, strict=True):
        yield replace(item, entities=entities)


def _counted(
    items: Iterator[PreparedArticle], progress: object | None
) -> Iterator[PreparedArticle]:
    for item in items:
        yield item
        if progress is not None:
            progress.update(1)  # type: ignore[attr-defined]


def _embed(
    batch: list[tuple[Article, list[Chunk], list[Span], list[tuple[int, int]]]],
    embedder: Embedder,
) -> Iterator[PreparedArticle]:
    texts: list[str] = []
    spans: list[list[Span]] = []
    owners: list[list[tuple[int, int]]] = []  # (article in batch, sentence) of each span
    for a_index, (_, chunks, sentences, ranges) in enumerate(batch):
        homes = _home_chunks(sentences, chunks)
        for c_index, (chunk, (lo, hi)) in enumerate(zip(chunks, ranges, strict=True)):
            mine = [i for i in range(lo, hi) if homes[i] == c_index]
            texts.append(chunk.text)
            spans.append([_relative(sentences[i], chunk) for i in mine])
            owners.append([(a_index, i) for i in mine])
    all_vectors: list[np.ndarray] = [np.zeros((0, embedder.dimension), dtype=np.float32)]
    all_spans: list[np.ndarray] = []
    for start in range(0, len(texts), EMBED_BATCH_CHUNKS):
        part = slice(start, start + EMBED_BATCH_CHUNKS)
        vectors, span_vectors = embed_with_spans(embedder, texts[part], spans[part])
        all_vectors.append(vectors)
        all_spans.extend(span_vectors)
    yield from _assemble(batch, np.vstack(all_vectors), all_spans, owners, embedder.dimension)


def _assemble(
    batch: list[tuple[Article, list[Chunk], list[Span], list[tuple[int, int]]]],
    chunk_vectors: np.ndarray,
    span_vectors: list[np.ndarray],
    owners: list[list[tuple[int, int]]],
    dimension: int,
) -> Iterator[PreparedArticle]:
    sentence_vectors = [np.zeros((len(s), dimension), dtype=np.float32) for _, _, s, _ in batch]
    for places, vecs in zip(owners, span_vectors, strict=True):
        for (a, i), v in zip(places, vecs, strict=True):
            sentence_vectors[a][i] = v
    row = 0
    for (article, chunks, sentences, ranges), svecs in zip(batch, sentence_vectors, strict=True):
        n = len(chunks)
        yield PreparedArticle(
            article=article,
            chunk_start=np.array([c.start for c in chunks], dtype=np.int64),
            chunk_end=np.array([c.end for c in chunks], dtype=np.int64),
            chunk_sent_lo=np.array([lo for lo, _ in ranges], dtype=np.int64),
            chunk_sent_hi=np.array([hi for _, hi in ranges], dtype=np.int64),
            sent_start=np.array([s.start for s in sentences], dtype=np.int64),
            sent_end=np.array([s.end for s in sentences], dtype=np.int64),
            chunk_vectors=np.asarray(chunk_vectors[row : row + n], dtype=np.float32),
            sentence_vectors=svecs,
            chunk_terms=tuple(tuple(content_terms(c.text)) for c in chunks),
        )
        row += n


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
    return Span(
        max(sentence.start, chunk.start) - chunk.start, min(sentence.end, chunk.end) - chunk.start
    )


def take_chunks(items: Iterator[PreparedArticle], limit: int) -> list[PreparedArticle]:
    """The next articles from ``items`` up to about ``limit`` chunks (one store write)."""
    batch: list[PreparedArticle] = []
    size = 0
    for item in items:
        batch.append(item)
        size += len(item.chunk_start)
        if size >= limit:
            break
    return batch


def progress_bar(articles: Sequence[Article], wanted: bool) -> object | None:
    """A tqdm bar over the articles to embed, when asked for and the work is not tiny."""
    if not wanted or len(articles) < 2:
        return None
    from tqdm import tqdm

    return tqdm(total=len(articles), unit="article", desc="embedding", dynamic_ncols=True)
