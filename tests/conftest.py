"""Fixtures: the real model (loaded once per session), a seed index, engines, a live server.

Engines for the fast lane take the hash embedder through ``Engine``'s ``embedder`` argument
(the injection seam); fixtures that load the real model are only used by tests marked
``model``. Plain helpers live in ``tests/helpers.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import runtime
from rag.articles.loading import load_paths
from rag.cli import commands as cli
from rag.engine import Engine
from rag.runtime.embedding import HashEmbedder, SentenceTransformerEmbedder
from rag.settings import Settings
from tests.helpers import (  # noqa: F401  (re-exported for test modules not yet moved)
    ALBANESE,
    ROOT,
    SEEDS,
    SHARED_DATA,
    free_port,
    start_server,
    stop_server,
)

# Starlette's TestClient sends "Host: testserver"; like Django's test runner, the tests add that
# name to the allowed hosts (api.crosssite) instead of the server trusting it everywhere
os.environ.setdefault("RAG_ALLOWED_HOSTS", "testserver")


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seed_index(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    """An index built from seeds/ with the real model; copy it before changing it."""
    root = tmp_path_factory.mktemp("seed-index") / "index"
    Engine(Settings(index_dir=root), embedder).ingest(load_paths([SEEDS]).articles)
    return root


@pytest.fixture
def seed_engine(
    seed_index: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[Engine]:
    """A private, writable copy of the seed index."""
    root = tmp_path / "index"
    shutil.copytree(seed_index, root)
    yield Engine(Settings(index_dir=root), embedder)


@pytest.fixture
def hash_engine(tmp_path: Path) -> Engine:
    """An engine over an empty index with the fast deterministic hash embedder."""
    return Engine(Settings(index_dir=tmp_path / "index"), HashEmbedder())


@pytest.fixture
def hash_seed_engine(hash_engine: Engine) -> Engine:
    """The hash-embedder engine with seeds/ ingested (fast: no model)."""
    hash_engine.ingest(load_paths([SEEDS]).articles)
    return hash_engine


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `rag serve` on a free loopback port, building its index from seeds/."""
    index_dir = tmp_path_factory.mktemp("live") / "index"
    port = free_port()
    proc = start_server(index_dir, port, {"RAG_RATE_LIMIT_PER_MINUTE": "0"})
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture
def hash_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """`rag ...` in-process over a private index built with the hash embedder."""
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setattr(runtime, "load_embedder", lambda *a, **k: HashEmbedder())

    def _run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return _run
