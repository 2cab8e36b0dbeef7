"""A question's candidate sentences as serving scores them, labelled for training.

Contract: ``collect(engine, item)`` returns the rows and the feature matrix that
``Engine.ask(item.question)`` scores (same retrieval pool, same ``pool_features``), so that a
scorer fitted on them weighs exactly what it will weigh when answering; a test checks this.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from rag.answering.compose import POOL_DEPTH, pool_features
from rag.answering.features import Question, analyse
from rag.engine import Engine
from rag.evaluation.datasets import EvalItem
from rag.evaluation.metrics import quote_contains_answer
from rag.retrieval import retrieve


@dataclass(frozen=True)
class Candidates:
    """One question's candidate sentences: their rows, features and labels."""

    qid: str
    question: Question
    in_corpus: bool
    rows: list[int]
    articles: np.ndarray  # the article key of each candidate (as serving's confidence gets)
    features: np.ndarray  # rows of features.SENTENCE_SCHEMA
    labels: np.ndarray  # 1 where the sentence holds a gold answer from the gold article
    answers: tuple[str, ...] = ()


def fold_of(qid: str, folds: int) -> int:
    """A fixed fold of a question, 0 .. ``folds`` - 1 (a hash of its id: stable across runs)."""
    return int(hashlib.md5(qid.encode()).hexdigest(), 16) % folds


def collect(engine: Engine, item: EvalItem) -> Candidates | None:
    """The candidate sentences ``Engine.ask`` would score for ``item``, labelled; None when
    retrieval finds none."""
    data = engine.snapshot()
    vector = engine.embedder.embed([item.question])[0]
    pool = retrieve(data, item.question, vector, POOL_DEPTH)
    q = analyse(item.question, data)
    rows, features = pool_features(q, data, pool, vector)
    if not rows:
        return None
    articles = data.article_keys(rows)
    labels = np.array(
        [
            item.in_corpus
            and data.article(int(key)).doc_id == item.doc_id
            and quote_contains_answer(data.sentence_text(r), item.answers)
            for r, key in zip(rows, articles, strict=True)
        ],
        dtype=np.float64,
    )
    return Candidates(item.qid, q, item.in_corpus, rows, articles, features, labels, item.answers)
