"""Who-is and role questions: the person named with the role, and the name as the answer span."""

from pathlib import Path

import pytest

from rag.answering.roles import parse_role_question
from rag.articles.loading import load_paths
from rag.engine import Engine
from rag.models import Answer, Article
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from tests.helpers import SEEDS

DISTRACTORS = (
    "Prime Minister Fumio Kishida met President Joe Biden in Washington on Wednesday. "
    "Officials said the talks covered trade, energy and regional security. "
)


def _engine(tmp_path: Path, *texts: str) -> Engine:
    """A hash-embedder engine that answers whatever its confidence (the roles are under test,
    not the scorer)."""
    engine = Engine(Settings(index_dir=tmp_path / "index", abstain_threshold=0.0), HashEmbedder())
    if texts:
        engine.ingest([Article(f"a{i}", f"Story {i}", t) for i, t in enumerate(texts)])
    return engine


def _span(answer: Answer) -> str | None:
    first = answer.citations[0]
    if first.answer_start is None or first.answer_end is None:
        return None
    return first.quote[first.answer_start - first.start : first.answer_end - first.start]


@pytest.mark.parametrize(
    ("question", "role", "place"),
    [
        ("Who is Japan's defense minister?", ("defense", "minister"), "japanese"),
        ("Who is the defence minister of Japan?", ("defense", "minister"), "japan"),
        ("Who is the Japanese defense minister?", ("defense", "minister"), "japan"),
        ("Who was named chief executive of Nordbank?", ("ceo",), "nordbank"),
        ("Who serves as the United States' defense secretary?", ("defense", "secretary"), "u.s."),
        ("who is the spokesman?", ("spokesperson",), None),
    ],
)
def test_role_questions_are_parsed_into_role_and_place(
    question: str, role: tuple[str, ...], place: str | None
) -> None:
    parsed = parse_role_question(question)
    assert parsed is not None and parsed.role == role
    assert (place in parsed.place) if place else not parsed.place


@pytest.mark.parametrize(
    "question",
    ["Who is Minoru Kihara?", "Who won the election?", "What is the defense minister's plan?"],
)
def test_other_questions_are_not_role_questions(question: str) -> None:
    assert parse_role_question(question) is None


def test_title_before_the_name_on_the_seed(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    engine.ingest(load_paths([SEEDS]).articles)
    answer = engine.ask("Who is Japan's defense minister?")
    assert not answer.abstained and len(answer.citations) == 1
    assert "Japanese Defense Minister Minoru Kihara" in answer.citations[0].quote
    assert _span(answer) == "Minoru Kihara"


@pytest.mark.parametrize(
    ("text", "question", "name"),
    [
        (
            "Minoru Kihara, Japan's defense minister, told reporters the talks went well. ",
            "Who is the Japanese defense minister?",
            "Minoru Kihara",
        ),
        (
            "The delegation was led by the defence minister, Richard Marles, who flew in on "
            "Monday. ",
            "Who is the defense minister?",
            "Richard Marles",
        ),
        (
            "Anna Lindqvist was named chief executive of Nordbank on Monday after a long search. ",
            "Who was named CEO of Nordbank?",
            "Anna Lindqvist",
        ),
    ],
)
def test_appositions_and_naming_verbs_give_the_name(
    tmp_path: Path, text: str, question: str, name: str
) -> None:
    answer = _engine(tmp_path, DISTRACTORS + text + DISTRACTORS).ask(question)
    assert not answer.abstained and _span(answer) == name


def test_a_title_of_another_country_is_not_the_answer(tmp_path: Path) -> None:
    text = "Japanese Defense Minister Minoru Kihara told reporters the talks went well. "
    answer = _engine(tmp_path, DISTRACTORS + text).ask("Who is the Australian defense minister?")
    assert answer.abstained or _span(answer) is None  # no name is claimed for the role


def test_without_stored_entities_role_questions_are_answered_as_any_other(
    tmp_path: Path,
) -> None:
    settings = Settings(index_dir=tmp_path / "index", abstain_threshold=0.0, entities=False)
    engine = Engine(settings, HashEmbedder())
    engine.ingest(load_paths([SEEDS]).articles)
    answer = engine.ask("Who is Japan's defense minister?")
    assert not answer.abstained and _span(answer) is None


@pytest.mark.model
def test_japans_defense_minister_on_the_seed_with_the_real_model(seed_engine: Engine) -> None:
    answer = seed_engine.ask("Who is Japan's defense minister?")
    assert not answer.abstained
    first = answer.citations[0]
    assert "Japanese Defense Minister Minoru Kihara" in first.quote
    assert "photo" not in first.quote.lower() and "(Kyodo)" not in first.quote
    assert _span(answer) == "Minoru Kihara"
