"""Ingest, replace, delete, and refusing damaged or mismatched indexes."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag import store
from rag.embedding import HashEmbedder
from rag.engine import Engine
from rag.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, NotFoundError
from rag.models import Article
from rag.settings import Settings


def _article(doc_id: str, text: str) -> Article:
    return Article(doc_id=doc_id, title=doc_id, text=text)


def test_reingesting_the_same_article_is_a_no_op(hash_engine: Engine) -> None:
    article = _article("a", "Alpha beta gamma. Delta epsilon.")
    first = hash_engine.ingest([article])
    generation = hash_engine.stats()["generation"]
    second = hash_engine.ingest([article])
    assert first.added == ("a",) and second.unchanged == ("a",) and not second.added
    assert hash_engine.stats()["generation"] == generation


def test_changed_article_replaces_its_old_chunks(hash_engine: Engine) -> None:
    hash_engine.ingest([_article("a", "The old text mentions walruses."),
                        _article("b", "Another article about otters.")])
    report = hash_engine.ingest([_article("a", "The new text mentions penguins.")])
    assert report.replaced == ("a",)
    texts = " ".join(p.text for p in hash_engine.search("walruses penguins", top_k=10))
    assert "penguins" in texts and "walruses" not in texts
    assert hash_engine.stats()["counts"]["articles"] == 2


def test_delete_removes_the_article_everywhere(hash_engine: Engine) -> None:
    hash_engine.ingest([_article("a", "Walruses live in the Arctic."),
                        _article("b", "Otters hold hands while sleeping.")])
    hash_engine.delete("a")
    assert [d["doc_id"] for d in hash_engine.documents()] == ["b"]
    assert all(p.doc_id == "b" for p in hash_engine.search("walruses arctic", top_k=10))
    with pytest.raises(NotFoundError):
        hash_engine.document("a")
    with pytest.raises(NotFoundError):
        hash_engine.delete("a")
    reopened = Engine(hash_engine.settings, HashEmbedder())
    assert reopened.stats()["counts"] == {"articles": 1, "chunks": 1, "sentences": 1}


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    engine = Engine(Settings(index_dir=tmp_path / "none"), HashEmbedder())
    with pytest.raises(IndexMissingError, match="rag ingest"):
        engine.ask("anything?")


def test_damaged_index_is_refused_with_the_fix(hash_engine: Engine) -> None:
    hash_engine.ingest([_article("a", "Some text about walruses.")])
    manifest = json.loads((hash_engine.root / "manifest.json").read_text())
    vectors = hash_engine.root / manifest["data_dir"] / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:50])
    with pytest.raises(IndexCorruptError, match="rebuild"):
        Engine(hash_engine.settings, HashEmbedder()).ask("walruses?")


def test_garbage_manifest_is_refused(hash_engine: Engine) -> None:
    hash_engine.ingest([_article("a", "Some text.")])
    (hash_engine.root / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match="rag ingest --rebuild"):
        Engine(hash_engine.settings, HashEmbedder()).ask("text?")


def test_index_from_another_model_is_refused(hash_engine: Engine) -> None:
    hash_engine.ingest([_article("a", "Some text.")])
    other = Engine(hash_engine.settings, HashEmbedder(dimension=32))
    with pytest.raises(IndexCorruptError, match="dimension 64.*dimension 32"):
        other.search("text")
    with pytest.raises(IndexCorruptError):
        other.ingest([_article("b", "More text.")])


def test_crash_while_saving_leaves_the_previous_index(
        hash_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    hash_engine.ingest([_article("a", "Walruses live in the Arctic.")])

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store.faiss, "write_index", crash)
    with pytest.raises(OSError):
        hash_engine.ingest([_article("b", "Otters hold hands.")])
    monkeypatch.undo()
    reopened = Engine(hash_engine.settings, HashEmbedder())
    assert [d["doc_id"] for d in reopened.documents()] == ["a"]


def test_rebuild_starts_fresh(hash_engine: Engine) -> None:
    hash_engine.ingest([_article("a", "Walruses.")])
    hash_engine.ingest([_article("b", "Otters.")], rebuild=True)
    assert [d["doc_id"] for d in hash_engine.documents()] == ["b"]


_words = st.sampled_from(["Japan", "said", "the", "U.S.", "pillar", "\"quoted", "words.\"",
                          "minister", "Mr.", "end.", "why?", "yes!", "\n", "\n\n", "  ", "über"])


@given(st.lists(st.lists(_words, min_size=1, max_size=300).map(" ".join), min_size=1,
                max_size=3))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
def test_every_chunk_sentence_and_citation_offset_is_exact(tmp_path_factory: pytest.TempPathFactory,
                                                           texts: list[str]) -> None:
    root = tmp_path_factory.mktemp("prop") / "index"
    engine = Engine(Settings(index_dir=root, chunk_tokens=40, chunk_overlap_tokens=8,
                             abstain_threshold=0.0), HashEmbedder())
    articles = [_article(f"d{i}", t) for i, t in enumerate(texts) if t.strip()]
    if not articles:
        return
    engine.ingest(articles)
    data = engine.snapshot()
    by_id = {a.doc_id: a for a in articles}
    for row in range(int(data.vectors.ntotal)):
        article = data.articles[int(data.chunk_doc[row])]
        assert article.text == by_id[article.doc_id].text
        assert data.chunk_text(row).strip() == data.chunk_text(row)
    assert np.all(data.sent_end > data.sent_start)
    answer = engine.ask("Which pillar did Japan join?")
    assert answer.citations or not answer.passages  # threshold 0: never abstains with passages
    for c in answer.citations:
        assert c.quote == by_id[c.doc_id].text[c.start : c.end]
    for p in answer.passages:
        assert p.text == by_id[p.doc_id].text[p.start : p.end]


def test_another_process_sees_a_new_generation(hash_engine: Engine) -> None:
    """Two engines on one folder stand for two workers: a write by one reaches the other."""
    hash_engine.ingest([_article("a", "Walruses live in the Arctic.")])
    other = Engine(hash_engine.settings, HashEmbedder())
    assert [d["doc_id"] for d in other.documents()] == ["a"]
    hash_engine.ingest([_article("b", "Otters hold hands.")])
    assert sorted(d["doc_id"] for d in other.documents()) == ["a", "b"]
    other.delete("a")
    assert [d["doc_id"] for d in hash_engine.documents()] == ["b"]


def test_adding_to_an_index_chunked_otherwise_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "index"
    first = _article("a", "Alpha beta gamma. Delta epsilon.")
    Engine(Settings(index_dir=root, chunk_tokens=40), HashEmbedder()).ingest([first])
    other = Engine(Settings(index_dir=root, chunk_tokens=60), HashEmbedder())
    with pytest.raises(IndexMismatchError, match="rebuild"):
        other.ingest([_article("b", "Otters hold hands while they sleep.")])
    assert other.ingest([first]).unchanged == ("a",)  # nothing to chunk: no conflict
    assert other.search("alpha", top_k=1)  # reading it is fine
    report = other.ingest([first, _article("b", "Otters hold hands.")], rebuild=True)
    assert report.added == ("a", "b")
    assert other.stats()["chunking"]["chunk_tokens"] == 60
