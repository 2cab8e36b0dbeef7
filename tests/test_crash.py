"""kill -9 at random moments of every kind of write, for both stores (the ``crash`` lane).

A writer process (tests/crash_writer.py) carries out a fixed plan of writes and reports each
one done; it is killed after a seeded random delay, or kills itself at a named point of the
store's work (``CRASH_AT``). Then, for every run:

- nothing lost, nothing resurrected: the store holds exactly the state after the
  acknowledged writes, or after those and the one in flight (a write is all or nothing; a
  rebuild leaves the old archive or the new one, never a part or nothing);
- the next write succeeds and leaves no leftovers (segment folders the catalog does not list,
  ``.tmp-*`` folders, ``.rebuild/``, the ``rag_rebuild`` schema);
- during a rebuild another process keeps answering from the old articles, and sees the new
  ones at its next question once the rebuild is done.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.engine import Engine
from rag.models import Article
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from rag.stores.local import LocalStore
from tests.crash_writer import plan, state_after
from tests.helpers import ROOT
from tests.pgserver import database_url, postgres_server  # noqa: F401

pytestmark = pytest.mark.crash

SEED = 35  # the kill delays and plans are the same on every run
WRITER = Path(__file__).with_name("crash_writer.py")
# how long after its first acknowledged write each plan runs (about; random kills land
# within it, and some after the writer has finished)
SPAN_S = {"ingest": 1.2, "merge": 1.5, "compact": 1.5, "delete": 0.8, "rebuild": 2.5}
PROBE = Article("probe", "Probe", "The probe article mentions zebrafish only.")


def _settings(where: str) -> Settings:
    if where.startswith("postgresql"):
        return Settings(database_url=where, entities=False, rerank=False)
    return Settings(index_dir=Path(where), entities=False, rerank=False)


def _engine(where: str) -> Engine:
    return Engine(_settings(where), HashEmbedder())


def _stored(engine: Engine) -> dict[str, str]:
    if not engine.has_index():
        return {}
    return {d["doc_id"]: d["content_hash"] for d in engine.documents()}


def _run_writer(
    where: str,
    op: str,
    seed: int,
    delay: float | None,
    point: str | None = None,
    observe: Callable[[], None] = lambda: None,
) -> tuple[int, int]:
    """Start the writer; after its first acknowledged write, observe (another process
    reading) until ``delay`` is over, then kill it (``delay`` None: let it run, or die at
    ``point``). Returns (writes acknowledged, exit status)."""
    variable = "RAG_DATABASE_URL" if where.startswith("postgresql") else "RAG_INDEX_DIR"
    env = {**os.environ, "PYTHONPATH": str(ROOT), variable: where, "CRASH_AT": point or ""}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), op, str(seed)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("ack"), f"the writer failed before its first write: {first!r}"
    if delay is not None:
        until = time.monotonic() + delay
        while time.monotonic() < until and proc.poll() is None:
            observe()
        proc.send_signal(signal.SIGKILL)
    out = proc.stdout.read()  # (communicate() would miss what readline() buffered)
    proc.wait(timeout=120)
    return 1 + sum(line.startswith("ack") for line in out.splitlines()), proc.returncode


def _check_after_crash(where: str, op: str, seed: int, acked: int) -> None:
    """The store holds the state after the acknowledged writes, or after the one in flight
    too; the next write succeeds, leaves no leftovers, and its article is found."""
    steps = plan(op, seed)
    allowed = [state_after(steps[:acked])]
    if acked < len(steps):
        allowed.append(state_after(steps[: acked + 1]))
    _wait_for_writer_to_be_gone(where)
    engine = _engine(where)
    stored = _stored(engine)
    assert stored in allowed, _difference(stored, allowed)
    engine.ingest([PROBE])  # the next writer
    assert _stored(engine) == {**stored, "probe": PROBE.content_hash}
    assert engine.search("zebrafish", top_k=1)[0].doc_id == "probe"
    _assert_no_leftovers(where)
    engine.store.close()


def _difference(stored: dict[str, str], allowed: list[dict[str, str]]) -> str:
    lines = []
    for state in allowed:
        lost = sorted(d for d in state if stored.get(d) != state[d])
        extra = sorted(d for d in stored if d not in state)
        lines.append(f"lost or stale {lost[:8]} ({len(lost)}), resurrected {extra[:8]}")
    return "; ".join(lines)


def _assert_no_leftovers(where: str) -> None:
    if where.startswith("postgresql"):
        import psycopg

        with psycopg.connect(where) as con:
            assert con.execute("SELECT to_regnamespace('rag_rebuild')").fetchone()[0] is None
        return
    root = Path(where)
    store = LocalStore(root)
    listed = {name for name, _ in store.catalog.segments()}
    store.close()
    assert {p.name for p in (root / "segments").iterdir()} == listed
    assert not (root / ".rebuild").exists()


def _wait_for_writer_to_be_gone(where: str) -> None:
    """PostgreSQL ends a killed client's session (releasing its locks) when it notices."""
    if not where.startswith("postgresql"):
        return
    import psycopg

    with psycopg.connect(where, autocommit=True) as con:
        for _ in range(100):
            others = con.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchone()[0]
            if not others:
                return
            time.sleep(0.05)
    raise AssertionError("the killed writer's session did not end")


@pytest.fixture
def local_index(tmp_path: Path) -> Iterator[Callable[[], str]]:
    numbers = iter(range(1000))
    yield lambda: str(tmp_path / f"index{next(numbers)}")


@pytest.fixture
def pg_database(postgres_server: str) -> Iterator[Callable[[], str]]:  # noqa: F811
    numbers = iter(range(1000))
    prefix = f"crash_{os.getpid()}_{time.monotonic_ns()}"
    yield lambda: database_url(postgres_server, f"{prefix}_{next(numbers)}")


def _random_kills(new_store: Callable[[], str], op: str, runs: int) -> None:
    rng = random.Random(f"{SEED}-{op}")
    for run in range(runs):
        where = new_store()
        seed = SEED + run
        acked, _ = _run_writer(where, op, seed, rng.uniform(0, SPAN_S[op]))
        _check_after_crash(where, op, seed, acked)


@pytest.mark.parametrize(
    ("op", "runs"), [("ingest", 3), ("merge", 3), ("compact", 3), ("delete", 2)]
)
def test_local_writes_killed_at_random_moments(
    local_index: Callable[[], str], op: str, runs: int
) -> None:
    _random_kills(local_index, op, runs)


@pytest.mark.parametrize(
    ("op", "point"),
    [
        ("merge", "merge-written"),
        ("merge", "merge-committed"),
        ("compact", "merge-written"),
        ("compact", "merge-committed"),
    ],
)
def test_local_merge_and_compact_killed_at_each_step(
    local_index: Callable[[], str], op: str, point: str
) -> None:
    """A merged folder written but not committed, or committed with the merged-away folders
    (and `rag compact`'s .tmp-seg-* folders) still on disk: the next writer removes them."""
    where = local_index()
    acked, status = _run_writer(where, op, SEED, None, point)
    assert status == -signal.SIGKILL  # the point was reached
    _check_after_crash(where, op, SEED, acked)


@pytest.mark.postgres
@pytest.mark.parametrize(("op", "runs"), [("ingest", 2), ("compact", 1), ("delete", 2)])
def test_postgres_writes_killed_at_random_moments(
    pg_database: Callable[[], str], op: str, runs: int
) -> None:
    _random_kills(pg_database, op, runs)


def _rebuild_killed(where: str, seed: int, delay: float | None, point: str | None) -> None:
    """Kill a rebuild while another process asks questions: it sees the old archive until
    the swap and the new one from its next question after it, never a part or nothing."""
    steps = plan("rebuild", seed)
    old, new = state_after(steps[:1]), state_after(steps)
    reader = _engine(where)
    seen: list[dict[str, str]] = []

    def observe() -> None:
        seen.append(_stored(reader))
        assert reader.search("topics000 report", top_k=3)

    acked, status = _run_writer(where, "rebuild", seed, delay, point, observe)
    if point is not None:
        assert status == -signal.SIGKILL
    assert all(state in (old, new) for state in seen)
    if acked == len(steps):
        assert _stored(reader) == new  # the reader's next question sees the new archive
    reader.store.close()
    _check_after_crash(where, "rebuild", seed, acked)


def test_local_rebuild_killed_at_random_moments(local_index: Callable[[], str]) -> None:
    rng = random.Random(f"{SEED}-rebuild")
    for run in range(5):
        _rebuild_killed(local_index(), SEED + run, rng.uniform(0, SPAN_S["rebuild"]), None)


@pytest.mark.parametrize("point", ["merge-written", "swap-half-moved", "swap-committed"])
def test_local_rebuild_killed_at_each_step_of_the_swap(
    local_index: Callable[[], str], point: str
) -> None:
    _rebuild_killed(local_index(), SEED, None, point)


@pytest.mark.postgres
def test_postgres_rebuild_killed_at_random_moments(pg_database: Callable[[], str]) -> None:
    rng = random.Random(f"{SEED}-pg-rebuild")
    for run in range(3):
        _rebuild_killed(pg_database(), SEED + run, rng.uniform(0, SPAN_S["rebuild"]), None)


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["pg-swap-uncommitted", "pg-swap-committed"])
def test_postgres_rebuild_killed_at_the_swap(pg_database: Callable[[], str], point: str) -> None:
    _rebuild_killed(pg_database(), SEED, None, point)
