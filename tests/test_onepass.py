"""One pass per model call and per store lookup: the cross-encoder's scores and answer-span rows
come from one forward pass and the reading carries them to the answer span; a question's story
groups are fetched once; answering reads articles through the view. Hash embedder and a
stand-in cross-encoder: fast lane.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from rag import runtime
from rag.answering.scoring import RERANK_CONFIDENCE_FEATURES, Logistic, RerankBlend, load_scorer
from rag.answering.span import attach_spans, read_text
from rag.articles.loading import load_paths
from rag.engine import Engine
from rag.models import Article, Citation
from rag.retrieval import retrieve
from rag.runtime.pairs import PairReading
from rag.stores.local_reader import LocalReader
from tests.helpers import SEEDS

TREATY = (
    "The treaty was signed after long talks. The treaty talks were held in Vienna. "
    "Many diplomats attended the treaty talks."
)


class _ReadsVienna:
    """A stand-in cross-encoder: likes sentences naming Vienna, and its span head points at
    the word "Vienna"; it records every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def rerank(self, question: str, sentences: Sequence[str]) -> tuple[PairReading, ...]:
        self.calls.append(list(sentences))
        return tuple(PairReading(s, 5.0 if "Vienna" in s else -5.0, _rows(s)) for s in sentences)


def _rows(text: str) -> np.ndarray:
    """Token rows ``[start, end, start_logit, end_logit]``: one per word, high on "Vienna"."""
    rows = []
    for m in re.finditer(r"\w+", text):
        logit = 9.0 if m.group() == "Vienna" else 0.0
        rows.append([m.start(), m.end(), logit, logit])
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


@pytest.fixture
def reads_vienna(hash_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> _ReadsVienna:
    """``hash_engine`` with the stand-in cross-encoder, asked on every question."""
    fake = _ReadsVienna()
    monkeypatch.setattr(runtime, "load_reranker", lambda settings, embedder: fake)
    sure = Logistic((0.0,) * len(RERANK_CONFIDENCE_FEATURES), 5.0)
    hash_engine.scorer = replace(load_scorer(), rerank=RerankBlend(8, 10.0, float("inf"), sure))
    return fake


def test_the_answer_span_comes_from_the_pass_that_scored_the_sentence(
    hash_engine: Engine, reads_vienna: _ReadsVienna
) -> None:
    hash_engine.ingest([Article(doc_id="t", title="Treaty", text=TREATY)])
    answer = hash_engine.ask("Where were the treaty talks held?")
    assert not answer.abstained, answer.reason
    first = answer.citations[0]
    assert first.answer_start is not None and first.answer_end is not None
    assert TREATY[first.answer_start : first.answer_end] == "Vienna"
    assert len(reads_vienna.calls) == 1  # scored and spanned in one call


def test_a_quote_the_reranker_did_not_score_is_read_in_one_call() -> None:
    quotes = ("The talks were held in Vienna.", "Later talks in Vienna failed.")
    cited = tuple(
        Citation(n=n, doc_id="t", title="Treaty", url=None, date=None, start=0, end=len(q),
                 quote=q, score=1.0)
        for n, q in enumerate(quotes, start=1)
    )  # fmt: skip
    fake = _ReadsVienna()
    known = read_text("Treaty", quotes[0])[0]
    out = attach_spans("Where?", cited, fake, [PairReading(known, 1.0, _rows(known))])
    assert fake.calls == [[read_text("Treaty", quotes[1])[0]]]  # only the one not yet read
    assert [q[c.answer_start : c.answer_end] for q, c in zip(quotes, out, strict=True)] == [
        "Vienna",
        "Vienna",
    ]
    fake.calls.clear()
    assert attach_spans("Where?", cited, fake)[1] == out[1] and len(fake.calls) == 1


def test_story_groups_are_fetched_once_per_question(
    hash_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hash_engine.ingest(load_paths([SEEDS / "lowmere"]).articles)
    looked_up: list[Any] = []
    members = LocalReader.group_members

    def counted(self: LocalReader, group_ids: Any) -> Any:
        looked_up.append(set(group_ids))
        return members(self, group_ids)

    monkeypatch.setattr(LocalReader, "group_members", counted)
    answer = hash_engine.ask("What did the mayor say?")  # quotes articles beyond the passages
    assert not answer.abstained and answer.citations
    assert len(looked_up) == 1
    # the copies are still listed beside the passage and every citation
    assert any(c.also_in for c in answer.citations)


def test_the_view_reads_the_article_of_a_handle(hash_engine: Engine) -> None:
    hash_engine.ingest(
        [
            Article(doc_id="a", title="A", text="First one. Second one. Third one."),
            Article(doc_id="b", title="B", text="Other first. Other second."),
        ]
    )
    data = hash_engine.snapshot()
    question = "one first second third other"
    pool = retrieve(data, question, hash_engine.embedder.embed([question])[0], 20)
    rows = [s for r in pool.rows for s in data.chunk_sentences(int(r))]
    data.load(rows)
    by_doc: dict[str, list[int]] = {}
    for h in sorted(set(rows)):
        by_doc.setdefault(data.article_of(h).doc_id, []).append(h)
    a, b = by_doc["a"], by_doc["b"]
    assert [data.sentence_text(h) for h in a] == ["First one.", "Second one.", "Third one."]
    assert data.neighbour(a[0], -1) is None and data.neighbour(a[-1], 1) is None
    assert data.neighbour(a[1], -1) == a[0] and data.neighbour(a[1], 1) == a[2]
    assert data.neighbour(b[0], -1) is None  # never into another article
    assert data.same_article(a[0], a[2]) and not data.same_article(a[0], b[0])
    assert data.article(data.article_key(b[1])).doc_id == "b"
    assert list(data.article_keys(a)) == [data.article_key(h) for h in a]
    assert sorted(a + b, key=data.place) == sorted(a + b)
