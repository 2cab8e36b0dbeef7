"""Named entities found at ingest (spaCy's small English model) and kept by the store."""

from pathlib import Path

from rag.engine import Engine
from rag.models import Article
from rag.runtime.embedding import HashEmbedder
from rag.runtime.entities import extract, place_forms, within
from rag.settings import Settings

KIHARA = (
    '"Our country has consistently backed the efforts of AUKUS," Japanese Defense Minister '
    "Minoru Kihara told reporters in Tokyo on Tuesday."
)


def _named(text: str, entities: tuple[tuple[int, int, str], ...]) -> set[tuple[str, str]]:
    return {(text[s:e], label) for s, e, label in entities}


def test_people_places_and_dates_are_character_spans_of_the_text() -> None:
    (found,) = extract([KIHARA])
    assert {("Minoru Kihara", "PERSON"), ("Tokyo", "GPE"), ("Tuesday", "DATE")} <= _named(
        KIHARA, found
    )
    people = within(found, 0, len(KIHARA), {"PERSON"})
    assert [KIHARA[s:e] for s, e, _ in people] == ["Minoru Kihara"]


def test_a_long_text_is_tagged_in_pieces_with_offsets_into_the_whole() -> None:
    filler = "The committee met again and discussed the budget at length.\n" * 500
    text = filler + KIHARA + "\n" + filler + "Mao Ning spoke in Beijing on Monday."
    empty, found = extract(["", text])
    assert empty == ()
    named = _named(text, found)
    assert ("Minoru Kihara", "PERSON") in named and ("Beijing", "GPE") in named
    assert all(0 <= s < e <= len(text) for s, e, _ in found)


def test_countries_and_their_peoples_are_one_place() -> None:
    assert place_forms("Japan's") == {"japan", "japanese"}
    assert {"britain", "british", "united kingdom"} <= place_forms("British")
    assert place_forms("Tesla") == {"tesla"}


def test_ingest_stores_the_entities_and_the_setting_turns_them_off(tmp_path: Path) -> None:
    article = Article(doc_id="kihara", title="AUKUS", text=KIHARA)
    on = Engine(Settings(index_dir=tmp_path / "on"), HashEmbedder())
    off = Engine(Settings(index_dir=tmp_path / "off", entities=False), HashEmbedder())
    on.ingest([article])
    off.ingest([article])
    stored = on.store.document("kihara")
    assert stored is not None and ("Minoru Kihara", "PERSON") in _named(KIHARA, stored.entities)
    nothing = off.store.document("kihara")
    assert nothing is not None and nothing.entities == ()
