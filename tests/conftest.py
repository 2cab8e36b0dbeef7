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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(index_dir: Path, port: int, extra_env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """`rag serve` as a real subprocess on a loopback port; returns the process when ready."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    exe = Path(sys.executable).parent / "rag"
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "RAG_SEEDS_DIR": str(SEEDS),
           **(extra_env or {})}
    # the server's log goes to a file: an unread pipe fills up and blocks the server
    log_path = index_dir.parent / f"serve-{port}.log"
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = log_path.read_text("utf-8", errors="replace")
            raise RuntimeError(f"rag serve exited with {proc.returncode}: {out[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("rag serve did not become ready in time")


def stop_server(proc) -> None:  # type: ignore[no-untyped-def]
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except Exception:  # noqa: BLE001
        proc.kill()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `rag serve` on a free loopback port, building its index from seeds/."""
    index_dir = tmp_path_factory.mktemp("live") / "index"
    port = free_port()
    proc = start_server(index_dir, port, {"RAG_RATE_LIMIT_PER_MINUTE": "0"})
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)
