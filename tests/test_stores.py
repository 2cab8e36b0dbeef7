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
