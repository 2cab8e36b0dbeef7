"""The extractive answer composer: quote the best sentences, cite them exactly, or abstain."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.models import Citation
from rag.retrieval import Ranked
from rag.scoring import Question, Scorer, sentence_features, sentence_text, speaker_score
from rag.store import IndexData

MIN_EXTRA_RATIO = 0.8  # a second or third sentence must score this close to the best one
POOL_DEPTH = 20  # chunks retrieved before reranking by their best sentence


@dataclass(frozen=True)
class Reading:
    """The retrieved pool read sentence by sentence: reranked passages and scored sentences."""

    question: Question
    ranked: Ranked  # the top_k chunks, reranked by their best sentence
    rows: list[int]  # candidate sentence rows, best first
    probs: np.ndarray


def read(q: Question, data: IndexData, pool: Ranked, query_vector: np.ndarray, scorer: Scorer,
         top_k: int) -> Reading:
    """Score every sentence of the pool; rank chunks by their best sentence (fused score
    breaks ties), keep ``top_k``."""
    rows, probs = score_sentences(q, data, pool, query_vector, scorer)
    best = dict.fromkeys(range(len(pool.rows)), 0.0)
    prob_of = dict(zip(rows, probs.tolist(), strict=True))
    for i, chunk in enumerate(pool.rows):
        lo, hi = int(data.chunk_sent_lo[chunk]), int(data.chunk_sent_hi[chunk])
        best[i] = max((prob_of.get(s, 0.0) for s in range(lo, hi)), default=0.0)
    order = sorted(best, key=lambda i: (-best[i], -pool.scores[i]))[:top_k]
    ranked = Ranked(pool.rows[order], np.array([best[i] for i in order]), pool.dense[order],
                    pool.bm25[order])
    return Reading(q, ranked, rows, probs)


@dataclass(frozen=True)
class Composition:
    citations: tuple[Citation, ...]
    answer: str
    confidence: float
    abstained: bool
    reason: str | None


def candidate_rows(data: IndexData, ranked: Ranked) -> tuple[list[int], dict[int, int],
                                                               dict[int, float]]:
    """Sentence rows overlapping the ranked chunks, with their best chunk rank and similarity."""
    rank: dict[int, int] = {}
    dense: dict[int, float] = {}
    for position, (row, sim) in enumerate(zip(ranked.rows, ranked.dense, strict=True)):
        for s in range(int(data.chunk_sent_lo[row]), int(data.chunk_sent_hi[row])):
            if s not in rank:
                rank[s] = position
            dense[s] = max(dense.get(s, -1.0), float(sim))
    rows = sorted(rank)
    return rows, rank, dense


def score_sentences(
    q: Question, data: IndexData, ranked: Ranked, query_vector: np.ndarray, scorer: Scorer,
) -> tuple[list[int], np.ndarray]:
    """Candidate sentence rows and their probability of answering the question, best first."""
    rows, rank, dense = candidate_rows(data, ranked)
    if not rows:
        return [], np.zeros(0)
    vectors = np.asarray(data.sentence_vectors[rows], dtype=np.float32)
    sims = vectors @ query_vector.astype(np.float32)
    features = sentence_features(q, data, rows, rank, dense, sims)
    probs = scorer.probabilities(features)
    order = np.argsort(-probs, kind="stable")
    return [rows[i] for i in order], probs[order]


def compose(
    q: Question, data: IndexData, rows: list[int], probs: np.ndarray, threshold: float,
    max_sentences: int = 3,
) -> Composition:
    """The best one to three sentences as quotes with ``[n]`` markers, or an abstention."""
    if not rows:
        return Composition((), "", 0.0, True, "no_relevant_passage")
    confidence = float(probs[0])
    if q.speaker is not None and not _speaker_quoted(q, data, rows[:10]):
        return Composition((), "", confidence, True, "speaker_not_quoted")
    if confidence < threshold:
        return Composition((), "", confidence, True, "low_confidence")
    chosen = [0]
    for i in range(1, len(rows)):
        if len(chosen) >= max_sentences or probs[i] < max(threshold, MIN_EXTRA_RATIO * probs[0]):
            break
        chosen.append(i)
    citations = tuple(_citation(n, data, rows[i], float(probs[i]))
                      for n, i in enumerate(chosen, start=1))
    answer = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Composition(citations, answer, confidence, False, None)


def _speaker_quoted(q: Question, data: IndexData, rows: list[int]) -> bool:
    """Some top candidate is said by the asked-about speaker (or the speaker is unknown here)."""
    return any(speaker_score(q, data, r, sentence_text(data, r)) >= 0.8 for r in rows)


def _citation(n: int, data: IndexData, row: int, score: float) -> Citation:
    article = data.articles[int(data.sent_doc[row])]
    start, end = int(data.sent_start[row]), int(data.sent_end[row])
    return Citation(n=n, doc_id=article.doc_id, title=article.title, url=article.url,
                    date=article.date, start=start, end=end, quote=article.text[start:end],
                    score=round(score, 4))

