"""The HTTP API through create_app, with httpx's test client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import create_app
from rag.engine import Engine
from tests.helpers import ALBANESE, SEED_ARTICLES

pytestmark = pytest.mark.model  # the seed engine runs the real model

NEW_ARTICLE = {
    "id": "penguins-1",
    "title": "Penguins in Sydney",
    "text": "Rangers counted 42 little penguins at Manly beach on Monday, the "
    "environment minister said.",
    "date": "2024-04-10",
    "source": "wire",
}


def _client(engine: Engine, **overrides: object) -> TestClient:
    settings = engine.settings.model_copy(update=overrides)
    engine.settings = settings
    return TestClient(create_app(settings, engine))


@pytest.fixture
def client(seed_engine: Engine) -> Iterator[TestClient]:
    with _client(seed_engine) as c:
        yield c


def _error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"code", "message"}
    return str(body["error"]["message"])


def test_ask_returns_the_answer_object_with_exact_citations(client: TestClient) -> None:
    body = client.post("/ask", json={"question": ALBANESE}).json()
    assert not body["abstained"] and "natural candidate" in body["citations"][0]["quote"]
    doc = client.get(f"/documents/{body['citations'][0]['doc_id']}").json()
    c = body["citations"][0]
    assert doc["text"][c["start"] : c["end"]] == c["quote"]


def test_ask_matches_the_library_answer(client: TestClient, seed_engine: Engine) -> None:
    http = client.post("/ask", json={"question": ALBANESE}).json()
    lib = seed_engine.ask(ALBANESE).to_dict()
    assert http["answer"] == lib["answer"] and http["citations"] == lib["citations"]


def test_follow_up_is_resolved_through_history(client: TestClient) -> None:
    history = [{"question": ALBANESE, "answer": "..."}]
    body = client.post(
        "/ask", json={"question": "And what did Kihara say?", "history": history}
    ).json()
    assert body["resolved_question"] == "What did Kihara say about Japan?"
    assert "Kihara" in body["citations"][0]["quote"]
    body = client.post("/ask", json={"question": "What about Canada?", "history": history}).json()
    assert body["resolved_question"] == "What did Albanese say about Canada?"


def test_stream_events_come_in_order(client: TestClient) -> None:
    response = client.post("/ask/stream", json={"question": ALBANESE})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n", 1) for block in response.text.strip().split("\n\n")]
    names = [e[0].removeprefix("event: ") for e in events]
    assert names[0] == "retrieval" and names[-1] == "done"
    assert names[1:-1] and set(names[1:-1]) == {"quote"}
    done = json.loads(events[-1][1].removeprefix("data: "))
    first_quote = json.loads(events[1][1].removeprefix("data: "))
    assert first_quote == done["citations"][0]


def test_stream_bad_input_is_a_plain_4xx(client: TestClient) -> None:
    _error(client.post("/ask/stream", json={"question": " "}), 422)


def test_search_with_filters(client: TestClient) -> None:
    body = client.get("/search", params={"q": "second pillar", "top_k": 2}).json()
    assert len(body["passages"]) == 2
    body = client.get("/search", params={"q": "second pillar", "source": "nope"}).json()
    assert body["passages"] == []
    _error(client.get("/search", params={"q": "x", "date_from": "last week"}), 422)


@pytest.mark.parametrize(
    ("payload", "status", "needle"),
    [
        ({"question": ""}, 422, "empty"),
        ({"question": "x" * 1001}, 413, "limit"),
        ({"question": "x", "top_k": 0}, 422, "top_k"),
        ({"question": "x", "top_k": 51}, 422, "top_k"),
        ({"question": "x", "filters": {"date_to": "soon"}}, 422, "ISO 8601"),
        ({"question": "x", "unknown": 1}, 422, "unknown"),
        ({}, 422, "question"),
    ],
)
def test_ask_bad_input(
    client: TestClient, payload: dict[str, object], status: int, needle: str
) -> None:
    assert needle in _error(client.post("/ask", json=payload), status)


def test_malformed_and_oversized_bodies(client: TestClient) -> None:
    _error(client.post("/ask", content=b"{nope", headers={"content-type": "application/json"}), 422)
    _error(
        client.post("/ask", content=b"x" * 2_000_000, headers={"content-type": "application/json"}),
        413,
    )


def test_documents_lifecycle_and_pagination(client: TestClient) -> None:
    added = client.post("/documents", json=[NEW_ARTICLE]).json()
    assert added["added"] == ["penguins-1"]
    again = client.post("/documents", json=[NEW_ARTICLE]).json()
    assert again["unchanged"] == ["penguins-1"] and not again["added"]
    changed = client.post("/documents", json=[{**NEW_ARTICLE, "text": "Now 50 penguins."}]).json()
    assert changed["replaced"] == ["penguins-1"]
    first = client.get("/documents", params={"limit": 1}).json()
    assert first["total"] == SEED_ARTICLES + 1 and len(first["documents"]) == 1
    ids, page = [], first
    while True:  # one article a page, each once, until the last page has no cursor
        ids += [d["doc_id"] for d in page["documents"]]
        if page["next_cursor"] is None:
            break
        page = client.get("/documents", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert len(ids) == len(set(ids)) == SEED_ARTICLES + 1
    assert {"penguins-1", "000_a842a3da874e1a7d.txt"} <= set(ids)
    assert client.delete("/documents/penguins-1").json() == {"deleted": "penguins-1"}
    _error(client.get("/documents/penguins-1"), 404)
    _error(client.delete("/documents/penguins-1"), 404)
    _error(client.get("/documents", params={"cursor": "%%%"}), 422)


def test_upload_files_skips_unusable_ones(client: TestClient) -> None:
    files = [
        ("files", ("walrus.txt", b"Walruses weigh up to 1,500 kg.", "text/plain")),
        ("files", ("blob.txt", b"\x00\x01" * 50, "text/plain")),
        ("files", ("x.exe", b"MZ", "application/octet-stream")),
    ]
    body = client.post("/documents", files=files).json()
    assert body["added"] == ["walrus.txt"] and len(body["skipped"]) == 2
    assert "x.exe: unsupported file type" in body["skipped"]
    assert any(reason.startswith("blob.txt: ") for reason in body["skipped"])
    _error(client.post("/documents", files=[("files", ("b.txt", b"\x00" * 9, "text/plain"))]), 422)


def test_an_uploaded_feed_file_names_its_bad_records_by_the_file(client: TestClient) -> None:
    """A JSON Lines upload is read like a file on disk: good records go in, a bad one is
    skipped with a reason that names the uploaded file (not where the server kept it)."""
    lines = b'{"id": "seal-1", "title": "Seals", "text": "Seals sleep in water."}\n{"id": "x"}\n'
    body = client.post("/documents", files=[("files", ("wire.jsonl", lines, "text/plain"))]).json()
    assert body["added"] == ["seal-1"]
    [reason] = body["skipped"]
    assert reason.startswith("wire.jsonl") and "/tmp" not in reason


@pytest.mark.parametrize(
    "payload",
    [
        [],
        [{"id": "a"}],
        [{"id": "a", "text": ""}],
        {"x": 1},
        [{"id": "a", "text": "t", "date": "someday"}],
        [1],
    ],
)
def test_bad_article_json_is_refused(client: TestClient, payload: object) -> None:
    _error(client.post("/documents", json=payload), 422)
    assert client.get("/documents").json()["total"] == SEED_ARTICLES  # nothing lost


def test_json_nested_too_deeply_is_refused(client: TestClient) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    headers = {"content-type": "application/json"}
    assert "not valid JSON" in _error(client.post("/documents", content=deep, headers=headers), 422)
    assert client.get("/documents").json()["total"] == SEED_ARTICLES  # nothing lost
    response = client.post("/ask", content=deep, headers=headers)
    assert 400 <= response.status_code < 500 and "error" in response.json()


def test_adding_to_an_index_chunked_otherwise_is_a_conflict(hash_engine: Engine) -> None:
    with _client(hash_engine) as c:
        assert c.post("/documents", json=[NEW_ARTICLE]).status_code == 200
    with _client(hash_engine, chunk_tokens=60) as c:
        message = _error(c.post("/documents", json=[{**NEW_ARTICLE, "id": "other"}]), 409)
        assert "rebuild" in message
        assert c.get("/documents").json()["total"] == 1  # nothing lost


def test_writes_need_a_key_when_keys_are_configured(seed_engine: Engine) -> None:
    with _client(seed_engine, api_keys=["s3cret"]) as c:
        _error(c.post("/documents", json=[NEW_ARTICLE]), 401)
        _error(
            c.post("/documents", json=[NEW_ARTICLE], headers={"Authorization": "Bearer no"}), 401
        )
        ok = c.post("/documents", json=[NEW_ARTICLE], headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        _error(c.delete("/documents/penguins-1"), 401)
        assert c.post("/ask", json={"question": ALBANESE}).status_code == 200  # reads open


def test_reads_can_require_a_key(seed_engine: Engine) -> None:
    with _client(seed_engine, api_keys=["k"], require_key_for_reads=True) as c:
        _error(c.post("/ask", json={"question": ALBANESE}), 401)
        _error(c.get("/search", params={"q": "Japan"}), 401)
        ok = c.post("/ask", json={"question": ALBANESE}, headers={"Authorization": "Bearer k"})
        assert ok.status_code == 200


def test_without_keys_writes_only_from_loopback(seed_engine: Engine) -> None:
    app = create_app(seed_engine.settings, seed_engine)
    with TestClient(app, client=("203.0.113.5", 5000)) as remote:
        _error(remote.post("/documents", json=[NEW_ARTICLE]), 403)
        _error(remote.delete("/documents/000_a842a3da874e1a7d.txt"), 403)
    with TestClient(app, client=("127.0.0.1", 5000)) as local:
        assert local.post("/documents", json=[NEW_ARTICLE]).status_code == 200


def test_rate_limit_on_ask(seed_engine: Engine) -> None:
    with _client(seed_engine, rate_limit_per_minute=2) as c:
        for _ in range(2):
            assert c.post("/ask", json={"question": ALBANESE}).status_code == 200
        response = c.post("/ask", json={"question": ALBANESE})
        assert "rate limit" in _error(response, 429) and response.headers["retry-after"]


def test_cors_allows_only_configured_origins(seed_engine: Engine) -> None:
    with _client(seed_engine, cors_origins=["http://news.example"]) as c:
        ok = c.options(
            "/ask",
            headers={"Origin": "http://news.example", "Access-Control-Request-Method": "POST"},
        )
        assert ok.headers.get("access-control-allow-origin") == "http://news.example"
        other = c.options(
            "/ask",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert other.headers.get("access-control-allow-origin") is None


def test_health_ready_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["counts"]["articles"] == SEED_ARTICLES
    assert ready["reranker"] is True
    client.post("/ask", json={"question": ALBANESE})
    metrics = client.get("/metrics").text
    assert 'rag_http_requests_total{method="POST",route="/ask",status="200"}' in metrics
    assert "rag_http_request_duration_seconds_bucket" in metrics
    chunks = ready["counts"]["chunks"]
    assert chunks > 1 and f'rag_index_items{{kind="chunks"}} {float(chunks)}' in metrics
    spec = client.get("/openapi.json").json()
    assert {"/ask", "/ask/stream", "/search", "/documents", "/ready"} <= set(spec["paths"])
    assert ALBANESE in json.dumps(spec)
    assert client.get("/docs").status_code == 200


def test_not_ready_without_an_index(hash_engine: Engine) -> None:
    with TestClient(create_app(hash_engine.settings, hash_engine)) as c:
        assert "rag ingest" in _error(c.get("/ready"), 503)
        _error(c.post("/ask", json={"question": ALBANESE}), 503)
        assert c.get("/health").status_code == 200


def test_unknown_route_is_json_404(client: TestClient) -> None:
    _error(client.get("/nope"), 404)
