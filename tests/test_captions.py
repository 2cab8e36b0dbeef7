"""Who-is answers from a photo caption, as the last resort and labelled (issue #30, item 9)."""

from __future__ import annotations

from rag.articles.loading import load_paths
from rag.cli.view import render
from rag.engine import Engine
from rag.models import Article
from rag.newsparts import captions
from tests.helpers import SEEDS

WIRE = (
    "Boil-water order for Marlow Bay\n\n"
    "Health officials ordered residents to boil their tap water on Monday after an outbreak.\n\n"
    "Water Authority operations director Samuel Okoye inspects a filter at the Harlow Road "
    "plant on Monday. (AP Photo/Jo Lane)\n\n"
    "Dr. Wei Liu, the county health officer, said the parasite had been found in samples."
)


def test_captions_are_found_by_their_start_or_credit() -> None:
    text = "Title\n\nPhoto: Mayor Ruiz at City Hall\n\nThe council met.\n\n" + WIRE
    found = [text[s.start : s.end] for s in captions(text)]
    assert found[0] == "Photo: Mayor Ruiz at City Hall"
    assert found[1].startswith("Water Authority operations director Samuel Okoye")
    assert not any("council met" in f or "parasite" in f for f in found)


def test_a_role_named_only_in_a_caption_is_answered_from_it(hash_engine: Engine) -> None:
    """The AUKUS seed article names Grant Shapps only in its photo caption (alone: the hash
    embedder's retrieval would not find it among the other seed articles; the real model does)."""
    hash_engine.ingest(load_paths([SEEDS / "000_a842a3da874e1a7d.txt"]).articles)
    answer = hash_engine.ask("Who is the British defence secretary?")
    assert not answer.abstained, answer.reason
    (c,) = answer.citations
    assert c.from_caption and "Combined photo shows" in c.quote
    assert c.answer_start is not None and c.answer_end is not None
    assert c.quote[c.answer_start - c.start : c.answer_end - c.start] == "Grant Shapps"
    assert answer.to_dict()["citations"][0]["from_caption"] is True
    assert render(answer).splitlines()[-1].endswith("photo caption)")  # the CLI says so too


def test_a_caption_is_the_last_resort(hash_engine: Engine) -> None:
    hash_engine.ingest([Article("wire", "Boil-water order", WIRE, date="2024-03-04")])
    answer = hash_engine.ask("Who is the Water Authority operations director?")
    assert not answer.abstained, answer.reason
    assert answer.citations[0].from_caption
    # a sentence naming the person in the role wins over the caption
    answer = hash_engine.ask("Who is the county health officer?")
    assert not answer.abstained and not answer.citations[0].from_caption
    assert "Wei Liu" in answer.citations[0].quote
