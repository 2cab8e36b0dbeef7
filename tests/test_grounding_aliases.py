"""Names by any name (issue #31 item 3): grounding finds a country under its other names
(ISO names, former names, abbreviations, peoples), a belief under its word forms, and a person
an article calls by surname only."""

from __future__ import annotations

import pytest

from rag.answering.grounding import grounded, missing_terms
from rag.stores.base import ArticleRecord, encode_entities


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("What did the USSR launch in 1957?", "In 1957 the Soviet Union launched Sputnik."),
        ("When did the Soviet Union collapse?", "The USSR was dissolved in December 1991."),
        ("What is a Hindu temple called?", "Temples of Hinduism are called mandirs."),
        ("What do Hindus believe?", "Hinduism teaches that the soul is reborn."),
        ("Which German city hosted the games?", "Munich, Germany, hosted the games."),
        ("What did the U.S. Senate vote on?", "The United States Senate voted on the bill."),
        ("What did the American navy build?", "The U.S. navy built new ships."),
        ("When did Burma hold elections?", "Myanmar held elections in 2015."),
        ("What does Viet Nam export?", "Vietnam exports rice and coffee."),
    ],
)
def test_a_name_written_another_way_is_found(question: str, text: str) -> None:
    assert missing_terms(question, [text]) == []


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("Where is Canada's capital?", "You can see the capital from the river."),  # not "CAN"
        ("What did the USSR launch?", "The United States launched Explorer 1."),
        ("What is Hinduism?", "Hindi is a language of India."),
    ],
)
def test_another_name_is_not_taken_for_it(question: str, text: str) -> None:
    assert missing_terms(question, [text]) != []


def _article(text: str, people: list[str]) -> ArticleRecord:
    spans = [(text.index(p), text.index(p) + len(p), "PERSON") for p in people]
    return ArticleRecord(
        "d",
        "Well tests ordered",
        text,
        None,
        None,
        None,
        "h",
        "now",
        entities_json=encode_entities(spans),
    )


def test_a_person_called_by_surname_only_is_the_one_asked_about() -> None:
    text = "The health officer, Marsh, said wells would be tested. Marsh said results are due."
    article = _article(text, ["Marsh"])
    assert grounded("What did Helen Marsh say about the wells?", article)


def test_a_surname_of_someone_else_is_not_the_person_asked_about() -> None:
    text = "Council member John Marsh said wells would be tested. Marsh said results are due."
    article = _article(text, ["John Marsh", "Marsh"])
    assert not grounded("What did Helen Marsh say about the wells?", article)
    assert not grounded("What did Helen Marsh say?", _article("Wells will be tested.", []))
