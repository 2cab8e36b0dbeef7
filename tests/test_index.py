"""Ingest, replace, delete, and refusing damaged or mismatched indexes."""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.engine import Engine
from rag.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, NotFoundError
from rag.models import Article, Filters
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from rag.stores import lexical
from rag.stores.base import doc_of


def _article(doc_id: str, text: str) -> Article:
    return Article(doc_id=doc_id, title=doc_id, text=text)


def test_reingesting_the_same_article_is_a_no_op(hash_engine: Engine) -> None:
    article = _article("a", "Alpha beta gamma. Delta epsilon.")
    first = hash_engine.ingest([article])
    counts = hash_engine.stats()["counts"]
    second = hash_engine.ingest([article])
    assert first.added == ("a",) and second.unchanged == ("a",) and not second.added
    assert hash_engine.stats()["counts"] == counts  # nothing written


def test_changed_article_replaces_its_old_chunks(hash_engine: Engine) -> None:
    hash_engine.ingest(
        [
            _article("a", "The old text mentions walruses."),
            _article("b", "Another article about otters."),
        ]
    )
    report = hash_engine.ingest([_article("a", "The new text mentions penguins.")])
    assert report.replaced == ("a",)
    texts = " ".join(p.text for p in hash_engine.search("walruses penguins", top_k=10))
    assert "penguins" in texts and "walruses" not in texts
    assert hash_engine.stats()["counts"]["articles"] == 2


def test_delete_removes_the_article_everywhere(hash_engine: Engine) -> None:
    hash_engine.ingest(
        [
            _article("a", "Walruses live in the Arctic."),
            _article("b", "Otters hold hands while sleeping."),
        ]
    )
    hash_engine.delete("a")
    assert [d["doc_id"] for d in hash_engine.documents()] == ["b"]
    assert all(p.doc_id == "b" for p in hash_engine.search("walruses arctic", top_k=10))
    with pytest.raises(NotFoundError):
        hash_engine.document("a")
    with pytest.raises(NotFoundError):
        hash_engine.delete("a")
    reopened = Engine(hash_engine.settings, HashEmbedder())
    counts = reopened.stats()["counts"]
    assert (counts["articles"], counts["chunks"], counts["sentences"]) == (1, 1, 1)


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    engine = Engine(Settings(index_dir=tmp_path / "none"), HashEmbedder())
    with pytest.raises(IndexMissingError, match="rag ingest"):
        engine.ask("anything?")


def test_damaged_index_is_refused_with_the_fix(hash_engine: Engine) -> None:
    hash_engine.ingest([_article("a", "Some text about walruses.")])
    [vectors] = (hash_engine.root / "segments").glob("seg-*/vectors.npy")
    vectors.write_bytes(vectors.read_bytes()[:50])
    with pytest.raises(IndexCorruptError, match="rebuild"):
        Engine(hash_engine.settings, HashEmbedder()).ask("walruses?")


def test_a_damaged_catalog_is_refused_then_rebuilt(hash_engine: Engine) -> None:
    hash_engine.ingest([_article("a", "Some text about walruses.")])
    (hash_engine.root / "catalog.sqlite").write_bytes(b"not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (hash_engine.root / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    engine = Engine(hash_engine.settings, HashEmbedder())
    with pytest.raises(IndexCorruptError, match="rag ingest --rebuild"):
        engine.stats()
    engine = Engine(hash_engine.settings, HashEmbedder())
    assert engine.ingest([_article("b", "Otters.")], rebuild=True).added == ("b",)
    assert [d["doc_id"] for d in engine.documents()] == ["b"]


def test_an_index_of_the_old_layout_is_refused_then_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "index"
    (root / "gen-000001").mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"format_version": 1}))
    engine = Engine(Settings(index_dir=root), HashEmbedder())
    with pytest.raises(IndexCorruptError, match="rag ingest --rebuild"):
        engine.ask("text?")
    engine = Engine(Settings(index_dir=root), HashEmbedder())
    assert engine.ingest([_article("a", "Some text.")], rebuild=True).added == ("a",)
    assert not (root / "manifest.json").exists() and not (root / "gen-000001").exists()


def test_index_from_another_model_is_refused(hash_engine: Engine) -> None:
    hash_engine.ingest([_article("a", "Some text.")])
    other = Engine(hash_engine.settings, HashEmbedder(dimension=32))
    with pytest.raises(IndexCorruptError, match="dimension 64.*dimension 32"):
        other.search("text")
    with pytest.raises(IndexCorruptError):
        other.ingest([_article("b", "More text.")])


def test_crash_while_saving_leaves_the_previous_index(
    hash_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hash_engine.ingest([_article("a", "Walruses live in the Arctic.")])

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lexical, "save", crash)
    with pytest.raises(OSError):
        hash_engine.ingest([_article("b", "Otters hold hands.")])
    monkeypatch.undo()
    reopened = Engine(hash_engine.settings, HashEmbedder())
    assert [d["doc_id"] for d in reopened.documents()] == ["a"]
    reopened.ingest([_article("c", "Penguins waddle.")])
    folders = sorted(p.name for p in (hash_engine.root / "segments").iterdir())
    assert len(folders) == reopened.stats()["counts"]["segments"]  # the crash left nothing


def test_rebuild_starts_fresh(hash_engine: Engine) -> None:
    hash_engine.ingest([_article("a", "Walruses.")])
    hash_engine.ingest([_article("b", "Otters.")], rebuild=True)
    assert [d["doc_id"] for d in hash_engine.documents()] == ["b"]


def test_rebuild_into_a_directory_that_does_not_exist_yet(hash_engine: Engine) -> None:
    assert not hash_engine.root.exists()
    hash_engine.ingest([_article("a", "Walruses.")], rebuild=True)
    assert [d["doc_id"] for d in hash_engine.documents()] == ["a"]


_words = st.sampled_from(
    [
        "Japan",
        "said",
        "the",
        "U.S.",
        "pillar",
        '"quoted',
        'words."',
        "minister",
        "Mr.",
        "end.",
        "why?",
        "yes!",
        "\n",
        "\n\n",
        "  ",
        "über",
    ]
)


@given(st.lists(st.lists(_words, min_size=1, max_size=300).map(" ".join), min_size=1, max_size=3))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_chunk_sentence_and_citation_offset_is_exact(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str]
) -> None:
    root = tmp_path_factory.mktemp("prop") / "index"
    engine = Engine(
        Settings(index_dir=root, chunk_tokens=40, chunk_overlap_tokens=8, abstain_threshold=0.0),
        HashEmbedder(),
    )
    articles = [_article(f"d{i}", t) for i, t in enumerate(texts) if t.strip()]
    if not articles:
        return
    engine.ingest(articles)
    data = engine.snapshot()
    by_id = {a.doc_id: a for a in articles}
    handles, _ = data.dense_search(HashEmbedder().embed(["Japan"])[0], 10_000, Filters())
    assert len(handles) == engine.stats()["counts"]["chunks"]
    data.load(int(h) for h in handles)
    for h in handles:
        article = data.article(doc_of(int(h)))
        assert article.text == by_id[article.doc_id].text
        assert data.chunk_text(int(h)).strip() == data.chunk_text(int(h))
        for s in data.chunk_sentences(int(h)):
            start, end = data.sentence_span(s)
            assert end > start and data.sentence_text(s) == article.text[start:end]
    answer = engine.ask("Which pillar did Japan join?")
    # threshold 0: abstains only when no retrieved passage has a quotable sentence (a lone
    # short line reads as a headline, which is never quoted) or the article lacks "Japan"
    assert answer.citations or answer.reason in ("no_relevant_passage", "entity_not_found")
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


def test_small_writes_merge_so_segments_stay_few(hash_engine: Engine) -> None:
    for i in range(20):
        hash_engine.ingest([_article(f"d{i:02d}", f"Article {i} is about topic{i}.")])
    counts = hash_engine.stats()["counts"]
    assert counts["articles"] == 20 and counts["segments"] < 8
    assert [p.doc_id for p in hash_engine.search("topic13", top_k=1)] == ["d13"]
    hash_engine.delete("d13")
    hash_engine.compact()
    assert hash_engine.stats()["counts"]["segments"] == 1
    assert all(p.doc_id != "d13" for p in hash_engine.search("topic13", top_k=20))


_WRITER = """
import sys
from pathlib import Path
from rag.runtime.embedding import HashEmbedder
from rag.engine import Engine
from rag.models import Article
from rag.settings import Settings
engine = Engine(Settings(index_dir=Path(sys.argv[1])), HashEmbedder())
for i in range(10_000):
    engine.ingest([Article(f"k{i:05d}", "t", f"Article {i} is about subject{i}.")])
    print(f"k{i:05d}", flush=True)
"""


def test_kill_9_at_any_moment_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    """A writer killed mid-write: every article it reported done is there, nothing piles up."""
    import os
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "index"
    acknowledged: list[str] = []
    for delay in (0.05, 0.3, 0.7):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        acknowledged.append(proc.stdout.readline().strip())  # writing has begun
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        acknowledged += out.split()
    engine = Engine(Settings(index_dir=root), HashEmbedder())
    stored = {d["doc_id"] for d in engine.documents()}
    assert acknowledged and set(acknowledged) <= stored
    engine.ingest([_article("last", "One more article.")])  # the next writer cleans up
    folders = [p.name for p in (root / "segments").iterdir()]
    assert len(folders) == engine.stats()["counts"]["segments"]
