"""Lexical postings of one segment, scored with BM25 over the statistics of all segments.

Each segment keeps, per term, the chunks that hold it and how often (a CSR matrix: ``indptr``
into ``docs`` and ``tf``), plus each chunk's length in terms. Scores use the collection-wide
chunk count, document frequencies and average length (summed over the segments, as Lucene
does), so splitting an index into segments does not change a chunk's score. The formula is
the Lucene variant that ``bm25s`` uses, so one segment scores as the generation index did.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

K1 = 1.5  # bm25s' default term-frequency saturation
B = 0.75  # bm25s' default length normalisation


@dataclass(frozen=True)
class Postings:
    vocab: dict[str, int]
    indptr: np.ndarray  # (terms + 1,) int64
    docs: np.ndarray  # chunk rows, int32
    tf: np.ndarray  # term frequency in that chunk, float32
    lengths: np.ndarray  # terms in each chunk, float32

    @property
    def rows(self) -> int:
        return len(self.lengths)

    def df(self, term: str) -> int:
        i = self.vocab.get(term)
        return 0 if i is None else int(self.indptr[i + 1] - self.indptr[i])

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        i = self.vocab.get(term)
        if i is None:
            return None
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.docs[a:b], self.tf[a:b]


def build(chunk_terms: Sequence[Sequence[str]]) -> Postings:
    """Postings of chunks given as term lists (row = position in ``chunk_terms``)."""
    vocab: dict[str, int] = {}
    triples: list[tuple[int, int, int]] = []
    lengths = np.zeros(len(chunk_terms), dtype=np.float32)
    for row, terms in enumerate(chunk_terms):
        lengths[row] = max(len(terms), 1)  # bm25s indexes an empty chunk as one token
        counts: dict[str, int] = {}
        for t in terms:
            counts[t] = counts.get(t, 0) + 1
        for t, n in counts.items():
            triples.append((vocab.setdefault(t, len(vocab)), row, n))
    return _from_triples(vocab, triples, lengths)


def _from_triples(
    vocab: dict[str, int], triples: list[tuple[int, int, int]] | np.ndarray, lengths: np.ndarray
) -> Postings:
    arr = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    order = np.lexsort((arr[:, 1], arr[:, 0]))
    arr = arr[order]
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.add.at(indptr, arr[:, 0] + 1, 1)
    return Postings(
        vocab, np.cumsum(indptr), arr[:, 1].astype(np.int32), arr[:, 2].astype(np.float32), lengths
    )


def merge(parts: Sequence[tuple[Postings, np.ndarray]]) -> Postings:
    """One postings list from several, each with a map from its rows to new rows (-1: drop)."""
    vocab: dict[str, int] = {}
    blocks: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    for postings, new_row in parts:
        if postings.rows == 0:
            continue
        names = sorted(postings.vocab, key=postings.vocab.__getitem__)
        ids = np.array([vocab.setdefault(t, len(vocab)) for t in names], dtype=np.int64)
        term_of = np.repeat(ids, np.diff(postings.indptr))
        rows = new_row[postings.docs]
        keep = rows >= 0
        blocks.append(
            np.stack([term_of[keep], rows[keep], postings.tf[keep].astype(np.int64)], axis=1)
        )
        lengths.append(postings.lengths[new_row >= 0])
    all_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.float32)
    triples = np.concatenate(blocks) if blocks else np.zeros((0, 3), dtype=np.int64)
    return _from_triples(vocab, triples, all_lengths)


def idf(n: int, df: int) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def score(
    postings: Postings, terms: Sequence[str], weights: dict[str, float], avg_length: float
) -> np.ndarray:
    """BM25 score of every chunk row for the query terms (``weights``: collection-wide IDF)."""
    out = np.zeros(postings.rows, dtype=np.float64)
    scale = B / max(avg_length, 1e-9)
    for t in terms:
        hit = postings.postings(t)
        if hit is None:
            continue
        docs, tf = hit
        norm = K1 * ((1 - B) + scale * postings.lengths[docs])  # only the chunks with t
        out[docs] += weights[t] * tf / (norm + tf)  # a term lists each chunk once
    return out


def save(postings: Postings, folder: Path) -> None:
    (folder / "lex_vocab.json").write_text(
        json.dumps(sorted(postings.vocab, key=postings.vocab.__getitem__)), "utf-8"
    )
    for name in ("indptr", "docs", "tf", "lengths"):
        np.save(folder / f"lex_{name}.npy", getattr(postings, name))


def load(folder: Path) -> Postings:
    names = json.loads((folder / "lex_vocab.json").read_text("utf-8"))
    arrays = {
        n: np.load(folder / f"lex_{n}.npy", mmap_mode="r")
        for n in ("indptr", "docs", "tf", "lengths")
    }
    return Postings({t: i for i, t in enumerate(names)}, **arrays)
