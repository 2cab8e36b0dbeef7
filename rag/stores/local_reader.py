"""A read view of the local store: its segments and tombstones as of one catalog version."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.models import Copy, Filters
from rag.stores import lexical
from rag.stores.base import ORDINAL_BITS, ORDINAL_MASK, DocData, DuplicateCandidate
from rag.stores.catalog import Catalog
from rag.stores.segment import Segment


@dataclass
class LocalReader:
    """Immutable once built; safe to share between threads."""

    catalog: Catalog
    version: int
    segments: list[Segment]
    dead: set[int]
    alive: list[np.ndarray | None] = field(default_factory=list)  # chunk mask per segment
    total_rows: int = 0
    avg_length: float = 1.0

    def __post_init__(self) -> None:
        dead = np.array(sorted(self.dead), dtype=np.int64)
        lengths = 0.0
        for seg in self.segments:
            keys = seg.articles[:, 0]
            gone = np.isin(keys, dead) if len(dead) else np.zeros(len(keys), dtype=bool)
            self.alive.append(~gone[seg.chunks[:, 0]] if gone.any() else None)
            self.total_rows += seg.rows
            lengths += float(np.sum(seg.postings.lengths))
        self.avg_length = lengths / self.total_rows if self.total_rows else 1.0

    def close(self) -> None:
        """Nothing to let go: the store shares this reader among its views until it changes."""

    def chunk_count(self) -> int:
        return sum(
            int(m.sum()) if m is not None else seg.rows
            for seg, m in zip(self.segments, self.alive, strict=True)
        )

    # -- search ----------------------------------------------------------------------------
    def _allowed(self, filters: Filters) -> list[np.ndarray | None]:
        if filters.is_empty():
            return list(self.alive)
        keys = np.array(self.catalog.filtered_keys(filters), dtype=np.int64)
        out = []
        for seg, alive in zip(self.segments, self.alive, strict=True):
            ok = (
                np.isin(seg.articles[:, 0], keys)[seg.chunks[:, 0]]
                if seg.rows
                else np.zeros(0, dtype=bool)
            )
            out.append(ok if alive is None else ok & alive)
        return out

    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters
    ) -> tuple[np.ndarray, np.ndarray]:
        vector = np.asarray(vector, dtype=np.float32)
        handles, sims = [], []
        for seg, allowed in zip(self.segments, self._allowed(filters), strict=True):
            if allowed is not None and not allowed.any():
                continue
            rows, s = seg.dense(vector, k, allowed)
            handles.append(seg.chunk_handles[rows])
            sims.append(s)
        return _best(handles, sims, k)

    def lexical_search(
        self, terms: Sequence[str], k: int, filters: Filters
    ) -> tuple[np.ndarray, np.ndarray]:
        n, dfs = self.term_stats(terms)
        weights = {t: lexical.idf(n, dfs[t]) for t in dfs}
        handles, scores = [], []
        for seg, allowed in zip(self.segments, self._allowed(filters), strict=True):
            s = lexical.score(seg.postings, list(terms), weights, self.avg_length)
            if allowed is not None:
                s = np.where(allowed, s, 0.0)
            hit = np.flatnonzero(s > 0)
            if len(hit) > k:  # common terms hit many chunks: select before sorting
                hit = hit[np.argpartition(-s[hit], k - 1)[:k]]
            top = hit[np.argsort(-s[hit], kind="stable")]
            handles.append(seg.chunk_handles[top])
            scores.append(s[top])
        return _best(handles, scores, k)

    def term_stats(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        unique = dict.fromkeys(terms)
        return self.total_rows, {
            t: sum(seg.postings.df(t) for seg in self.segments) for t in unique
        }

    # -- rows by handle --------------------------------------------------------------------
    def find(self, key: int) -> tuple[int, int] | None:
        """(segment, article row) of a live article key."""
        if key in self.dead:
            return None
        for s, seg in enumerate(self.segments):
            a = seg.key_index.get(key)
            if a is not None:
                return s, a
        return None

    def live_keys(self) -> list[int]:
        return [
            int(k) for seg in self.segments for k in seg.articles[:, 0] if int(k) not in self.dead
        ]

    def _locate(self, handles: Sequence[int], kind: str) -> list[tuple[int, int]]:
        out = []
        for h in handles:
            place = self.find(int(h) >> ORDINAL_BITS)
            if place is None:
                raise KeyError(f"chunk or sentence {int(h)} is no longer stored")
            s, a = place
            lo = self.segments[s].articles[a, 1 if kind == "chunk" else 3]
            out.append((s, int(lo) + (int(h) & ORDINAL_MASK)))
        return out

    def chunk_vectors(self, handles: np.ndarray) -> np.ndarray:
        return _gather(self.segments, self._locate(list(handles), "chunk"), "vectors")

    def sentence_vectors(self, handles: Sequence[int]) -> np.ndarray:
        return _gather(self.segments, self._locate(list(handles), "sentence"), "sentence_vectors")

    def documents(self, doc_keys: Collection[int]) -> dict[int, DocData]:
        places = {k: p for k in doc_keys if (p := self.find(int(k))) is not None}
        out = {}
        for key, record in self.catalog.articles(list(places)).items():
            s, a = places[key]
            seg = self.segments[s]
            _, clo, chi, slo, shi = (int(x) for x in seg.articles[a])
            chunks, sents = np.asarray(seg.chunks[clo:chi]), np.asarray(seg.sentences[slo:shi])
            out[key] = DocData(
                record,
                sents[:, 0],
                sents[:, 1],
                chunks[:, 1],
                chunks[:, 2],
                chunks[:, 3],
                chunks[:, 4],
            )
        return out

    # -- story groups ----------------------------------------------------------------------
    def duplicate_candidates(self, band_keys: Collection[int]) -> list[DuplicateCandidate]:
        """Articles of this view sharing a band key (the catalog's rows, limited to the
        articles the view's segments hold)."""
        return [c for key, c in self.catalog.band_matches(band_keys) if self.find(key)]

    def group_members(self, group_ids: Collection[str]) -> dict[str, tuple[Copy, ...]]:
        out: dict[str, list[Copy]] = {}
        for key, group, copy in self.catalog.group_rows(group_ids):
            if self.find(key) is not None:
                out.setdefault(group, []).append(copy)
        return {g: tuple(copies) for g, copies in out.items()}


def _gather(segments: list[Segment], places: list[tuple[int, int]], name: str) -> np.ndarray:
    if not places:
        d = segments[0].vectors.shape[1] if segments else 0
        return np.zeros((0, d), dtype=np.float32)
    return np.stack(
        [np.asarray(getattr(segments[s], name)[r], dtype=np.float32) for s, r in places]
    )


def _best(
    handles: list[np.ndarray], scores: list[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    if not handles:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    h, s = np.concatenate(handles).astype(np.int64), np.concatenate(scores).astype(np.float64)
    order = np.argsort(-s, kind="stable")[:k]
    return h[order], s[order]
