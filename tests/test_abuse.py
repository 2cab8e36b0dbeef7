"""Hostile and careless traffic: bad text, odd uploads, oversize chunked bodies, spoofed
client addresses, a full queue, contradictory settings. In-process with the hash embedder
(fast lane), except the tests marked ``server`` that run a real ``rag serve``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.admission import ClientGone, ComputeGate
from rag.articles.loading import article_from_record
from rag.cli import commands as cli
from rag.engine import Engine
from rag.errors import InputError, OverloadedError
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from tests.helpers import ALBANESE, SEEDS, free_port, stop_server

ARTICLE = {
    "id": "wombats",
    "title": "Wombat census",
    "text": "A census found 1,204 wombats in Tasmania, the ranger Jane Doyle said. "
    "Albanese said Japan is a natural candidate for the second pillar.",
}
SURROGATE = b'"Albanese \\ud800 Japan"'  # JSON text that decodes to a lone surrogate
JSON = {"content-type": "application/json"}


def _engine(tmp_path: Path, **overrides: Any) -> Engine:
    engine = Engine(Settings(index_dir=tmp_path / "index", **overrides), HashEmbedder())
    if not engine.has_index():
        engine.ingest([article_from_record(ARTICLE)])
    return engine


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    engine = _engine(tmp_path)
    with TestClient(create_app(engine.settings, engine)) as c:
        yield c


def _error(response, low: int = 400, high: int = 499) -> str:  # type: ignore[no-untyped-def]
    assert low <= response.status_code <= high, (response.status_code, response.text)
    return str(response.json()["error"]["message"])


def test_lone_surrogates_are_a_4xx_json_error(client: TestClient) -> None:
    for path in ("/ask", "/ask/stream"):
        body = b'{"question": ' + SURROGATE + b"}"
        assert "Unicode" in _error(client.post(path, content=body, headers=JSON))
        history = b'{"question": "x", "history": [{"question": ' + SURROGATE + b"}]}"
        _error(client.post(path, content=history, headers=JSON))
        key = b'{"question": "x", ' + SURROGATE + b": 1}"
        _error(client.post(path, content=key, headers=JSON))
    article = b'[{"id": "s", "text": ' + SURROGATE + b"}]"
    _error(client.post("/documents", content=article, headers=JSON))
    upload = ("files", ("s.json", b'{"id": "s", "text": ' + SURROGATE + b"}", "text/plain"))
    assert "Unicode" in _error(client.post("/documents", files=[upload]))
    # a query string cannot carry a surrogate: its UTF-8 bytes decode to U+FFFD
    assert client.get("/search?q=%ED%A0%80%20Japan").status_code == 200
    assert client.get("/documents").json()["total"] == 1  # nothing stored


BOUNDARY = "b0undary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def _multipart(*files: tuple[bytes, bytes]) -> bytes:
    """A multipart body with the file names exactly as given (httpx would escape them)."""
    parts = [
        b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="files"; '
        b'filename="' + name + b'"\r\nContent-Type: text/plain\r\n\r\n' + data + b"\r\n"
        for name, data in files
    ]
    return b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"


@pytest.mark.parametrize(
    "name",
    [
        b"a" * 296 + b".txt",
        "\u00e9".encode() * 150 + b".txt",
        b"..",
        b"a\x00b.txt",
        b"\x1b[31m.txt",
    ],
)
def test_long_or_odd_file_names_are_refused(client: TestClient, name: bytes) -> None:
    text = b"Walruses weigh up to 1,500 kg."
    response = client.post("/documents", content=_multipart((name, text)), headers=MULTIPART)
    _error(response)
    both = _multipart((name, text), (b"walrus.txt", text))
    body = client.post("/documents", content=both, headers=MULTIPART).json()
    assert body["added"] == ["walrus.txt"] and len(body["skipped"]) == 1


def _chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_chunked_bodies_over_the_limit_are_413(client: TestClient) -> None:
    big = json.dumps([{**ARTICLE, "id": f"a{i}"} for i in range(20_000)]).encode()
    assert len(big) > 1_000_000
    for path in ("/documents", "/ask"):
        response = client.post(path, content=_chunks(big), headers=JSON)
        assert (
            response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
        )
    multipart = _multipart((b"big.txt", b"wombat " * 1_000_000))
    response = client.post("/documents", content=_chunks(multipart), headers=MULTIPART)
    assert response.status_code == 413, response.text
    assert client.get("/documents").json()["total"] == 1  # nothing stored


def test_405_names_the_allowed_methods(client: TestClient) -> None:
    response = client.put("/documents")
    assert response.status_code == 405 and response.json()["error"]["code"]
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}
    assert "DELETE" in client.patch("/documents/x").headers["allow"]


def test_reads_needing_a_key_without_keys_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(index_dir=tmp_path / "index", require_key_for_reads=True)
    with pytest.raises(InputError, match="RAG_API_KEYS"):
        create_app(settings, Engine(settings, HashEmbedder()))
    monkeypatch.setenv("RAG_REQUIRE_KEY_FOR_READS", "true")
    monkeypatch.delenv("RAG_API_KEYS", raising=False)
    assert cli.main(["serve", "--index", str(tmp_path / "index"), "--port", "9"]) == 2
    err = capsys.readouterr().err
    assert "RAG_API_KEYS" in err and len(err.strip().splitlines()) == 1
    proxies = Settings(
        index_dir=tmp_path / "index",
        require_key_for_reads=False,
        trusted_proxies=["10.0.0.0/8", "nope"],
    )
    with pytest.raises(InputError, match="RAG_TRUSTED_PROXIES"):
        create_app(proxies, Engine(proxies, HashEmbedder()))


def test_metrics_follow_the_read_policy(tmp_path: Path) -> None:
    engine = _engine(tmp_path, api_keys=["k"], require_key_for_reads=True)
    with TestClient(create_app(engine.settings, engine)) as c:
        _error(c.get("/metrics"))
        ok = c.get("/metrics", headers={"Authorization": "Bearer k"})
        assert ok.status_code == 200 and "rag_http_requests_total" in ok.text


def test_rotating_forwarded_for_from_an_untrusted_peer_is_one_client(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rate_limit_per_minute=4)
    app = create_app(engine.settings, engine)
    with TestClient(app, client=("203.0.113.5", 5000)) as c:
        statuses = [
            c.post(
                "/ask",
                json={"question": "wombats?"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(2)
        ]
        statuses += [
            c.get(
                "/search", params={"q": "wombats"}, headers={"X-Forwarded-For": f"198.51.100.{i}"}
            ).status_code
            for i in range(2, 6)
        ]
        assert statuses == [200, 200, 200, 200, 429, 429]
        limited = c.post("/ask/stream", json={"question": "wombats?"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rate_limit_per_minute=1, trusted_proxies=["10.0.0.0/8"])
    app = create_app(engine.settings, engine)
    with TestClient(app, client=("10.1.2.3", 5000)) as proxy:
        for i in range(3):  # three clients behind the proxy: one request each
            forwarded = {"X-Forwarded-For": f"6.6.6.6, 198.51.100.{i}, 10.9.9.9"}
            assert proxy.get("/search", params={"q": "x"}, headers=forwarded).status_code == 200
        forwarded = {"X-Forwarded-For": "7.7.7.7, 198.51.100.0"}  # the left part is ignored
        assert proxy.get("/search", params={"q": "x"}, headers=forwarded).status_code == 429
        # a proxy's clients are not loopback, whatever the proxy's own address
        assert proxy.post("/documents", json=[ARTICLE], headers=forwarded).status_code == 403


def test_workers_of_one_host_share_one_budget(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rate_limit_per_minute=3)
    apps = [create_app(engine.settings, engine) for _ in range(3)]  # as three workers
    statuses = []
    for app in apps * 2:
        with TestClient(app, client=("203.0.113.7", 5000)) as c:
            statuses.append(c.get("/search", params={"q": "x"}).status_code)
    assert statuses == [200, 200, 200, 429, 429, 429]


class _Client:
    """What the gate reads from a request: whether its client is still there."""

    def __init__(self) -> None:
        self.gone = False

    async def is_disconnected(self) -> bool:
        return self.gone


def test_gate_bounds_the_queue_and_drops_clients_that_left() -> None:
    async def scenario() -> None:
        gate = ComputeGate(slots=1, max_waiting=2, deadline_s=5)
        first = await gate.acquire(_Client())  # type: ignore[arg-type]
        leaver, stayer = _Client(), _Client()
        waiting = [asyncio.create_task(gate.acquire(c)) for c in (leaver, stayer)]  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        with pytest.raises(OverloadedError) as full:
            await gate.acquire(_Client())  # type: ignore[arg-type]
        assert full.value.retry_after > 0
        leaver.gone = True
        with pytest.raises(ClientGone):
            await waiting[0]
        assert gate.waiting == 1
        first.release()
        first.release()  # a second release is a no-op
        second = await asyncio.wait_for(waiting[1], 1)
        assert gate.busy == 1 and gate.waiting == 0
        second.release()
        assert gate.busy == 0

    asyncio.run(scenario())


def test_gate_deadline_and_client_gone_at_the_front() -> None:
    async def scenario() -> None:
        gate = ComputeGate(slots=1, max_waiting=4, deadline_s=0.3)
        held = await gate.acquire(_Client())  # type: ignore[arg-type]
        with pytest.raises(OverloadedError, match="within"):
            await gate.acquire(_Client())  # type: ignore[arg-type]
        held.release()
        gone = _Client()
        gone.gone = True
        with pytest.raises(ClientGone):  # a free slot, but nobody to answer
            await gate.acquire(gone)  # type: ignore[arg-type]
        assert gate.busy == 0

    asyncio.run(scenario())


def test_a_full_queue_is_503_with_retry_after_at_once(tmp_path: Path) -> None:
    engine = _engine(tmp_path, max_concurrent_asks=1, max_queued_asks=0)
    app = create_app(engine.settings, engine)
    with TestClient(app) as c:
        slot = c.portal.call(app.state.gate.acquire, _Client())  # type: ignore[union-attr]
        response = c.post("/ask", json={"question": "wombats?"})
        assert response.status_code == 503 and response.headers["retry-after"]
        assert response.json()["error"]["code"] == "overloaded"
        slot.release()
        assert c.post("/ask", json={"question": "wombats?"}).status_code == 200
        stream = c.post("/ask/stream", json={"question": "wombats?"})
        assert stream.text.rstrip().split("\n\n")[-1].startswith("event: done")
        assert app.state.gate.busy == 0  # the stream gave its one slot back


@pytest.mark.server
@pytest.mark.model
def test_abandoned_asks_do_not_delay_the_next_one(live_server: str) -> None:
    """200 clients that give up after 1 s, then one that waits: answered within 2 s."""

    async def abandon() -> list[object]:
        limits = httpx.Limits(max_connections=250)
        async with httpx.AsyncClient(base_url=live_server, timeout=1.0, limits=limits) as c:

            async def one(i: int) -> object:
                try:
                    response = await c.post("/ask", json={"question": f"{ALBANESE} ({i})"})
                    return response.status_code
                except httpx.TimeoutException:
                    return "gave up"

            return list(await asyncio.gather(*(one(i) for i in range(200))))

    outcomes = asyncio.run(abandon())
    assert outcomes.count(200) <= 2 + 32 + 4  # slots + queue: the rest was refused or dropped
    started = time.perf_counter()
    answer = httpx.post(f"{live_server}/ask", json={"question": ALBANESE}, timeout=30)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200 and elapsed < 2.0, (answer.status_code, elapsed)


def _serve_workers(
    index_dir: Path, port: int, workers: int, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """`rag serve --workers N` on loopback, returned once every worker has started."""
    exe = Path(sys.executable).parent / "rag"
    log_path = index_dir.parent / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(port), "--workers", str(workers)],
            env={**os.environ, "RAG_INDEX_DIR": str(index_dir), "RAG_SEEDS_DIR": str(SEEDS), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        started = log_path.read_text("utf-8", "replace").count("Application startup complete")
        if started >= workers:
            return proc
        time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(
        f"rag serve --workers {workers} did not start: "
        f"{log_path.read_text('utf-8', 'replace')[-2000:]}"
    )


@pytest.mark.server
@pytest.mark.model
def test_rate_limit_holds_across_workers_and_spoofed_forwarded_for(tmp_path: Path) -> None:
    """10/min, 2 workers, a new connection and a new X-Forwarded-For per request, /ask and
    /search mixed: 10 pass, whichever worker takes them."""
    port = free_port()
    proc = _serve_workers(tmp_path / "index", port, 2, {"RAG_RATE_LIMIT_PER_MINUTE": "10"})
    try:

        def one(i: int) -> int:
            headers = {"X-Forwarded-For": f"198.51.100.{i}", "Connection": "close"}
            url = f"http://127.0.0.1:{port}"
            if i % 3 == 0:
                return httpx.post(
                    f"{url}/ask", json={"question": ALBANESE}, headers=headers, timeout=30
                ).status_code
            return httpx.get(
                f"{url}/search", params={"q": "Japan"}, headers=headers, timeout=30
            ).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(one, range(30)))
        refilled = int((time.monotonic() - started) / 6)  # the bucket gains one every 6 s
        passed = statuses.count(200)
        assert 10 <= passed <= 10 + refilled and statuses.count(429) == 30 - passed, statuses
    finally:
        stop_server(proc)
