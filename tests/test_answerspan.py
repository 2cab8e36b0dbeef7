"""The answer span inside each quote: decoding, SQuAD scoring, and the real reranker's spans."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.answering.span import MAX_ANSWER_TOKENS, attach_spans, best_span, read_text, whole_words
from rag.engine import Engine
from rag.evaluation.datasets import load_dataset
from rag.evaluation.metrics import exact_match, squad_normalize, token_f1
from rag.evaluation.runner import ItemResult, summarize
from rag.models import Citation
from rag.runtime.embedding import SentenceTransformerEmbedder
from rag.settings import Settings
from tests.helpers import SQUAD_MINI


def _rows(tokens: list[tuple[int, int, float, float]]) -> np.ndarray:
    return np.asarray(tokens, dtype=np.float64)


# -- decoding (fast lane) -------------------------------------------------------------------------
def test_best_span_takes_the_best_start_and_end_in_order_within_the_sentence() -> None:
    text, skip = read_text("Penguin count", "Rangers counted 42 penguins on Monday.")
    assert text.startswith("Penguin count: ") and text[skip:].startswith("Rangers")
    rows = _rows(
        [
            (0, 7, 9.0, 9.0),  # "Penguin" in the title: the best logits, but not the sentence
            (skip + 16, skip + 18, 5.0, 1.0),  # "42"
            (skip + 19, skip + 27, 0.0, 4.0),  # "penguins"
            (skip + 31, skip + 37, 0.0, 8.0),  # "Monday": a better end, but ...
        ]
    )
    assert text[skip:][slice(*best_span(rows, skip) or (0, 0))] == "42 penguins on Monday"
    rows[3, 3] = -9.0  # ... without it the span ends at "penguins"
    assert best_span(rows, skip) == (16, 27)
    rows[1, 2] = -9.0  # an end never comes before its start
    rows[2, 2], rows[1, 3] = -1.0, 3.0
    a, b = best_span(rows, skip) or (0, 0)
    assert a < b
    assert best_span(rows[:1], skip) is None  # no sentence token at all


def test_spans_are_short_and_widened_to_whole_words() -> None:
    rows = _rows([(i, i + 1, 5.0 if i == 0 else 0.0, 5.0 if i == 40 else 0.0) for i in range(41)])
    a, b = best_span(rows) or (0, 0)
    assert 0 < b - a <= MAX_ANSWER_TOKENS  # one character per token here
    text = "Minoru Kihara told reporters"
    assert whole_words(text, 2, 10) == (0, 13)  # "noru Kih" -> "Minoru Kihara"
    assert whole_words(text, 6, 7) is None  # only a space
    assert whole_words("In Tokyo, on Tuesday", 3, 9) == (3, 8)  # "Tokyo," -> "Tokyo"
    assert whole_words(text, 0, 99) == (0, len(text))


def _citation(quote: str, **extra: object) -> Citation:
    base = Citation(1, "d", "A title", None, None, 100, 100 + len(quote), quote, 1.0)
    return replace(base, **extra)  # type: ignore[arg-type]


def test_no_reranker_means_no_span(hash_seed_engine: Engine) -> None:
    cited = (_citation("Kihara spoke."),)
    assert attach_spans("Who spoke?", cited, None) == cited
    # the hash embedder gets no reranker (a speaker's statement is marked without one)
    answer = hash_seed_engine.ask("What is the second pillar of AUKUS focused on?")
    assert answer.citations and all(c.answer_start is None for c in answer.citations)
    assert all(c.to_dict()["answer_end"] is None for c in answer.citations)


def test_the_cli_marks_each_span_inside_its_quote() -> None:
    from rag.cli.commands import BOLD, render
    from rag.models import Answer

    first = _citation("Rangers counted 42 penguins.", answer_start=116, answer_end=118)
    second = replace(
        _citation("Kihara spoke; so did Kihara.", n=2, start=300, end=328),
        answer_start=321,
        answer_end=327,
    )
    plain = _citation("No span here.", n=3)
    text = f"{first.quote} [1] {second.quote} [2] {plain.quote} [3]"
    answer = Answer("q", text, False, None, 0.9, (first, second, plain), (), {})
    shown = render(answer).splitlines()[0]
    assert shown == (
        "Rangers counted **42** penguins. [1] Kihara spoke; so did **Kihara**. [2] "
        "No span here. [3]"
    )
    assert render(answer, BOLD).splitlines()[0].startswith("Rangers counted \x1b[1m42\x1b[22m")


# -- SQuAD scoring (fast lane) -------------------------------------------------------------------
def test_squad_exact_match_and_f1_follow_the_official_script() -> None:
    assert squad_normalize("The  Broncos' (Denver)!") == "broncos denver"
    assert squad_normalize("U.S.") == "us"  # punctuation is deleted, not turned into spaces
    assert exact_match("the Denver Broncos.", ["Broncos", "Denver Broncos"]) == 1.0
    assert exact_match("Denver", ["Denver Broncos"]) == 0.0
    assert token_f1("Denver", ["Denver Broncos"]) == pytest.approx(2 / 3)
    assert token_f1("Denver Broncos won", ["Broncos", "Denver Broncos"]) == pytest.approx(0.8)
    assert token_f1("Carolina", ["Denver Broncos"]) == 0.0
    assert token_f1("", ["Denver"]) == 0.0


def _result(qid: str, em: float, f1: float, confidence: float, in_corpus: bool = True) -> Any:
    return ItemResult(
        qid=qid,
        split="report",
        in_corpus=in_corpus,
        gold_rank=1,
        ndcg10=1.0,
        confidence=confidence,
        abstained=False,
        reason=None,
        correct_first=True,
        correct_any=True,
        words=10,
        latency_ms=5.0,
        exact_citations=1,
        citations=1,
        span_em=em,
        span_f1=f1,
    )


def test_summary_reports_span_scores_over_in_corpus_and_answered_questions() -> None:
    results = [
        _result("a", 1.0, 1.0, 0.9),
        _result("b", 0.0, 0.5, 0.9),
        _result("c", 1.0, 1.0, 0.1),  # below the threshold: not answered
        _result("d", 0.0, 0.0, 0.9, in_corpus=False),
    ]
    answers = summarize(results, 0.5, "squad")["answers"]
    assert answers["span_em"] == pytest.approx(2 / 3)
    assert answers["span_f1"] == pytest.approx(2.5 / 3)
    assert answers["span_em_answered"] == pytest.approx(0.5)
    assert answers["span_f1_answered"] == pytest.approx(0.75)


# -- the real reranker (model lane) --------------------------------------------------------------
@pytest.fixture(scope="module", params=["onnx", "torch"])
def squad_engine(  # type: ignore[no-untyped-def]
    request, tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
):
    evalset = load_dataset(SQUAD_MINI, holdout=0)
    root = tmp_path_factory.mktemp(f"span-{request.param}") / "index"
    engine = Engine(Settings(index_dir=root, backend=request.param), embedder)
    engine.ingest(evalset.articles)
    return engine, evalset


@pytest.mark.model
def test_spans_lie_inside_the_quote_and_find_squad_answers(squad_engine) -> None:  # type: ignore[no-untyped-def]
    engine, evalset = squad_engine
    texts = {a.doc_id: a.text for a in evalset.articles}
    ems, f1s = [], []
    for item in evalset.items:
        answer = engine.ask(item.question)
        for c in answer.citations:
            assert c.answer_start is not None and c.answer_end is not None, item.question
            assert c.start <= c.answer_start < c.answer_end <= c.end
            span = texts[c.doc_id][c.answer_start : c.answer_end]
            assert span == span.strip() and span in c.quote
        if answer.citations:
            first = answer.citations[0]
            span = texts[first.doc_id][first.answer_start : first.answer_end]
            ems.append(exact_match(span, item.answers))
            f1s.append(token_f1(span, item.answers))
    assert len(ems) >= len(evalset.items) - 2
    # the head was trained on SQuAD: most spans are the answer, or close to it
    assert np.mean(ems) >= 0.4 and np.mean(f1s) >= 0.6, (np.mean(ems), np.mean(f1s))


@pytest.mark.model
def test_without_the_cross_encoder_there_is_no_span(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    engine = Engine(Settings(index_dir=tmp_path / "index", rerank=False), embedder)
    engine.ingest(load_dataset(SQUAD_MINI, holdout=0).articles)
    answer = engine.ask("Where did Super Bowl 50 take place?")
    assert engine.reranker is None and answer.citations
    assert all(c.answer_start is None and c.answer_end is None for c in answer.citations)


@pytest.mark.model
def test_a_citation_that_has_a_span_keeps_it(squad_engine) -> None:  # type: ignore[no-untyped-def]
    engine, _ = squad_engine
    quote = "Japanese Defense Minister Minoru Kihara told reporters in Tokyo on Tuesday."
    given = _citation(quote, answer_start=100, answer_end=108)
    fresh = _citation(quote)
    out = attach_spans("Who is Japan's defense minister?", (given, fresh), engine.reranker)
    assert out[0] == given
    assert out[1].answer_start is not None and out[1].answer_end is not None
    assert quote[out[1].answer_start - 100 : out[1].answer_end - 100] == "Minoru Kihara"


def test_read_text_matches_what_the_reranker_reads() -> None:
    assert read_text("", "Only a sentence.") == ("Only a sentence.", 0)
    long_title = " ".join(f"w{i}" for i in range(20))
    text, skip = read_text(long_title, "S.")
    assert text[skip:] == "S." and text[: skip - 2].split() == long_title.split()[:12]
