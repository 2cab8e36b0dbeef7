"""The PostgreSQL reader's transaction: held for one question, given back when it ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from rag.engine import Engine
from rag.models import NO_FILTERS, Article
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from rag.stores.postgres import POOL_MAX, PostgresStore
from rag.stores.view import View
from tests.pgserver import postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.postgres


def in_use(store: PostgresStore) -> int:
    stats = store.pool.get_stats()
    return int(stats["pool_size"]) - int(stats["pool_available"])


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:  # noqa: F811
    engine = Engine(Settings(database_url=postgres_url, rerank=False), HashEmbedder())
    engine.ingest([Article("w", "Walruses", "Walruses live in the Arctic. They eat clams.")])
    yield engine
    engine.store.close()


def test_an_answered_question_holds_no_connection(engine: Engine) -> None:
    """More questions than the pool has connections, with the garbage collector off: each
    question's transaction ends as it returns (nothing waits for a collection)."""
    store = engine.store
    assert isinstance(store, PostgresStore)
    gc.disable()
    try:
        for _ in range(2 * POOL_MAX):
            answer = engine.ask("Where do walruses live?")
            assert answer.citations[0].doc_id == "w"
            assert in_use(store) == 0
    finally:
        gc.enable()


def test_a_reader_lost_in_a_cycle_gives_its_connection_back_when_the_pool_runs_dry(
    engine: Engine,
) -> None:
    store = engine.store
    assert isinstance(store, PostgresStore)
    gc.disable()
    try:
        for _ in range(POOL_MAX):
            view = View(store.reader())
            view.dense_search(engine.embedder.embed(["walruses"])[0], 3, NO_FILTERS)
            view.cycle = view  # type: ignore[attr-defined]  # only a collection frees it
        del view
        assert in_use(store) == POOL_MAX
        assert engine.ask("What do walruses eat?").citations[0].doc_id == "w"
        assert in_use(store) == 0
    finally:
        gc.enable()


def test_a_closed_reader_is_not_used_again(engine: Engine) -> None:
    store = engine.store
    assert isinstance(store, PostgresStore)
    reader = store.reader()
    assert reader.chunk_count() >= 1 and in_use(store) == 1
    reader.close()
    assert in_use(store) == 0
    with pytest.raises(RuntimeError, match="closed"):
        reader.term_stats(["walru"])
