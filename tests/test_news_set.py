"""The news test set (tests/news/story): one port strike told over three weeks by five outlets,
a wire story in three copies, several speakers, who-is questions, time phrases, off-topic ones.

Fast: the set is well formed (every expected quote is in the articles), the checker judges
hand-made answers right, and the runner's plumbing works with the hash embedder. ``model``:
every question through ``rag eval``'s own runner and checks, one test per question, failing
with what was expected and what was quoted.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rag.cli import commands as cli
from rag.evaluation.datasets import EvalItem, EvalSet, load_jsonl
from rag.evaluation.expectations import Check, Expectations, Question, check, summarize_checks
from rag.evaluation.runner import ItemResult, cached_engine, evaluate, summarize
from rag.models import Answer, Citation, Copy
from rag.runtime.embedding import HashEmbedder, SentenceTransformerEmbedder
from rag.settings import Settings

STORY = Path(__file__).parent / "news" / "story"
QUESTIONS = STORY / "questions.jsonl"
ARTICLES = STORY / "articles"
QIDS = [json.loads(line)["id"] for line in QUESTIONS.read_text("utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def story() -> EvalSet:
    return load_jsonl(QUESTIONS, ARTICLES)


# -- fast: the set itself ---------------------------------------------------------------------
def test_the_set_covers_what_the_issue_asks_for(story: EvalSet) -> None:
    articles = {a.doc_id: a for a in story.articles}
    story_days = {a.date for a in articles.values() if "port" in a.text.lower()}
    assert len(articles) >= 8 and len(story_days) >= 6
    assert len({a.source for a in articles.values()}) >= 5
    expects = [i.expect for i in story.items if i.expect is not None]
    assert len(expects) == len(story.items)  # every question has news checks
    assert any(i.history for i in story.items), "a follow-up question"
    assert sum(bool(e.also_in) for e in expects) >= 2, "syndicated copies"
    assert sum(e.answer_span is not None for e in expects) >= 3, "who-is answers"
    assert sum(e.checks_time for e in expects) >= 6, "time phrases"
    assert sum(len(e.order) >= 3 for e in expects) >= 2, "several statements, newest first"
    reasons = {r for e in expects for r in e.reasons}
    assert {"entity_not_found", "speaker_not_quoted", "input_error"} <= reasons


def test_every_expected_text_is_in_the_articles(story: EvalSet) -> None:
    """A typo in the set would fail forever for the wrong reason: every quote, span and doc id
    it names must exist (quotes verbatim, up to whitespace)."""
    texts = {a.doc_id: " ".join(a.text.split()) for a in story.articles}
    for item in story.items:
        e = item.expect or Expectations()
        named = [*e.quotes, *e.not_quotes, *e.order, *([e.answer_span] if e.answer_span else [])]
        for sub in named:
            assert any(sub in t for t in texts.values()), f"{item.qid}: {sub!r} is in no article"
        for doc in [*e.also_in, *([item.doc_id] if item.doc_id else [])]:
            assert doc in texts, f"{item.qid}: no article {doc}"
        if e.also_in:  # the copies really are one story: each holds the quotes
            for sub in e.quotes:
                assert all(sub in texts[d] for d in e.also_in), f"{item.qid}: {sub!r}"


# -- fast: the checker ------------------------------------------------------------------------
TEXT = 'Okafor said the deal was "a step forward". Brandt said cranes are coming.'
OTHER = "Wire copy: Brandt said cranes are coming."


def _cite(
    n: int,
    doc: str,
    start: int,
    end: int,
    text: str,
    copies: tuple[str, ...] = (),
    answer_start: int | None = None,
    answer_end: int | None = None,
) -> Citation:
    quote = text[start:end]
    cite = Citation(
        n, doc, "t", None, "2026-11-19", start, end, quote, 0.5, None, answer_start, answer_end
    )
    if copies:  # the other copies of the story, as the composer lists them
        listed = tuple(Copy(d, "t", "Wire", "2026-11-19", None) for d in copies)
        cite = replace(cite, also_in=listed)
    return cite


def _answer(*cites: Citation, abstained: bool = False, reason: str | None = None) -> Answer:
    window = {"from": "2026-11-16", "to": "2026-11-22", "phrase": "last week", "latest": False}
    return Answer("q", "", abstained, reason, 0.9, cites, (), {"total": 1.0}, None, window)


def _verdicts(q: Question, answer: Answer) -> dict[str, bool]:
    texts = {"a": TEXT, "b": OTHER}
    return {c.kind: c.passed for c in check(q, answer, texts, threshold=0.5)}


def test_checker_passes_a_right_answer_and_names_each_failure() -> None:
    okafor = _cite(1, "a", 0, 42, TEXT, answer_start=0, answer_end=6)
    brandt = _cite(2, "a", 43, 73, TEXT)
    expect = Expectations(
        quotes=("step forward", "cranes"),
        not_quotes=("wire",),
        order=("Okafor", "Brandt"),
        answer_span="Okafor",
        checks_time=True,
        time_filter={"from": "2026-11-16", "to": "2026-11-22"},
        also_in=("a", "b"),
    )
    good = _verdicts(Question(True, ("step forward",), "a", expect), _answer(okafor, brandt))
    assert good == dict.fromkeys(
        ["answered", "answers", "quotes", "not_quotes", "order", "answer_span", "time_filter"],
        True,
    ) | {"also_in": False}  # two citations from the one story: it must be quoted once
    swapped = _answer(_cite(1, "a", 43, 73, TEXT), _cite(2, "c", 0, 42, TEXT, answer_end=6))
    bad = _verdicts(Question(True, ("step forward",), None, expect), swapped)
    assert bad == {
        "answered": True,
        "answers": False,  # the first quote lacks it
        "quotes": True,
        "not_quotes": True,
        "order": False,
        "answer_span": False,  # no start: no span
        "time_filter": True,
        "also_in": False,  # quoted once from "a", but "b" is not listed
    }


def test_checker_wants_a_syndicated_story_quoted_once_with_its_copies() -> None:
    story = Question(True, expect=Expectations(also_in=("a", "b", "c")))
    listed = _answer(_cite(1, "a", 43, 73, TEXT, copies=("b", "c")))
    assert _verdicts(story, listed) == {"answered": True, "also_in": True}
    partly = _answer(_cite(1, "a", 43, 73, TEXT, copies=("c",)))
    assert _verdicts(story, partly)["also_in"] is False
    twice = _answer(_cite(1, "a", 43, 73, TEXT, copies=("b", "c")), _cite(2, "b", 0, 41, OTHER))
    assert _verdicts(story, twice)["also_in"] is False  # two copies of one story quoted
    two_sentences = _answer(
        _cite(1, "a", 43, 73, TEXT, copies=("b", "c")), _cite(2, "a", 0, 42, TEXT, ("b", "c"))
    )
    assert _verdicts(story, two_sentences)["also_in"] is True  # one copy, two of its sentences


def test_checker_on_abstentions_and_refusals() -> None:
    off = Question(False, expect=Expectations(reasons=("entity_not_found",)))
    abstained = _answer(abstained=True, reason="entity_not_found")
    assert _verdicts(off, abstained) == {"abstained": True, "reason": True}
    low = _answer(_cite(1, "a", 0, 42, TEXT))
    low = replace(low, confidence=0.1)  # under the threshold: not given
    assert _verdicts(off, low) == {"abstained": True, "reason": False}  # low_confidence
    no_time = Question(True, expect=Expectations(checks_time=True, time_filter=None))
    assert _verdicts(no_time, _answer(_cite(1, "a", 0, 42, TEXT)))["time_filter"] is False
    summary = summarize_checks(
        [("q1", [Check("quotes", True), Check("order", False, "why")]), ("q2", [])]
    )
    assert summary["kinds"] == {
        "quotes": {"passed": 1, "total": 1},
        "order": {"passed": 0, "total": 1},
    }
    assert summary["failed"] == [{"qid": "q1", "kind": "order", "detail": "why"}]


def test_the_runner_asks_with_as_of_and_history_and_records_refusals(
    story: EvalSet, tmp_path: Path
) -> None:
    """The plumbing, with the hash embedder: every question gets its checks, time phrases are
    read from the question's as_of, and the date-only question is a refusal, not a crash."""
    engine = cached_engine(story, Settings(index_dir=tmp_path / "x"), HashEmbedder(), tmp_path)
    results = {r.qid: r for r in evaluate(engine, story, progress=False)}
    assert all(r.checks for r in results.values())
    refused = results["date-only"]
    assert refused.abstained and refused.reason == "input_error"
    assert {c.kind: c.passed for c in refused.checks} == {"abstained": True, "reason": True}
    times = [c for r in results.values() for c in r.checks if c.kind == "time_filter"]
    assert times and all(c.passed for c in times), [c.detail for c in times if not c.passed]
    summary = summarize(list(results.values()), engine.scorer.threshold, "jsonl")
    assert summary["news_checks"]["kinds"]["time_filter"]["total"] == len(times)


# -- model: the whole set ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def story_results(
    story: EvalSet, embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[EvalItem, ItemResult]]:
    cache = tmp_path_factory.mktemp("story")
    engine = cached_engine(story, Settings(index_dir=cache / "unused"), embedder, cache)
    results = evaluate(engine, story, progress=False)
    return {r.qid: (i, r) for i, r in zip(story.items, results, strict=True)}


@pytest.mark.model
@pytest.mark.parametrize("qid", QIDS)
def test_story_question(qid: str, story_results: dict[str, tuple[EvalItem, ItemResult]]) -> None:
    item, result = story_results[qid]
    assert result.checks, f"{qid} has no news checks"
    failed = [f"  [{c.kind}] {c.detail}" for c in result.checks if not c.passed]
    if failed:
        pytest.fail(f"{qid}: {item.question!r}\n" + "\n".join(failed), pytrace=False)


@pytest.mark.model
def test_rag_eval_prints_the_news_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", str(QUESTIONS), "--corpus", str(ARTICLES), "--sample", "0"]
    assert cli.main([*args, "--out", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr().out
    assert "news checks" in printed and "| time_filter |" in printed
    checks = json.loads((tmp_path / "report.json").read_text())["runs"]["ours"]["news_checks"]
    assert sum(row["total"] for row in checks["kinds"].values()) > len(QIDS)
    assert all({"qid", "kind", "detail"} <= set(f) for f in checks["failed"])
