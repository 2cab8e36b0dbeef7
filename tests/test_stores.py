"""Every store backend passes the conformance suite (tests/store_conformance.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.stores.local import LocalStore
from tests.pgserver import postgres_server, postgres_url  # noqa: F401
from tests.store_conformance import StoreConformance


class TestLocalStore(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[LocalStore]:
        s = LocalStore(tmp_path / "index")
        yield s
        s.close()


@pytest.mark.postgres
class TestPostgresStore(StoreConformance):
    @pytest.fixture
    def store(self, postgres_url: str) -> Iterator[object]:  # noqa: F811
        from rag.stores.postgres import PostgresStore

        s = PostgresStore(postgres_url)
        yield s
        s.close()


class TestLocalStoreWithApproximateSearch(StoreConformance):
    """The same behaviour when every segment carries its approximate (inverted-file) index."""

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStore]:
        from rag.stores import segment

        monkeypatch.setattr(segment, "ANN_MIN_ROWS", 4)
        s = LocalStore(tmp_path / "index")
        yield s
        s.close()


def test_a_catalog_from_before_story_groups_is_upgraded_in_place(tmp_path: Path) -> None:
    """The columns for entities and story groups are added; every article stays readable."""
    import sqlite3

    from tests.store_conformance import INFO, OTTER, WALRUS, groups, prepared, search

    store = LocalStore(tmp_path / "index")
    store.write(INFO, prepared(WALRUS))
    store.close()
    with sqlite3.connect(tmp_path / "index" / "catalog.sqlite") as con:  # the old layout
        con.executescript(
            "DROP INDEX articles_group; DROP TABLE bands; ALTER TABLE articles DROP COLUMN "
            "entities; ALTER TABLE articles DROP COLUMN group_id; "
            "ALTER TABLE articles DROP COLUMN minhash;"
        )
    store = LocalStore(tmp_path / "index")
    record = store.document("walrus")
    assert record is not None and record.text == WALRUS.text
    assert record.entities == () and record.group_id == "walrus"
    store.write(INFO, prepared(OTTER))
    assert search(store, "walrus clams")[0] == "walrus"
    assert groups(store, "walrus", "otter") == {"walrus": ["walrus"], "otter": ["otter"]}
    store.close()


@pytest.mark.postgres
def test_a_database_at_schema_1_is_migrated(postgres_url: str) -> None:  # noqa: F811
    import psycopg

    from rag.stores.postgres import PostgresStore
    from tests.store_conformance import INFO, OTTER, WALRUS, groups, prepared

    store = PostgresStore(postgres_url)
    store.write(INFO, prepared(WALRUS))
    store.close()
    with psycopg.connect(postgres_url, autocommit=True) as con:  # back to version 1
        con.execute(
            "DROP TABLE bands; ALTER TABLE articles DROP COLUMN entities, DROP COLUMN group_id, "
            "DROP COLUMN minhash; DELETE FROM rag_schema WHERE version = 2"
        )
    store = PostgresStore(postgres_url)
    record = store.document("walrus")
    assert record is not None and record.entities == () and record.group_id == "walrus"
    store.write(INFO, prepared(OTTER))
    assert groups(store, "walrus", "otter") == {"walrus": ["walrus"], "otter": ["otter"]}
    store.close()
