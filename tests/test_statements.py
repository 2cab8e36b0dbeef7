"""Speaker answers across articles: a person's distinct statements, newest first."""

from __future__ import annotations

import pytest

from rag.answering.statements import statement_span
from rag.engine import Engine
from rag.models import Article

DAY_ONE = (
    "Port workers walked out in Harwick on Monday. "
    'Transport Minister Elena Ruiz said the strike "will not be allowed to strangle trade." '
    "Ruiz added that talks with the union would resume on Wednesday. "
    "Container ships queued outside the harbour."
)
DAY_THREE = (
    "The Harwick port strike entered its third day. "
    'Elena Ruiz told reporters the government was "ready to meet the union halfway." '
    "Shipping lines rerouted cargo to Belmouth."
)
WIRE_QUOTE = (
    "Unions and ministers met again in Harwick. "
    'Elena Ruiz told reporters the government was "ready to meet the union halfway." '
    "No agreement was reached."
)
OTHER = (
    "Belmouth council approved a new ferry timetable. "
    "Mayor Tom Okafor said the timetable would start in June."
)


def _engine(hash_engine: Engine) -> Engine:
    hash_engine.ingest(
        [
            Article("day-one", "Port strike begins", DAY_ONE, date="2026-03-02", source="Gazette"),
            Article("day-three", "Strike day three", DAY_THREE, date="2026-03-04", source="Post"),
            Article("wire", "Talks resume", WIRE_QUOTE, date="2026-03-04", source="Wire"),
            Article("ferry", "Ferry timetable", OTHER, date="2026-03-05", source="Gazette"),
        ]
    )
    return hash_engine


def test_a_speakers_statements_come_from_several_articles_newest_first(
    hash_engine: Engine,
) -> None:
    answer = _engine(hash_engine).ask("What did Elena Ruiz say about the strike?")
    assert not answer.abstained, answer.reason
    quotes = [c.quote for c in answer.citations]
    halfway = next(i for i, q in enumerate(quotes) if "meet the union halfway" in q)
    strangle = next(i for i, q in enumerate(quotes) if "strangle trade" in q)
    assert halfway < strangle  # the 4 March statement before the 2 March one
    dates = [c.date for c in answer.citations]
    assert dates == sorted(dates, reverse=True)
    assert not any("Okafor" in q for q in quotes)  # someone else's statement is not hers


def test_the_same_quote_in_two_outlets_is_quoted_once(hash_engine: Engine) -> None:
    answer = _engine(hash_engine).ask("What did Ruiz say?")
    quotes = [c.quote for c in answer.citations]
    assert sum("meet the union halfway" in q for q in quotes) == 1
    assert any("talks with the union would resume" in q for q in quotes)


def test_a_follow_up_asks_about_another_speaker(hash_engine: Engine) -> None:
    from rag.answering.conversation import Turn

    engine = _engine(hash_engine)
    first = engine.ask("What did Ruiz say about the ferry timetable?")
    follow = engine.ask("And what did Okafor say?", history=[Turn(first.question, first.answer)])
    assert follow.citations and "timetable would start in June" in follow.citations[0].quote


LIBRARY = (
    "The Westhaven library reopened on Saturday after a two-year renovation. "
    "Mayor Grace Dunmore cut the ribbon at the renovated entrance. "
    '"This building belongs to everyone in Westhaven," Dunmore said. '
    'Ruth Okafor, the union\'s general secretary, said the dockers "helped build it."'
)


def test_a_speaker_named_by_role_is_the_person_named_in_it(hash_engine: Engine) -> None:
    hash_engine.ingest([Article("library", "Library reopens", LIBRARY, date="2026-11-18")])
    answer = hash_engine.ask("What did the mayor say about the library?")
    assert not answer.abstained, answer.reason
    assert [c.quote for c in answer.citations] == [
        '"This building belongs to everyone in Westhaven," Dunmore said.'
    ]


def test_a_name_with_an_apposition_is_the_speaker(hash_engine: Engine) -> None:
    hash_engine.ingest([Article("library", "Library reopens", LIBRARY, date="2026-11-18")])
    quotes = [c.quote for c in hash_engine.ask("What did Ruth Okafor say?").citations]
    assert any("helped build it" in q for q in quotes)


def test_a_speaker_asked_about_a_topic_she_never_mentions_abstains(hash_engine: Engine) -> None:
    answer = _engine(hash_engine).ask("What did Elena Ruiz say about sourdough bread?")
    assert answer.abstained and not answer.citations


def test_a_speakers_statements_on_the_topic_answer_confidently(hash_engine: Engine) -> None:
    answer = _engine(hash_engine).ask("What did Elena Ruiz say about the union?")
    assert not answer.abstained and answer.confidence >= 0.9
    assert all("Ruiz" in c.quote for c in answer.citations)


@pytest.mark.parametrize(
    ("sentence", "said"),
    [
        (
            "Mao said Tokyo should earnestly reflect on its history.",
            "Tokyo should earnestly reflect on its history",
        ),
        (
            '"We will not sign any deal without job guarantees," Okafor told reporters.',
            "We will not sign any deal without job guarantees",
        ),
        (
            'Albanese said Japan is a "natural candidate" to be part of the second pillar.',
            'Japan is a "natural candidate" to be part of the second pillar',
        ),
        (
            "Ruth Okafor told reporters on Sunday that the union would not sign.",
            "the union would not sign",
        ),
        ("The deal is off, according to Okafor.", "The deal is off"),
    ],
)
def test_the_statement_inside_a_reporting_sentence(sentence: str, said: str) -> None:
    span = statement_span(sentence)
    assert span is not None and sentence[span[0] : span[1]] == said


def test_a_statement_answer_marks_what_was_said(hash_engine: Engine) -> None:
    answer = _engine(hash_engine).ask("What did Elena Ruiz say about the strike?")
    article = {d: hash_engine.document(d)["text"] for d in {c.doc_id for c in answer.citations}}
    marked = [
        article[c.doc_id][c.answer_start : c.answer_end]
        for c in answer.citations
        if c.answer_start is not None and c.answer_end is not None
    ]
    assert "ready to meet the union halfway" in marked


WIRE = (
    "HARWICK (Wire) - Dock workers at the port of Harwick stayed off the job for a fifth day "
    "on Friday as talks between the union and the port authority stalled again. "
    'Union leader Sam Osei told reporters the authority was "trying to wait us out" and said '
    "members would not return without a written guarantee on jobs. "
    "Ships queued outside the harbour, and exporters moved cargo to Belmouth and Kingsport. "
    "The authority said it had made a fair offer and was ready to keep talking. "
    "Shipping agents said the backlog would take weeks to clear once work resumed."
)


def test_a_statement_in_two_copies_of_a_story_is_quoted_once(hash_engine: Engine) -> None:
    edited = WIRE.replace("told reporters", "told journalists").replace("(Wire)", "(Herald)")
    hash_engine.ingest(
        [
            Article("wire-1", "Port strike enters fifth day", WIRE, date="2026-03-06"),
            Article("herald-1", "Dockers stay out", edited, date="2026-03-06"),
        ]
    )
    answer = hash_engine.ask("What did Sam Osei say?")
    quotes = [c.quote for c in answer.citations]
    assert sum("trying to wait us out" in q for q in quotes) == 1, quotes
    assert answer.citations[0].also_in  # the other copy is listed instead
