"""The store conformance suite: every backend runs these tests (see tests/test_stores.py).

A backend's test class subclasses :class:`StoreConformance` and provides a ``store`` fixture
yielding an empty store. Articles are prepared with the hash embedder, so the suite needs no
model; it asserts on what a caller sees (search results, texts, spans), never on layout.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from rag.ingest.chunking import Chunker, ChunkingParams
from rag.ingest.indexing import prepare
from rag.models import NO_FILTERS, Article, Filters
from rag.runtime.embedding import HashEmbedder
from rag.stores.base import PreparedArticle, Store, StoreInfo, doc_of
from rag.stores.view import View
from rag.text import content_terms

EMBEDDER = HashEmbedder()
INFO = StoreInfo(EMBEDDER.name, EMBEDDER.dimension, {"chunk_tokens": 40})
CHUNKER = Chunker(lambda t: len(t.split()), ChunkingParams(40, 8))

WALRUS = Article(
    "walrus",
    "Walruses of the Arctic",
    "Walruses live in the Arctic. They eat clams on the sea floor.\n\n"
    "A walrus can weigh more than a tonne.",
    source="AP",
    date="2024-03-05",
)
OTTER = Article(
    "otter",
    "Otters",
    "Sea otters hold hands while they sleep. Otters use tools.",
    source="Reuters",
    date="2024-04-10",
)
LONG = Article(
    "long",
    "A long one",
    " ".join(f"Sentence number {i} mentions penguins." for i in range(40)),
    date="2023-01-01",
)


def prepared(*articles: Article) -> list[PreparedArticle]:
    return list(prepare(articles, EMBEDDER, CHUNKER))


def story(doc_id: str, group: str | None = None, bands: tuple[int, ...] = ()) -> PreparedArticle:
    """A copy of one wire story under ``doc_id``, joining ``group`` (None: alone)."""
    [p] = prepared(
        Article(doc_id, f"Storm {doc_id}", f"A storm hit the coast. Copy {doc_id}.", source=doc_id)
    )
    signature = doc_id.encode() * 4 if bands else b""
    return replace(p, group_id=group, signature=signature, band_keys=bands)


def groups(store: Store, *group_ids: str) -> dict[str, list[str]]:
    members = View(store.reader()).group_members(group_ids)
    return {g: [c.doc_id for c in copies] for g, copies in members.items() if copies}


def vector(text: str) -> np.ndarray:
    return EMBEDDER.embed([text])[0]


def search(store: Store, text: str, k: int = 10, filters: Filters = NO_FILTERS) -> list[str]:
    """doc_ids of the hybrid-ish results: dense then lexical, deduplicated."""
    view = View(store.reader())
    dense, _ = view.dense_search(vector(text), k, filters)
    lexical, _ = view.lexical_search(content_terms(text), k, filters)
    keys = [int(doc_of(int(h))) for h in [*dense, *lexical]]
    view.load(int(h) for h in [*dense, *lexical])
    return list(dict.fromkeys(view.article(k).doc_id for k in keys if view.has_doc(k)))


def lexical_ids(store: Store, text: str, filters: Filters = NO_FILTERS) -> list[str]:
    view = View(store.reader())
    handles, scores = view.lexical_search(content_terms(text), 10, filters)
    assert np.all(scores > 0) and np.all(np.diff(scores) <= 1e-9)
    view.load(int(h) for h in handles)
    return list(dict.fromkeys(view.article(doc_of(int(h))).doc_id for h in handles))


class StoreConformance:
    """Behaviour every ``Store`` must have."""

    def test_a_new_store_is_empty(self, store: Store) -> None:
        assert store.info() is None
        assert store.content_hashes(["walrus"]) == {}
        assert store.document("walrus") is None

    def test_written_articles_are_listed_read_and_counted(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS, OTTER, LONG))
        assert store.info() == INFO
        assert [d.doc_id for d in store.list_documents(10)] == ["long", "otter", "walrus"]
        assert [d.doc_id for d in store.list_documents(1, after="long")] == ["otter"]
        record = store.document("walrus")
        assert record is not None and record.text == WALRUS.text and record.source == "AP"
        assert store.content_hashes(["walrus", "nope"]) == {"walrus": WALRUS.content_hash}
        counts = store.counts()
        assert counts["articles"] == 3 and counts["chunks"] >= 3

    def test_spans_point_into_the_stored_text(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS, LONG))
        view = View(store.reader())
        handles, _ = view.lexical_search(["penguin"], 50, NO_FILTERS)
        assert len(handles)
        for h in handles:
            text = view.chunk_text(int(h))
            assert "penguins" in text
            for s in view.chunk_sentences(int(h)):
                assert view.sentence_text(s).startswith("Sentence number")

    def test_vectors_come_back_by_handle(self, store: Store) -> None:
        [p] = prepared(WALRUS)
        store.write(INFO, [p])
        view = View(store.reader())
        handles, sims = view.dense_search(p.chunk_vectors[0], 1, NO_FILTERS)
        assert sims[0] == pytest.approx(1.0, abs=1e-3)
        assert np.allclose(view.chunk_vectors(handles)[0], p.chunk_vectors[0], atol=1e-4)
        first = view.chunk_sentences(int(handles[0]))[0]
        assert np.allclose(view.sentence_vectors([first])[0], p.sentence_vectors[0], atol=1e-2)

    def test_lexical_search_ranks_by_bm25(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS, OTTER, LONG))
        assert lexical_ids(store, "walrus clams") == ["walrus"]
        assert lexical_ids(store, "otters") == ["otter"]
        n, dfs = store.reader().term_stats(["walrus", "zebra"])
        assert n == store.counts()["chunks"] and dfs["walrus"] >= 1 and dfs["zebra"] == 0

    def test_filters_are_applied_in_the_store(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS, OTTER, LONG))
        assert set(search(store, "sea", filters=Filters(source="ap"))) == {"walrus"}
        assert set(search(store, "sea", filters=Filters(source="REUTERS"))) == {"otter"}
        assert set(search(store, "sea", filters=Filters(date_from="2024-04-01"))) == {"otter"}
        assert set(search(store, "sea", filters=Filters(date_to="2023-12-31"))) <= {"long"}
        assert set(search(store, "sea", filters=Filters(doc_id="walrus"))) == {"walrus"}
        assert search(store, "sea", filters=Filters(source="nobody")) == []

    def test_replacing_an_article_drops_its_old_rows(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS, OTTER))
        new = Article("walrus", "Walruses", "Penguins are not walruses.")
        result = store.write(INFO, prepared(new))
        assert result.replaced == ("walrus",)
        assert lexical_ids(store, "clams") == []
        assert lexical_ids(store, "penguins") == ["walrus"]
        assert store.content_hashes(["walrus"]) == {"walrus": new.content_hash}
        assert store.counts()["articles"] == 2

    def test_delete_removes_an_article_everywhere(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS, OTTER))
        assert store.write(INFO, [], ["walrus", "missing"]).deleted == ("walrus",)
        assert "walrus" not in search(store, "walrus arctic clams")
        assert store.document("walrus") is None
        assert [d.doc_id for d in store.list_documents(10)] == ["otter"]

    def test_a_reader_taken_before_a_write_still_answers(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS))
        view = View(store.reader())
        store.write(INFO, prepared(OTTER))
        handles, _ = view.lexical_search(["walrus"], 5, NO_FILTERS)
        assert view.chunk_text(int(handles[0]))
        assert "otter" in search(store, "otters sleep")

    def test_compact_keeps_every_live_article(self, store: Store) -> None:
        for article in (WALRUS, OTTER, LONG):
            store.write(INFO, prepared(article))
        store.write(INFO, [], ["otter"])
        store.compact()
        assert [d.doc_id for d in store.list_documents(10)] == ["long", "walrus"]
        assert lexical_ids(store, "walrus") == ["walrus"]
        assert lexical_ids(store, "otters") == []

    def test_reset_empties_the_store(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS))
        store.reset()
        assert store.info() is None and store.list_documents(10) == []

    def test_a_rebuild_answers_from_the_old_articles_until_it_is_swapped_in(
        self, store: Store
    ) -> None:
        store.write(INFO, prepared(WALRUS, OTTER))
        old_keys = {d: store.document(d).doc_key for d in ("walrus", "otter")}  # type: ignore[union-attr]
        with store.rebuilding() as fresh:
            fresh.write(INFO, prepared(LONG, replace(OTTER, text="Otters float on kelp.")))
            assert [d.doc_id for d in store.list_documents(10)] == ["otter", "walrus"]
            assert search(store, "walrus clams")[0] == "walrus"
            assert [d.doc_id for d in fresh.list_documents(10)] == ["long", "otter"]
        assert [d.doc_id for d in store.list_documents(10)] == ["long", "otter"]
        assert search(store, "penguins")[0] == "long"
        assert "walrus" not in search(store, "walrus clams arctic")
        assert store.document("otter").text == "Otters float on kelp."  # type: ignore[union-attr]
        new_keys = {store.document(d).doc_key for d in ("long", "otter")}  # type: ignore[union-attr]
        assert not new_keys & set(old_keys.values())  # no key names two articles
        assert store.info() == INFO
        store.write(INFO, prepared(WALRUS))  # the rebuilt store takes writes
        assert search(store, "walrus clams")[0] == "walrus"

    def test_a_failed_rebuild_leaves_the_old_store_whole(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS, OTTER))
        with pytest.raises(RuntimeError), store.rebuilding() as fresh:
            fresh.write(INFO, prepared(LONG))
            raise RuntimeError("the rebuild failed")
        assert [d.doc_id for d in store.list_documents(10)] == ["otter", "walrus"]
        assert search(store, "walrus clams")[0] == "walrus"
        with store.rebuilding() as fresh:  # a later rebuild works
            fresh.write(INFO, prepared(LONG))
        assert [d.doc_id for d in store.list_documents(10)] == ["long"]

    def test_an_empty_rebuild_leaves_an_empty_store(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS))
        with store.rebuilding():
            pass
        assert store.info() is None and store.list_documents(10) == []
        store.write(INFO, prepared(OTTER))
        assert [d.doc_id for d in store.list_documents(10)] == ["otter"]

    def test_concurrent_writers_lose_nothing(self, store: Store) -> None:
        store.write(INFO, prepared(WALRUS))
        articles = [
            Article(f"a{i:02d}", f"T{i}", f"Article {i} is about topic{i}.") for i in range(12)
        ]
        batches: Sequence[list[PreparedArticle]] = [prepared(*articles[i::3]) for i in range(3)]
        threads = [threading.Thread(target=store.write, args=(INFO, b)) for b in batches]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(store.list_documents(100)) == 13
        assert lexical_ids(store, "topic7") == ["a07"]

    def test_questions_while_writing_and_deleting_never_fail(self, store: Store) -> None:
        """Readers keep answering while a writer adds, replaces and deletes (and, locally,
        merges segments) through the same store."""
        from rag.engine import Engine
        from rag.settings import Settings

        engine = Engine(Settings(rerank=False), EMBEDDER, store=store)
        engine.ingest(
            [Article(f"d{i}", "t", f"Article {i} covers walruses and topic{i}.") for i in range(5)]
        )
        errors: list[BaseException] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                try:
                    engine.search("walruses topic3", top_k=5)
                    engine.ask("Which article covers topic2?")
                except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                    errors.append(exc)
                    return

        readers = [threading.Thread(target=read) for _ in range(3)]
        for t in readers:
            t.start()
        for i in range(30):
            engine.ingest([Article(f"d{i % 7}", "t", f"Version {i}: walruses and topic{i}.")])
            if i % 5 == 4:
                engine.delete(f"d{i % 7}")
        stop.set()
        for t in readers:
            t.join()
        assert errors == []

    def test_entities_and_story_groups_round_trip(self, store: Store) -> None:
        entities = ((0, 8, "ANIMAL"), (22, 28, "LOC"))
        [p] = prepared(WALRUS)
        store.write(INFO, [replace(p, entities=entities), *prepared(OTTER)])
        record = store.document("walrus")
        assert record is not None and record.entities == entities
        assert record.group_id == "walrus"  # alone: its own group
        view = View(store.reader())
        handles, _ = view.lexical_search(content_terms("clams"), 5, NO_FILTERS)
        article = view.article(doc_of(int(handles[0])))
        assert article.entities == entities and article.group_id == "walrus"
        otter = store.document("otter")
        assert otter is not None and otter.entities == () and otter.group_id == "otter"

    def test_near_duplicate_candidates_are_found_by_band_key(self, store: Store) -> None:
        store.write(INFO, [story("ap", bands=(11, -12)), story("bbc", "ap", bands=(-12, 13))])
        store.write(INFO, [story("cnn", bands=(14,)), story("dpa")])  # dpa: no signature
        reader = store.reader()
        found = {c.doc_id: c for c in reader.duplicate_candidates([-12, 99])}
        assert set(found) == {"ap", "bbc"}
        assert found["bbc"].group_id == "ap" and found["bbc"].signature == b"bbc" * 4
        assert [c.doc_id for c in reader.duplicate_candidates([13, 14])] in (
            ["bbc", "cnn"],
            ["cnn", "bbc"],
        )
        assert reader.duplicate_candidates([]) == []
        store.write(INFO, [story("ap")], ["cnn"])  # replaced without bands, and deleted
        assert [c.doc_id for c in store.reader().duplicate_candidates([11, -12, 14])] == ["bbc"]

    def test_group_members_are_listed_with_their_sources(self, store: Store) -> None:
        store.write(INFO, [story("ap"), story("bbc", "ap"), *prepared(OTTER)])
        store.write(INFO, [story("cnn", "ap")])
        assert groups(store, "ap", "otter", "nobody") == {
            "ap": ["ap", "bbc", "cnn"],
            "otter": ["otter"],
        }
        [bbc] = [c for c in View(store.reader()).group_members(["ap"])["ap"] if c.doc_id == "bbc"]
        assert (bbc.title, bbc.source) == ("Storm bbc", "bbc")
        view = View(store.reader())
        handles, _ = view.lexical_search(content_terms("storm"), 10, Filters(doc_id="cnn"))
        assert [c.doc_id for c in view.copies(doc_of(int(handles[0])))] == ["ap", "bbc"]

    def test_deleting_or_replacing_a_member_keeps_the_rest_one_group(self, store: Store) -> None:
        store.write(INFO, [story("ap"), story("bbc", "ap"), story("cnn", "ap"), story("dpa")])
        store.write(INFO, [], ["ap"])  # the group's namesake goes: the rest stay together
        assert groups(store, "ap", "bbc") == {"bbc": ["bbc", "cnn"]}
        cnn = store.document("cnn")
        assert cnn is not None and cnn.group_id == "bbc"
        store.write(INFO, [story("bbc", "bbc")])  # replaced, still the same story
        assert groups(store, "bbc") == {"bbc": ["bbc", "cnn"]}
        store.write(INFO, [story("bbc")])  # replaced by another story: alone
        assert groups(store, "bbc", "cnn") == {"bbc": ["bbc"], "cnn": ["cnn"]}
        store.write(INFO, [story("ap", "dpa"), story("cnn", "dpa")])
        assert groups(store, "dpa", "cnn") == {"dpa": ["ap", "cnn", "dpa"]}

    def test_the_engine_groups_copies_of_a_story_and_cites_them(self, store: Store) -> None:
        """Signatures round-trip: copies ingested one by one join the stored story."""
        from pathlib import Path

        from rag.articles.loading import load_paths
        from rag.engine import Engine
        from rag.settings import Settings

        engine = Engine(Settings(rerank=False), EMBEDDER, store=store)
        folder = Path(__file__).parent / "news" / "syndicated"
        for a in sorted(load_paths([folder]).articles, key=lambda a: a.doc_id, reverse=True):
            engine.ingest([a])  # wire-reuters first, then the others, one write each
        copies = {"wire-reuters.txt", "herald-copy.md", "courier-short.md"}
        assert groups(store, "wire-reuters.txt", "ledger-report.md") == {
            "wire-reuters.txt": sorted(copies),
            "ledger-report.md": ["ledger-report.md"],
        }
        passages = engine.search("Hallam floodwall breach railway bridge", top_k=10)
        kept = [p for p in passages if p.doc_id in copies]
        assert kept and {p.doc_id for p in kept} == {kept[0].doc_id}
        assert {c.doc_id for c in kept[0].also_in} == copies - {kept[0].doc_id}

    def test_a_question_sees_the_store_as_it_was_when_it_began(self, store: Store) -> None:
        """A writer that commits in the middle of a question is seen by the next question,
        never by the rest of this one: searches, statistics and vectors stay as they were,
        and a text is the one searched or gone (``View.lost``), never a newer version."""
        store.write(INFO, prepared(WALRUS, OTTER))
        view = View(store.reader())
        dense = view.dense_search(vector("walrus clams"), 10, NO_FILTERS)
        lexical = view.lexical_search(content_terms("walrus clams"), 10, NO_FILTERS)
        counted = (view.chunk_count(), view.term_stats(content_terms("walrus otters")))
        otters, _ = view.lexical_search(content_terms("otters"), 10, NO_FILTERS)
        sentences = list(view.chunk_sentences(int(lexical[0][0])))
        sentence_vectors = view.sentence_vectors(sentences)
        more = Article("walrus2", "More walruses", "Walrus walrus clams. A walrus eats clams.")
        store.write(
            INFO, prepared(more, replace(WALRUS, text="Penguins, not walruses.")), ["otter"]
        )
        again = view.dense_search(vector("walrus clams"), 10, NO_FILTERS)
        assert [h.tolist() for h in again] == [h.tolist() for h in dense]
        assert view.lexical_search(content_terms("walrus clams"), 10, NO_FILTERS)[0].tolist() == (
            lexical[0].tolist()
        )
        assert (view.chunk_count(), view.term_stats(content_terms("walrus otters"))) == counted
        assert (
            view.lexical_search(content_terms("otters"), 10, NO_FILTERS)[0].tolist()
            == otters.tolist()
        )
        assert view.term_stats(content_terms("penguins"))[1] == dict.fromkeys(
            content_terms("penguins"), 0
        )
        assert np.allclose(view.sentence_vectors(sentences), sentence_vectors)
        view.load(int(h) for h in [*lexical[0], *otters])
        for h in [*lexical[0], *otters]:
            key = int(doc_of(int(h)))
            assert not view.has_doc(key) or view.article(key).text in (WALRUS.text, OTTER.text)
        assert view.lost or view.article(int(doc_of(int(otters[0])))).doc_id == "otter"
        assert lexical_ids(store, "walrus clams") == ["walrus2"]  # the next question
        assert lexical_ids(store, "otters") == []
        view.reader.close()
