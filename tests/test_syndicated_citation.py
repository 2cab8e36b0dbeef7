"""Which copy of a syndicated story an answer cites: the original, with the reprints listed.

Within one story group the cited copy is the one a reader trusts (the wire's own, which the
reprints credit, else the earliest dated) and the reprints go to ``also_in``; a sentence that a
*different*, later story repeats still goes to the newest story. Hash embedder: fast lane.
"""

from __future__ import annotations

from pathlib import Path

from rag.answering.duplicates import story_order
from rag.articles.loading import load_paths
from rag.engine import Engine
from rag.stores.base import ArticleRecord
from tests.helpers import SEEDS

LOWMERE = SEEDS / "lowmere"
WIRE = "2026-03-04-lanternwire-businesses-count-cost.md"
REPRINT = "2026-03-05-valleypost-shops-count-cost.md"
SYNDICATED = Path(__file__).parent / "news" / "syndicated"


def record(doc_id: str, date: str | None, source: str, group: str, **kw: str) -> ArticleRecord:
    return ArticleRecord(
        doc_id=doc_id,
        title=doc_id,
        text=kw.get("text", "Some words."),
        url=None,
        date=date,
        source=source,
        content_hash=doc_id,
        ingested_at="2026-01-01",
        author=kw.get("author"),
        group_id=group,
    )


def test_within_a_story_the_original_is_cited_first() -> None:
    wire = record("wire", "2026-03-05", "Lantern Wire", "g")
    reprint = record("paper", "2026-03-04", "Valley Post", "g", author="Lantern Wire")
    dateline = record("radio", "2026-03-03", "Radio", "g", text="TOWN (Lantern Wire) - Words.")
    # the copies credit the wire: it comes first although both are dated earlier
    assert story_order([reprint, dateline, wire])[0] == 2
    early = record("early", "2026-03-01", "Gazette", "h")
    late = record("late", "2026-03-09", "Courier", "h")
    undated = record("undated", None, "Blog", "h")
    assert story_order([undated, late, early]) == [2, 1, 0]  # earliest first, undated last


def test_across_stories_the_newest_story_comes_first() -> None:
    old = record("old", "2026-03-02", "Gazette", "a")
    follow_up = record("follow", "2026-03-16", "Gazette", "b")
    assert story_order([old, follow_up]) == [1, 0]


def test_a_syndicated_quote_cites_the_wire_and_lists_the_reprint(hash_engine: Engine) -> None:
    hash_engine.ingest(load_paths([LOWMERE]).articles)
    answer = hash_engine.ask("How much is the chamber of commerce loss to local businesses a day?")
    assert not answer.abstained, answer.reason
    first = answer.citations[0]
    assert "$60,000 a day" in first.quote
    assert first.doc_id == WIRE and [c.doc_id for c in first.also_in] == [REPRINT]
    said = hash_engine.ask("What did the mayor say about pedestrians?")  # a speaker answer
    [cited] = [c for c in said.citations if "reopen the bridge to pedestrians" in c.quote]
    assert cited.doc_id == WIRE and [c.doc_id for c in cited.also_in] == [REPRINT]


def test_search_shows_the_wire_copy_of_a_story(hash_engine: Engine) -> None:
    hash_engine.ingest(load_paths([SYNDICATED]).articles)
    passages = hash_engine.search("Hallam floodwall breach railway bridge River Aln", top_k=10)
    copies = {"wire-reuters.txt", "herald-copy.md", "courier-short.md"}
    assert {p.doc_id for p in passages if p.doc_id in copies} == {"wire-reuters.txt"}
    answer = hash_engine.ask("How long was the breach in the Hallam floodwall?")
    assert {c.doc_id for c in answer.citations if c.doc_id in copies} == {"wire-reuters.txt"}
