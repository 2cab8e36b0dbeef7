"""Two-sentence answers (issue #31 item 2): a sentence and the next one that carries its answer
on ("The most recent case ...") are quoted as one citation whose offsets are exact."""

from __future__ import annotations

import pytest

from rag.answering.continuation import refers_back
from rag.engine import Engine
from rag.models import Article

RHINE = (
    "The Rhine is the longest river in Germany. It flows through Basel, Cologne and Rotterdam. "
    "Since records began, the lower Rhine at Cologne has frozen over 20 times. "
    "The most recent case was in early 1987. Barges now carry coal and grain on the river."
)


@pytest.mark.parametrize(
    "sentence",
    [
        "The most recent case was in early 1987.",
        "It was built in 1900.",
        "This happened in May.",
        "These systems were built by IBM.",
        "They escorted Luther to the castle.",
    ],
)
def test_a_sentence_whose_subject_points_back_refers_back(sentence: str) -> None:
    assert refers_back(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "The company installed electric lights.",
        "Von Miller was picked second.",
        "Debus was named the first Director.",
    ],
)
def test_a_sentence_with_its_own_subject_does_not(sentence: str) -> None:
    assert not refers_back(sentence)


def test_the_answer_in_the_next_sentence_is_quoted_with_its_topic(hash_engine: Engine) -> None:
    hash_engine.ingest([Article("rhine", "The Rhine", RHINE, date="2024-01-01")])
    answer = hash_engine.ask(
        "When did the lower Rhine at Cologne last freeze over since records began?"
    )
    assert not answer.abstained
    first = answer.citations[0]
    assert "frozen over 20 times" in first.quote and "early 1987" in first.quote
    assert RHINE[first.start : first.end] == first.quote
    assert not any("early 1987" in c.quote for c in answer.citations[1:])  # quoted once
