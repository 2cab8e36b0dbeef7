"""The PostgreSQL backend end to end: shared by servers and ingest processes, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from rag.engine import Engine
from rag.errors import StoreUnavailableError
from rag.models import Article
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from rag.stores.postgres import PostgresStore
from tests.helpers import ALBANESE, free_port, start_server, stop_server
from tests.pgserver import postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.postgres
RAG = str(Path(sys.executable).parent / "rag")


def _rag(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RAG, *args], capture_output=True, text=True, timeout=timeout)


def test_an_unreachable_database_is_one_line_naming_the_setting() -> None:
    result = _rag("stats", "--database-url", "postgresql://rag:secret@127.0.0.1:1/none")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "RAG_DATABASE_URL" in line and "secret" not in line


def test_a_schema_from_a_newer_version_is_refused(postgres_url: str) -> None:  # noqa: F811
    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("INSERT INTO rag_schema VALUES (99)")
    with pytest.raises(StoreUnavailableError, match="version 99.*upgrade rag"):
        PostgresStore(postgres_url)


def test_the_engine_answers_from_postgres(postgres_url: str) -> None:  # noqa: F811
    engine = Engine(Settings(database_url=postgres_url, rerank=False), HashEmbedder())
    text = "Walruses live in the Arctic. They eat clams."
    engine.ingest([Article("w", "Walruses", text)])
    assert engine.stats()["backend"] == "postgres"
    answer = engine.ask("Where do walruses live?")
    assert not answer.abstained
    assert [(c.doc_id, c.quote) for c in answer.citations] == [
        ("w", "Walruses live in the Arctic.")
    ]
    assert text[answer.citations[0].start : answer.citations[0].end] == answer.citations[0].quote
    engine.delete("w")
    assert engine.documents() == []


@pytest.mark.model
def test_two_ingest_processes_write_at_once_and_lose_nothing(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    folders = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(6):
            (folder / f"{name}{i}.txt").write_text(
                f"Report {name}{i}\n\nThe committee of {name}{i} met on Monday. "
                f"It approved plan {name}{i} for the harbour.",
                "utf-8",
            )
        folders.append(folder)
    procs = [
        subprocess.Popen(
            [RAG, "ingest", str(f), "--database-url", postgres_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in folders
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    docs = Engine(Settings(database_url=postgres_url), HashEmbedder()).documents()
    assert sorted(d["doc_id"] for d in docs) == sorted(
        f"{n}{i}.txt" for n in "ab" for i in range(6)
    )


@pytest.mark.model
@pytest.mark.server
def test_two_servers_share_one_database(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    env = {"RAG_DATABASE_URL": postgres_url, "RAG_RATE_LIMIT_PER_MINUTE": "0"}
    ports = [free_port(), free_port()]
    servers = [
        start_server(tmp_path / f"s{i}" / "index", port, env) for i, port in enumerate(ports)
    ]
    try:
        first, second = (f"http://127.0.0.1:{p}" for p in ports)
        seeded = httpx.post(f"{second}/ask", json={"question": ALBANESE}, timeout=60).json()
        assert "natural candidate" in seeded["answer"]  # seeds/ went into the database once
        article = {
            "id": "harbour",
            "title": "Hobart council approves harbour bridge",
            "text": "The Hobart council approved a new harbour bridge on Monday. "
            "The bridge will cost 40 million dollars and open in 2027.",
        }
        assert httpx.post(f"{first}/documents", json=[article], timeout=60).status_code == 200
        answer = httpx.post(
            f"{second}/ask", json={"question": "How much will the harbour bridge cost?"}, timeout=60
        ).json()
        assert "40 million dollars" in answer["answer"]
        assert answer["citations"][0]["doc_id"] == "harbour"
    finally:
        for s in servers:
            stop_server(s)


def test_a_read_only_replica_answers(postgres_url: str) -> None:  # noqa: F811
    """A host pointed at a read-only database (as a streaming replica is) serves reads."""
    Engine(Settings(database_url=postgres_url), HashEmbedder()).ingest(
        [Article("w", "Walruses", "Walruses live in the Arctic. They eat clams.")]
    )
    read_only = postgres_url + "&options=-c%20default_transaction_read_only%3Don"
    engine = Engine(Settings(database_url=read_only, rerank=False), HashEmbedder())
    assert [d["doc_id"] for d in engine.documents()] == ["w"]
    assert engine.search("walruses arctic")[0].doc_id == "w"
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        engine.delete("w")


def test_a_database_without_pgvector_is_refused_naming_the_fix(postgres_server: str) -> None:  # noqa: F811
    """A role that may not create the extension meets a database without it."""
    with psycopg.connect(postgres_server, autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS novector")
        con.execute("DROP ROLE IF EXISTS plain")
        con.execute("CREATE ROLE plain LOGIN NOSUPERUSER")
        con.execute("CREATE DATABASE novector OWNER plain")
    url = postgres_server.replace("postgres:@/postgres?", "plain:@/novector?", 1)
    with pytest.raises(StoreUnavailableError, match="CREATE EXTENSION vector"):
        PostgresStore(url)


def test_stores_opening_a_new_database_at_once_all_open(postgres_server: str) -> None:  # noqa: F811
    """Processes starting together on an empty database create pgvector and the schema once."""
    import threading

    from tests.pgserver import database_url

    url = database_url(postgres_server, "opened_at_once")
    failures: list[BaseException] = []

    def open_store() -> None:
        try:
            PostgresStore(url).close()
        except BaseException as exc:  # noqa: BLE001 - any failure is the finding
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
