"""Syndicated and near-duplicate articles: grouped at ingest, quoted once, listed as copies.

tests/news/syndicated holds one Reuters story (``wire-reuters.txt``) as three outlets printed
it (re-headlined and lightly edited, cut to 40%, with other datelines and bylines), an
independent report of the same event by another outlet and the agency's follow-up the next
day: the copies are one story, the other two are not.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from bench.duplicates_bench import variants
from rag.answering.duplicates import assign_groups, repeats_story
from rag.articles.loading import load_paths
from rag.cli.commands import render
from rag.engine import Engine
from rag.models import Article
from rag.stores.base import handle
from rag.stores.local import LocalStore
from tests.helpers import SEEDS
from tests.store_conformance import INFO, prepared

SYNDICATED = Path(__file__).parent / "news" / "syndicated"
COPIES = {"wire-reuters.txt", "herald-copy.md", "courier-short.md"}
OTHERS = {"ledger-report.md", "wire-followup.txt"}


def articles() -> dict[str, Article]:
    return {a.doc_id: a for a in load_paths([SYNDICATED]).articles}


def group_of(engine: Engine, doc_id: str) -> str:
    record = engine.store.document(doc_id)
    assert record is not None
    return record.group_id


def stories(engine: Engine) -> set[frozenset[str]]:
    """The story groups of the stored articles, as sets of doc_ids."""
    found: dict[str, set[str]] = {}
    for d in engine.documents():
        found.setdefault(group_of(engine, d["doc_id"]), set()).add(d["doc_id"])
    return {frozenset(m) for m in found.values()}


def test_copies_of_a_wire_story_are_one_story_and_other_reports_are_not(
    hash_engine: Engine,
) -> None:
    hash_engine.ingest(list(articles().values()))  # one batch: grouped within it
    assert stories(hash_engine) == {
        frozenset(COPIES),
        frozenset({"ledger-report.md"}),
        frozenset({"wire-followup.txt"}),
    }


def test_copies_ingested_later_join_the_stored_story(hash_engine: Engine) -> None:
    arts = articles()
    for name in ("wire-reuters.txt", "ledger-report.md", "herald-copy.md", "courier-short.md"):
        hash_engine.ingest([arts[name]])
    assert {group_of(hash_engine, d) for d in COPIES} == {"wire-reuters.txt"}
    assert group_of(hash_engine, "ledger-report.md") == "ledger-report.md"


@pytest.mark.parametrize(
    "kind",
    ["edited", "heavily edited", "reheadlined", "cut-60", "cut-40", "reheadlined+edited+cut-60"],
)
def test_built_copies_are_grouped_with_their_original(kind: str, tmp_path: Path) -> None:
    import random

    store = LocalStore(tmp_path / "index")
    for name, original in {**articles(), "seed": load_paths([SEEDS]).articles[0]}.items():
        if name in OTHERS or name == "courier-short.md":
            continue
        store.write(INFO, assign_groups(store, prepared(original)))
        copy = variants(original, random.Random(3))[kind]
        [grouped] = assign_groups(store, prepared(copy))
        stored = store.document(original.doc_id)
        assert stored is not None and grouped.group_id == stored.group_id, (name, kind)
    store.close()


def test_articles_on_one_topic_are_not_grouped(tmp_path: Path) -> None:
    """Independent reports of one event, and a follow-up repeating background, stay apart."""
    arts = articles()
    store = LocalStore(tmp_path / "index")
    store.write(INFO, assign_groups(store, prepared(arts["wire-reuters.txt"])))
    followup = arts["wire-followup.txt"]
    background = "\n\n".join(arts["wire-reuters.txt"].text.split("\n\n")[6:8])  # 2 paragraphs
    repeats = replace(
        followup, doc_id="followup+background", text=f"{followup.text}\n\n{background}"
    )
    for other in (arts["ledger-report.md"], followup, repeats):
        [p] = assign_groups(store, prepared(other))
        assert p.group_id is None and p.signature, other.doc_id
    store.close()


def test_an_answer_quotes_a_syndicated_story_once_and_lists_the_copies(
    hash_engine: Engine,
) -> None:
    hash_engine.ingest(list(articles().values()))
    answer = hash_engine.ask("How long was the breach in the Hallam floodwall?")
    assert not answer.abstained
    cited = [c for c in answer.citations if c.doc_id in COPIES]
    assert cited, [c.quote for c in answer.citations]
    words = [set(re.findall(r"\w+", c.quote.lower())) for c in cited]
    for i, a in enumerate(words):  # each sentence of the story once, from one copy
        for b in words[i + 1 :]:
            assert len(a & b) / len(a | b) < 0.8, [c.quote for c in cited]
    for c in cited:
        assert {x.doc_id for x in c.also_in} == COPIES - {c.doc_id}
    copies = {x.doc_id: x for c in cited for x in c.also_in}
    sources = {
        "wire-reuters.txt": ("Reuters", "2024-03-04"),
        "herald-copy.md": ("Hallam Herald", "2024-03-04"),
        "courier-short.md": ("Northern Courier", "2024-03-05"),
    }
    assert all((x.source, x.date) == sources[x.doc_id] for x in copies.values())
    assert "also in: " in render(answer)


def test_search_keeps_one_copy_of_a_story(hash_engine: Engine) -> None:
    hash_engine.ingest(list(articles().values()))
    passages = hash_engine.search("Hallam floodwall breach railway bridge River Aln", top_k=10)
    copies = {p.doc_id for p in passages if p.doc_id in COPIES}
    assert len(copies) == 1
    [kept] = copies
    for p in passages:
        if p.doc_id == kept:
            assert {x.doc_id for x in p.also_in} == COPIES - {kept}
    assert {p.doc_id for p in passages} & OTHERS  # other reports are still found


def test_replacing_or_deleting_a_copy_keeps_the_rest_one_story(hash_engine: Engine) -> None:
    arts = articles()
    hash_engine.ingest([arts[n] for n in sorted(COPIES)])
    namesake = group_of(hash_engine, "herald-copy.md")
    hash_engine.delete(namesake)  # the article the group is named after
    rest = COPIES - {namesake}
    assert stories(hash_engine) == {frozenset(rest)}
    changed = replace(arts["herald-copy.md"], text=arts["ledger-report.md"].text)
    hash_engine.ingest([changed])  # now another story: alone, the rest unchanged
    assert stories(hash_engine) == {
        frozenset(rest - {"herald-copy.md"}),
        frozenset({"herald-copy.md"}),
    }
    hash_engine.ingest([arts["herald-copy.md"]])  # the copy again: back in the story
    assert stories(hash_engine) == {frozenset(rest)}
    answer = hash_engine.ask("How long was the breach in the Hallam floodwall?")
    [c] = [c for c in answer.citations if c.doc_id in rest]
    assert {x.doc_id for x in c.also_in} == rest - {c.doc_id}


def test_a_lightly_edited_sentence_of_a_copy_repeats_the_story(hash_engine: Engine) -> None:
    hash_engine.ingest(list(articles().values()))
    view = hash_engine.snapshot()

    def row(doc_id: str, start: str) -> int:
        for key in range(1, 20):
            d = view.doc(key)
            if d is not None and d.article.doc_id == doc_id:
                for i, s in enumerate(d.sent_start):
                    if d.article.text[int(s) :].startswith(start):
                        return handle(key, i)
        raise AssertionError(f"no sentence {start!r} in {doc_id}")

    wire = row("wire-reuters.txt", "Mayor Daniel Hurst said")
    herald = row("herald-copy.md", "Mayor Daniel Hurst said")  # "remain closed", not "stay"
    ledger = row("ledger-report.md", "Mayor Daniel Hurst said")  # another outlet's words
    courier = row("courier-short.md", "Emergency crews used boats")
    assert repeats_story(view, herald, [wire])
    assert not repeats_story(view, ledger, [wire])
    assert repeats_story(
        view,
        courier,
        [
            row("wire-followup.txt", "Speaking after"),
            row("wire-reuters.txt", "Emergency crews used boats"),
        ],
    )
    assert not repeats_story(view, courier, [wire])


def test_the_http_api_shows_the_copies(hash_engine: Engine) -> None:
    from fastapi.testclient import TestClient

    from api import create_app

    hash_engine.ingest(list(articles().values()))
    with TestClient(create_app(hash_engine.settings, hash_engine)) as client:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert "also_in" in schemas["CitationOut"]["properties"]
        assert "also_in" in schemas["PassageOut"]["properties"]
        question = {"question": "How long was the breach in the Hallam floodwall?"}
        cited = client.post("/ask", json=question).json()["citations"]
        [c] = [c for c in cited if c["doc_id"] in COPIES][:1]
        assert {x["doc_id"] for x in c["also_in"]} == COPIES - {c["doc_id"]}
        assert set(c["also_in"][0]) == {"doc_id", "title", "source", "date", "url"}
        found = client.get("/search", params={"q": "Hallam floodwall breach"}).json()
        kept = [p for p in found["passages"] if p["doc_id"] in COPIES]
        assert len({p["doc_id"] for p in kept}) == 1 and kept[0]["also_in"]
        doc = client.get("/documents/herald-copy.md").json()
        assert doc["group_id"] == group_of(hash_engine, "wire-reuters.txt")
