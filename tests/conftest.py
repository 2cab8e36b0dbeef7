"""Shared fixtures: the real model (loaded once per session) and a seed index."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.articles import load_paths
from rag.embedding import HashEmbedder, SentenceTransformerEmbedder
from rag.engine import Engine
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"
ALBANESE = "What did Albanese say about Japan?"


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory,
               embedder: SentenceTransformerEmbedder) -> Path:
    """An index built from seeds/ with the real model; copy it before changing it."""
    root = tmp_path_factory.mktemp("seed-index") / "index"
    Engine(Settings(index_dir=root), embedder).ingest(load_paths([SEEDS]).articles)
    return root


@pytest.fixture
def seed_engine(seed_index: Path, tmp_path: Path,
                embedder: SentenceTransformerEmbedder) -> Iterator[Engine]:
    """A private, writable copy of the seed index."""
    root = tmp_path / "index"
    shutil.copytree(seed_index, root)
    yield Engine(Settings(index_dir=root), embedder)


@pytest.fixture
def hash_engine(tmp_path: Path) -> Engine:
    """An engine over an empty index with the fast deterministic hash embedder."""
    return Engine(Settings(index_dir=tmp_path / "index"), HashEmbedder())
