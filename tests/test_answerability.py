"""Answerability: an on-topic article whose sentences do not say the answer is an abstention
with its own reason (``not_stated``), and the answer's confidence is the fitted probability."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.answering.answerability import (
    ANSWERABILITY_SCHEMA,
    Evidence,
    answer_features,
    load_answerability,
)
from rag.answering.compose import compose
from rag.answering.features import SENTENCE_SCHEMA, Question
from rag.cli.view import render
from rag.engine import Engine
from rag.errors import ModelFileError
from rag.models import NO_FILTERS, Answer, Passage

ARTICLE = "The river froze over 20 times. The most recent case was in early 1987."


def _question(text: str, kind: str, terms: tuple[str, ...]) -> Question:
    return Question(text, terms, kind, None, dict.fromkeys(terms, 2.0))


def _features(
    q: Question, sentence: str, *, cross: float = 2.0, peak: float = 8.0, article: str = ARTICLE
) -> dict[str, float]:
    tokens = np.array([[0, 3, peak, 0.0], [4, 9, 0.0, peak], [10, 14, 0.0, 0.0]])
    row = answer_features(
        q,
        sentence,
        article,
        np.zeros(len(SENTENCE_SCHEMA)),
        np.array([3.0, 1.0]),
        0.9,
        Evidence(cross, tokens),
    )
    return ANSWERABILITY_SCHEMA.named(row.tolist())


def test_a_when_question_needs_a_date_in_the_sentence() -> None:
    q = _question("When did the river last freeze?", "when", ("river", "freeze"))
    assert _features(q, "The most recent case was in early 1987.")["type_new"] == 1.0
    assert _features(q, "The river froze over many times.")["type_new"] == 0.0


def test_a_question_word_the_article_never_uses_is_counted_missing() -> None:
    asked = _question("When did the lake freeze?", "other", ("lake", "freeze"))
    found = _question("When did the river freeze?", "other", ("river", "freeze"))
    sentence = "The river froze over 20 times."
    assert _features(asked, sentence)["article_missing_rare"] == 1.0
    assert (
        _features(found, sentence)["article_missing"]
        < _features(asked, sentence)["article_missing"]
    )
    number = _question("What happened in 1990?", "other", ("happened",))
    assert _features(number, sentence)["article_missing_number"] == 1.0


def test_the_span_heads_strength_is_its_best_start_plus_end() -> None:
    q = _question("How often did the river freeze?", "how_many", ("river", "freeze"))
    strong, weak = _features(q, "x", peak=8.0), _features(q, "x", peak=1.0)
    assert strong["span_best"] == 16.0 and weak["span_best"] == 2.0
    assert strong["span_tokens"] == 2.0


def _synthetic_rows(n: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows where the sentence answers when the reranker and the span head back it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, len(ANSWERABILITY_SCHEMA)))
    backing = (
        x[:, ANSWERABILITY_SCHEMA.column("cross")] + x[:, ANSWERABILITY_SCHEMA.column("span_best")]
    )
    y = (backing + rng.normal(scale=0.5, size=n) > 0).astype(int)
    answerable = y.astype(bool) | (rng.random(n) < 0.2)
    return x, y, answerable


def test_a_fitted_model_trusts_a_sentence_the_reranker_and_span_head_back(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from rag.training.answerability_fitting import TARGET_ANSWER_RATE, fit

    x, y, answerable = _synthetic_rows()
    model = fit(x, y, answerable, {"fitted_on": "synthetic"})
    assert model.meta["cv_auroc"] > 0.85
    # 0.5 is the cut-off that answers the target share of answerable questions
    assert model.meta["fit_answer_rate_answerable"] == pytest.approx(TARGET_ANSWER_RATE, abs=0.01)
    saved = tmp_path / "answerability.json"
    saved.write_text(model.to_json(), "utf-8")
    loaded = load_answerability(saved)
    assert loaded is not None
    backed, unsure = np.zeros(len(ANSWERABILITY_SCHEMA)), np.zeros(len(ANSWERABILITY_SCHEMA))
    backed[ANSWERABILITY_SCHEMA.column("cross")] = 3.0
    unsure[ANSWERABILITY_SCHEMA.column("cross")] = -3.0
    assert loaded(backed) > 0.5 > loaded(unsure)


def test_a_model_file_for_other_features_is_refused(tmp_path: Path) -> None:
    stale = tmp_path / "answerability.json"
    stale.write_text(json.dumps({"schema": "0" * 16, "model": {}}), "utf-8")
    with pytest.raises(ModelFileError, match="other features"):
        load_answerability(stale)
    broken = tmp_path / "broken.json"
    broken.write_text("{", "utf-8")
    with pytest.raises(ModelFileError, match="cannot read"):
        load_answerability(broken)
    assert load_answerability(tmp_path / "none.json") is None  # no file: the scorer decides


def _reading(engine: Engine, question: str):  # type: ignore[no-untyped-def]
    data = engine._checked_snapshot()
    vector = engine.embedder.embed([question])[0]
    return data, engine._read(data, question, vector, 5, NO_FILTERS, "hybrid")


def test_an_on_topic_sentence_that_does_not_answer_abstains_as_not_stated(
    hash_seed_engine: Engine,
) -> None:
    data, reading = _reading(hash_seed_engine, "What is the second pillar of AUKUS focused on?")
    on_topic = replace(reading, confidence=0.9)
    stated = compose(replace(on_topic, answers=0.8), data, 0.5)
    assert not stated.abstained and stated.confidence == 0.8  # the probability it answers
    unstated = compose(replace(on_topic, answers=0.2), data, 0.5)
    assert unstated.abstained and unstated.reason == "not_stated"
    assert unstated.confidence == 0.2
    off_topic = compose(replace(reading, confidence=0.1, answers=0.2), data, 0.5)
    assert off_topic.abstained and off_topic.reason == "low_confidence"


def test_rag_ask_shows_a_not_stated_abstention_with_the_closest_passages() -> None:
    passage = Passage("d1", "d1#0", 0, 40, "Rangers counted 42 penguins on Monday.", 0.5)
    shown = render(Answer("q?", "", True, "not_stated", 0.2, (), (passage,), {}))
    assert "none of their sentences says the answer" in shown
    assert "closest passages" in shown and "Rangers counted 42 penguins" in shown
