"""A damaged index is one clear error naming the file and the fix, never a traceback or a
quietly different answer: every segment file is checked against the checksum written with it,
the catalog against SQLite's own structural check."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api import create_app
from rag import runtime
from rag.articles.loading import load_paths
from rag.cli import commands as cli
from rag.engine import Engine
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from rag.stores import segment
from rag.stores.catalog import CATALOG
from tests.helpers import ALBANESE, SEEDS

SEGMENT_FILES = (
    "meta.json",
    "articles.npy",
    "chunks.npy",
    "sentences.npy",
    "vectors.npy",
    "sentence_vectors.npy",
    "lex_vocab.json",
    "lex_indptr.npy",
    "lex_docs.npy",
    "lex_tf.npy",
    "lex_lengths.npy",
    "ann.faiss",
)
NPY_HEADER = 128  # bytes before a .npy file's data: flips at or after it change numbers only


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path: Path) -> None:
    """Invert 64 bytes in the middle of the file's data (its size stays the same); in the
    SQLite catalog, at the start of its middle page (the page's header: text changed inside a
    valid page is beyond what a structural check can see)."""
    data = bytearray(path.read_bytes())
    start = max(NPY_HEADER, len(data) // 2 - 32) if path.suffix == ".npy" else len(data) // 2
    if data.startswith(b"SQLite format 3\x00"):
        page = int.from_bytes(data[16:18], "big")
        start = max(1, len(data) // 2 // page) * page
    start = min(start, len(data) - 64)
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of seeds/ (hash embedder) whose segment has every kind of file, ann.faiss
    included (built here for a few rows instead of ``ANN_MIN_ROWS``)."""
    root = tmp_path_factory.mktemp("built") / "index"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(segment, "ANN_MIN_ROWS", 1)
        engine = Engine(Settings(index_dir=root, rerank=False), HashEmbedder())
        engine.ingest(load_paths([SEEDS]).articles)
        engine.store.close()  # the last connection: SQLite moves the WAL into the catalog
    assert not (root / f"{CATALOG}-wal").exists()
    return root


@pytest.fixture
def index(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "index"
    shutil.copytree(built, root)
    return root


@pytest.fixture
def rag(
    index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """`rag ...` in-process over ``index`` (hash embedder, no reranker)."""
    monkeypatch.setenv("RAG_INDEX_DIR", str(index))
    monkeypatch.setenv("RAG_RERANK", "false")
    monkeypatch.setattr(runtime, "load_embedder", lambda *a, **k: HashEmbedder())

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def seg_file(index: Path, name: str) -> Path:
    [folder] = (index / "segments").glob("seg-*")
    return folder / name


def test_the_built_segment_has_every_kind_of_file(built: Path) -> None:
    assert sorted(p.name for p in seg_file(built, "").iterdir()) == sorted(SEGMENT_FILES)


@pytest.mark.parametrize("damage", [truncate, flip], ids=["truncated", "flipped"])
@pytest.mark.parametrize("name", SEGMENT_FILES)
def test_a_damaged_segment_file_is_one_line_naming_it(
    rag: Callable[..., tuple[int, str, str]],
    index: Path,
    name: str,
    damage: Callable[[Path], None],
) -> None:
    assert rag("ask", ALBANESE)[0] == 0
    damage(seg_file(index, name))
    code, out, err = rag("ask", ALBANESE)
    assert code == 1 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("error: ") and name in line and "rag ingest --rebuild" in line


def test_flipped_vector_bytes_are_found_not_answered_from(
    rag: Callable[..., tuple[int, str, str]], index: Path
) -> None:
    """64 flipped bytes inside vectors.npy's numbers leave a valid array: only the checksum
    can tell (before it, they changed the answers quietly)."""
    path = seg_file(index, "vectors.npy")
    shape = np.load(path).shape
    flip(path)
    assert np.load(path).shape == shape  # numpy reads the damaged file without complaint
    code, _, err = rag("ask", ALBANESE)
    assert code == 1 and "vectors.npy differs from the checksum" in err


def test_a_segment_without_checksums_still_opens(
    rag: Callable[..., tuple[int, str, str]], index: Path
) -> None:
    """Indexes written before checksums existed open as before (unverified)."""
    code, before, _ = rag("ask", ALBANESE)
    path = seg_file(index, "meta.json")
    meta = json.loads(path.read_text())
    for key in ("files", "meta_digest", "checksum"):
        del meta[key]
    path.write_text(json.dumps(meta))
    assert rag("ask", ALBANESE) == (0, before, "")


@pytest.mark.parametrize("damage", [truncate, flip], ids=["truncated", "flipped"])
def test_a_damaged_catalog_is_one_line_then_rebuilt(
    rag: Callable[..., tuple[int, str, str]], index: Path, damage: Callable[[Path], None]
) -> None:
    damage(index / CATALOG)
    code, out, err = rag("ask", ALBANESE)
    assert code == 1 and out == ""
    [line] = err.strip().splitlines()
    assert CATALOG in line and "damaged" in line and "rag ingest --rebuild" in line
    assert rag("ingest", "--rebuild", str(SEEDS))[0] == 0
    assert rag("ask", ALBANESE)[0] == 0


@pytest.mark.parametrize("where", ["segment", "catalog"])
def test_the_server_answers_503_naming_the_problem(index: Path, where: str) -> None:
    flip(seg_file(index, "vectors.npy") if where == "segment" else index / CATALOG)
    settings = Settings(index_dir=index, rerank=False, rate_limit_per_minute=0)
    with TestClient(create_app(settings, Engine(settings, HashEmbedder()))) as client:
        for response in (
            client.post("/ask", json={"question": ALBANESE}),
            client.get("/search", params={"q": "prime minister"}),
            client.get("/ready"),
        ):
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["code"] == "index_invalid"
            assert ("vectors.npy" if where == "segment" else CATALOG) in error["message"]
