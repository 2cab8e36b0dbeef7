"""Hybrid retrieval: the store's dense and lexical rankings fused by reciprocal rank fusion.

Filters are applied inside the store (``StoreReader.dense_search``/``lexical_search``), so a
filtered query never scans articles in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.models import NO_FILTERS, Filters, Passage
from rag.stores.view import View
from rag.text import content_terms

Mode = Literal["hybrid", "dense", "bm25"]
RRF_K = 60  # the constant of Cormack et al.'s reciprocal rank fusion


@dataclass(frozen=True)
class Ranked:
    """Chunk handles with fused scores, plus each one's dense similarity (for answering)."""

    rows: np.ndarray
    scores: np.ndarray
    dense: np.ndarray  # cosine similarity of each chunk to the query


def retrieve(
    data: View,
    query: str,
    query_vector: np.ndarray,
    top_k: int,
    filters: Filters = NO_FILTERS,
    mode: Mode = "hybrid",
    depth: int = 50,
) -> Ranked:
    """The ``top_k`` best chunks for the query."""
    empty = np.zeros(0)
    depth = max(depth, top_k)
    dense_rows, dense_sims = data.dense_search(query_vector, depth, filters)
    terms = content_terms(query)
    lex_rows, lex_scores = data.lexical_search(terms, depth, filters) if terms else (empty, empty)
    if mode == "dense":
        fused = {int(r): float(s) for r, s in zip(dense_rows, dense_sims, strict=True)}
    elif mode == "bm25":
        fused = {int(r): float(s) for r, s in zip(lex_rows, lex_scores, strict=True)}
    else:
        fused = _rrf([dense_rows, lex_rows])
    best = sorted(fused, key=lambda r: -fused[r])[:top_k]
    rows = np.array(best, dtype=np.int64)
    if len(rows) == 0:
        return Ranked(rows, empty, empty)
    sims = np.asarray(data.chunk_vectors(rows) @ query_vector.astype(np.float32), np.float64)
    return Ranked(rows=rows, scores=np.array([fused[r] for r in best]), dense=sims)


def _rrf(rankings: list[np.ndarray]) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking):
            fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (RRF_K + rank + 1)
    return fused


def to_passages(data: View, ranked: Ranked) -> list[Passage]:
    data.load(int(r) for r in ranked.rows)
    out = []
    for r, s in zip(ranked.rows, ranked.scores, strict=True):
        if not data.has_article_of(int(r)):
            continue  # deleted since the search
        start, end = data.chunk_span(int(r))
        out.append(
            Passage(
                doc_id=data.article_of(int(r)).doc_id,
                chunk_id=data.chunk_id(int(r)),
                start=start,
                end=end,
                text=data.chunk_text(int(r)),
                score=round(float(s), 6),
            )
        )
    return out
