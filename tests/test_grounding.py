"""Grounding: no confident answer from an article that lacks what the question names."""

from pathlib import Path

import pytest

from rag.answering.grounding import key_terms, missing_terms
from rag.engine import Engine
from rag.evaluation.datasets import load_squad
from rag.models import Article
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from tests.helpers import SQUAD_MINI

TESLA = (
    "Nikola Tesla was a Serbian-American inventor. In March 1895 a fire destroyed Tesla's "
    "laboratory on Fifth Avenue, with his models, notes and 3 years of research. Tesla "
    "then moved his work to Houston Street. He worked with Westinghouse on alternating current."
)


def test_key_terms_are_the_names_with_their_numbers() -> None:
    (term,) = key_terms("How much does a Tesla Model 3 cost?")
    assert term.words == ("tesla", "model") and term.numbers == (("model", "3"),)
    names = {
        t.text for t in key_terms("In August 1994, which Flint, Michigan affiliate did ABC buy?")
    }
    assert names == {"Flint", "Michigan", "ABC"}  # cut at commas; a month, years and "In" not
    assert key_terms("what year did the war end?") == ()
    assert [t.text for t in key_terms("What part did Tesla's AC motor not need?")] == ["Tesla"]


@pytest.mark.parametrize(
    "question",
    [
        "When did Tesla's laboratory burn?",  # possessive
        "What did Nikola Tesla invent?",
        "Where did Telsa move his work?",  # misspelt
        "What did the Serbian inventor do at Fifth Avenue?",
        "What did Tesla do with Westinghouse and the AC?",  # two-letter capitals do not count
    ],
)
def test_names_written_otherwise_are_still_found(question: str) -> None:
    assert missing_terms(question, [TESLA]) == []


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("How much does a Tesla Model 3 cost?", "Tesla Model 3"),  # "model" and "3" apart
        ("What did Elon Musk say about Tesla?", "Elon Musk"),
        ("Who was the V&A's first director?", "V&A"),
    ],
)
def test_names_the_text_lacks_are_missing(question: str, missing: str) -> None:
    assert [t.text for t in missing_terms(question, [TESLA])] == [missing]


def test_places_match_their_peoples_and_acronyms_their_words() -> None:
    text = "Japanese officials met after World War I ended."
    assert missing_terms("What did Japan do after WWI?", [text]) == []


def _tesla_engine(tmp_path: Path) -> Engine:
    engine = Engine(Settings(index_dir=tmp_path / "index", abstain_threshold=0.0), HashEmbedder())
    engine.ingest([Article("tesla", "Nikola Tesla", TESLA)])
    return engine


def test_an_off_topic_entity_abstains_with_entity_not_found(tmp_path: Path) -> None:
    answer = _tesla_engine(tmp_path).ask("How much does a Tesla Model 3 cost?")
    assert answer.abstained and answer.reason == "entity_not_found" and not answer.citations


def test_no_abstention_when_the_entity_is_in_the_article(tmp_path: Path) -> None:
    answer = _tesla_engine(tmp_path).ask("When did a fire destroy Tesla's laboratory?")
    assert not answer.abstained and "fire destroyed" in answer.citations[0].quote


@pytest.mark.model
def test_tesla_model_3_over_squad_articles_abstains(tmp_path: Path, embedder: object) -> None:
    articles = load_squad(SQUAD_MINI, holdout=0).articles  # Nikola Tesla is one
    engine = Engine(Settings(index_dir=tmp_path / "index"), embedder)  # type: ignore[arg-type]
    engine.ingest(articles)
    answer = engine.ask("How much does a Tesla Model 3 cost?")
    assert answer.abstained and answer.reason == "entity_not_found"
    assert not engine.ask("Who was Nikola Tesla?").abstained
