"""A full disk during ingest: one clear error naming the path, nothing lost, nothing left over.

The index lives on a real small filesystem (a tmpfs mounted for the test, which needs root;
skipped with the reason otherwise), filled with a filler file to leave a chosen amount free.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag import runtime
from rag.cli import commands as cli
from rag.engine import Engine
from rag.errors import StorageFullError
from rag.models import Article
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings

DISK = "8m"  # room for an index of 80 articles and a merge of its 8 segments


def _articles(tag: str, n: int) -> list[Article]:
    """``n`` articles of 30 sentences (a segment of ~60 kB, ~140 kB in the catalog)."""
    return [
        Article(
            f"{tag}{i:03d}",
            f"Title {tag}{i}",
            " ".join(f"Sentence {j} of article {tag}{i} is about topic{i}." for j in range(30)),
        )
        for i in range(n)
    ]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[], Path]]:
    """Mounts fresh tmpfs filesystems of ``DISK`` under ``tmp_path`` (unmounted after)."""
    mounts: list[Path] = []

    def mount() -> Path:
        path = tmp_path / f"disk{len(mounts)}"
        path.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
        mounts.append(path)
        return path

    yield mount
    for path in mounts:  # lazily: a test's engine may still map files there
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(disk: Path, leave: int) -> Path:
    """A filler file taking all but ``leave`` bytes of ``disk``."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, shutil.disk_usage(disk).free - leave))
    return filler


def _engine(index: Path) -> Engine:
    return Engine(Settings(index_dir=index, entities=False), HashEmbedder())


def _stored(index: Path) -> set[str]:
    return {d["doc_id"] for d in _engine(index).documents()}


def _assert_no_leftovers(index: Path) -> None:
    """The segment folders are exactly the ones the catalog lists."""
    folders = sorted(p.name for p in (index / "segments").iterdir())
    assert len(folders) == _engine(index).stats()["counts"]["segments"], folders
    assert not (index / ".rebuild").exists()


@pytest.fixture(scope="module")
def seven_writes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of 70 articles in 7 segments: the next write merges 8 (copy it first)."""
    root = tmp_path_factory.mktemp("template") / "index"
    engine = _engine(root)
    for k in range(7):
        engine.ingest(_articles(f"w{k}-", 10))
    return root


def test_a_full_disk_at_any_point_of_a_write_loses_nothing(
    small_disk: Callable[[], Path], seven_writes: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Free space from none to more than the write and its merge need: the segment file, the
    catalog's COMMIT or the merge finds the disk full. Each write either stores its batch or
    is one StorageFullError naming the full path and the size; what was stored stays, and
    once there is room the next write leaves no leftovers."""
    before = _stored(seven_writes)
    failed_at: set[str] = set()
    merges_skipped = 0
    for leave in range(0, 450_000, 50_000):
        disk = small_disk()
        index = disk / "index"
        shutil.copytree(seven_writes, index)
        filler = _fill(disk, leave)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="rag.stores.local"):
            try:
                _engine(index).ingest(_articles("new", 10))
                expected = before | {a.doc_id for a in _articles("new", 10)}
            except StorageFullError as exc:
                assert str(index) in exc.message and "needed about" in exc.message
                failed_at.add(Path(exc.message.split("holding ")[1].split(" ")[0]).name)
                expected = before
        merges_skipped += any("not merged" in r.getMessage() for r in caplog.records)
        assert _stored(index) == expected, leave
        _assert_no_leftovers(index)  # a failed write or merge removed what it had written
        filler.unlink()
        _engine(index).ingest(_articles("after", 1))
        assert _stored(index) == expected | {"after000"}
        _assert_no_leftovers(index)
    assert failed_at == {"segments", "catalog.sqlite"}  # both places were hit
    assert merges_skipped  # and a merge, after its write had committed


def test_the_cli_says_which_disk_is_full_in_one_line(
    small_disk: Callable[[], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    index = small_disk() / "index"
    _engine(index).ingest(_articles("old", 3))
    folder = tmp_path / "news"
    folder.mkdir()
    for a in _articles("new", 5):
        (folder / f"{a.doc_id}.txt").write_text(f"{a.title}\n\n{a.text}")
    monkeypatch.setenv("RAG_INDEX_DIR", str(index))
    monkeypatch.setenv("RAG_ENTITIES", "false")
    monkeypatch.setattr(runtime, "load_embedder", lambda *a, **k: HashEmbedder())
    _fill(index.parent, 0)
    code = cli.main(["ingest", str(folder)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    [line] = [x for x in err.splitlines() if "error" in x]  # after the progress bar
    assert line.startswith("error: no space left on the disk holding " + str(index))
    assert "needed about" in line
    assert _stored(index) == {"old000", "old001", "old002"}


def test_the_api_answers_507_with_a_json_body(small_disk: Callable[[], Path]) -> None:
    from api import create_app

    engine = _engine(small_disk() / "index")
    engine.ingest(_articles("old", 3))
    with TestClient(create_app(engine.settings, engine)) as client:
        _fill(engine.root.parent, 0)
        article = {"id": "new", "title": "New", "text": _articles("x", 1)[0].text}
        response = client.post("/documents", json=[article])
    assert response.status_code == 507
    error = response.json()["error"]
    assert error["code"] == "storage_full" and str(engine.root) in error["message"]
    assert _stored(engine.root) == {"old000", "old001", "old002"}


def test_a_rebuild_that_fills_the_disk_leaves_the_old_index(
    small_disk: Callable[[], Path], seven_writes: Path
) -> None:
    """The rebuilt index is written aside, so a disk too small for both is an error while
    the old index answers on, and the rebuild's folder is removed at once."""
    disk = small_disk()
    index = disk / "index"
    shutil.copytree(seven_writes, index)
    before = _stored(index)
    filler = _fill(disk, 300_000)
    with pytest.raises(StorageFullError, match="needed about"):
        _engine(index).ingest(_articles("new", 30), rebuild=True)
    assert _stored(index) == before
    assert not (index / ".rebuild").exists()
    filler.unlink()
    report = _engine(index).ingest(_articles("new", 30), rebuild=True)
    assert len(report.added) == 30 and _stored(index) == {a.doc_id for a in _articles("new", 30)}
    _assert_no_leftovers(index)
