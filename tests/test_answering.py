"""Answer quality on the seed article, with the real model."""

import pytest

from rag.engine import Engine
from rag.models import Filters
from tests.helpers import ALBANESE

pytestmark = pytest.mark.model


def _quotes(engine: Engine, question: str) -> list[str]:
    return [c.quote for c in engine.ask(question).citations]


def test_albanese_answer_quotes_the_natural_candidate_sentence(seed_engine: Engine) -> None:
    answer = seed_engine.ask(ALBANESE)
    assert not answer.abstained
    first = answer.citations[0]
    assert "natural candidate" in first.quote and "Albanese said" in first.quote
    article = seed_engine.document(first.doc_id)["text"]
    assert article[first.start : first.end] == first.quote
    assert answer.answer.startswith(first.quote) and "[1]" in answer.answer


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Kihara say?", "Kihara"),
        ("What did Mao Ning say about Japan?", "abandon the practice"),
        ("What is the second pillar of AUKUS focused on?", "hypersonic weapons"),
        ("When was the partnership formed?", "formed in 2021"),
        (
            "Which countries have also expressed interest in the second pillar?",
            "Canada and New Zealand",
        ),
    ],
)
def test_seed_questions_quote_the_right_sentence(
    seed_engine: Engine, question: str, expected: str
) -> None:
    assert expected in _quotes(seed_engine, question)[0]


def test_a_speakers_statement_on_the_topic_is_quoted(seed_engine: Engine) -> None:
    quotes = _quotes(seed_engine, "What did Kihara say about the second pillar?")
    assert any("will be considered by the AUKUS side" in q for q in quotes)
    assert all("Kihara" in q for q in quotes)


def test_a_speaker_named_family_name_first_is_found_by_either_name(seed_engine: Engine) -> None:
    """Mao Ning is "Mao" on second mention: her statement about history is quoted too."""
    quotes = _quotes(seed_engine, "What did Mao Ning say about Japan's history?")
    assert any("earnestly reflect on its history" in q for q in quotes)


def test_speaker_who_never_speaks_is_not_invented(seed_engine: Engine) -> None:
    answer = seed_engine.ask("What did Kishida say about Japan?")
    assert answer.abstained and answer.reason == "speaker_not_quoted"


@pytest.mark.parametrize(
    "question",
    ["How do you bake sourdough bread at home?", "What is the boiling point of liquid nitrogen?"],
)
def test_out_of_corpus_question_abstains_with_passages(seed_engine: Engine, question: str) -> None:
    answer = seed_engine.ask(question)
    assert answer.abstained and answer.answer == "" and not answer.citations
    assert answer.reason in {"low_confidence", "no_relevant_passage"}
    assert answer.passages  # the closest passages are offered for reference


def test_filters_that_match_nothing_abstain(seed_engine: Engine) -> None:
    answer = seed_engine.ask(ALBANESE, filters=Filters(source="nonexistent"))
    assert answer.abstained and answer.reason == "no_relevant_passage" and not answer.passages


def test_answer_object_has_the_contract_fields(seed_engine: Engine) -> None:
    data = seed_engine.ask(ALBANESE).to_dict()
    assert set(data) >= {
        "question",
        "answer",
        "abstained",
        "reason",
        "confidence",
        "citations",
        "passages",
        "timings_ms",
    }
    assert set(data["citations"][0]) == {
        "n",
        "doc_id",
        "title",
        "url",
        "date",
        "start",
        "end",
        "quote",
        "score",
        "source",
        "answer_start",
        "answer_end",
        "also_in",
        "from_caption",
    }
    assert set(data["passages"][0]) == {
        "doc_id",
        "chunk_id",
        "start",
        "end",
        "text",
        "score",
        "also_in",
    }
