"""A web page in a reader's browser cannot write through the default no-key server: a form
POST from another site is refused (403 naming its origin), a rebound DNS name is refused
(400), while the server's own page, origins listed in RAG_CORS_ORIGINS (the widget) and
clients with a valid key keep working."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.crosssite import host_allowed, same_origin
from api.security import check_settings
from api.server import with_bound_name
from rag.engine import Engine
from rag.errors import InputError
from rag.models import Article
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings

EVIL = "https://evil.example"
WIDGET_SITE = "https://news.example.org"
BOUNDARY = "----WebKitFormBoundaryq8Zk3uXKJx0rE1bT"


def _client(tmp_path: Path, **overrides: object) -> TestClient:
    chosen: dict[str, object] = {
        "index_dir": tmp_path / "index",
        "rate_limit_per_minute": 0,
        "cors_origins": [WIDGET_SITE],
        "allowed_hosts": ["testserver"],
        **overrides,
    }
    settings = Settings(**chosen)  # type: ignore[arg-type]
    engine = Engine(settings, HashEmbedder())
    engine.ingest([Article("seed", "Seed", "Wombats live in Tasmania. They dig burrows.")])
    return TestClient(create_app(settings, engine))


def _form(name: str = "planted.txt", text: str = "Planted story. It is not true.") -> bytes:
    """The body a browser sends for an <form enctype="multipart/form-data"> with one file."""
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
        f"{text}\r\n"
        f"--{BOUNDARY}--\r\n"
    ).encode()


def _post_form(client: TestClient, **headers: str) -> object:
    return client.post(
        "/documents",
        content=_form(),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **headers},
    )


def _total(client: TestClient) -> int:
    total: int = client.get("/documents").json()["total"]
    return total


def test_a_cross_site_form_post_is_refused_and_plants_nothing(tmp_path: Path) -> None:
    client = _client(tmp_path)
    response = _post_form(client, Origin=EVIL)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden" and EVIL in error["message"]
    assert _total(client) == 1


def test_a_cross_site_delete_is_refused(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert client.delete("/documents/seed", headers={"Origin": EVIL}).status_code == 403
    assert client.delete("/documents/seed", headers={"Origin": "null"}).status_code == 403
    assert _total(client) == 1


def test_a_write_with_no_origin_but_marked_cross_site_is_refused(tmp_path: Path) -> None:
    client = _client(tmp_path)
    response = _post_form(client, **{"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403 and "cross-site" in response.json()["error"]["message"]
    assert _total(client) == 1
    followed = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert client.get("/feedback", headers=followed).status_code == 200  # a link, read by a person
    fetched = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    assert client.get("/feedback", headers=fetched).status_code == 403  # read by the page


def test_the_servers_own_page_and_listed_origins_may_write(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert _post_form(client, Origin="http://testserver").status_code == 200
    assert _post_form(client, Origin=WIDGET_SITE).status_code == 200
    assert _total(client) == 2  # the same file twice is one article
    other = client.post(
        "/documents",
        json=[{"id": "b", "text": "Koalas eat leaves."}],
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert other.status_code == 200 and _total(client) == 3


def test_clients_that_are_not_browsers_still_write(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert _post_form(client).status_code == 200  # curl, scripts: no Origin
    assert client.delete("/documents/seed").status_code == 200


def test_a_valid_key_writes_from_any_origin_and_a_missing_one_does_not(tmp_path: Path) -> None:
    client = _client(tmp_path, api_keys=["k1"])
    assert _post_form(client, Origin=EVIL, Authorization="Bearer k1").status_code == 200
    assert _post_form(client, Origin=EVIL).status_code in (401, 403)
    assert _total(client) == 2


def test_a_wildcard_cors_list_opens_reads_not_writes(tmp_path: Path) -> None:
    client = _client(tmp_path, cors_origins=["*"])
    assert _post_form(client, Origin=EVIL).status_code == 403
    read = client.post(
        "/ask", json={"question": "Where do wombats live?"}, headers={"Origin": EVIL}
    )
    assert read.status_code == 200 and read.headers["access-control-allow-origin"] == "*"


def test_the_widget_asks_and_sends_feedback_from_a_listed_origin(tmp_path: Path) -> None:
    client = _client(tmp_path)
    headers = {"Origin": WIDGET_SITE}
    preflight = client.options(
        "/feedback",
        headers={
            **headers,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == WIDGET_SITE
    asked = client.post("/ask/stream", json={"question": "Where do wombats live?"}, headers=headers)
    assert asked.status_code == 200 and "event: done" in asked.text
    verdict = {"question": "Where do wombats live?", "rating": "up"}
    sent = client.post("/feedback", json=verdict, headers=headers)
    assert sent.status_code == 201
    assert sent.headers["access-control-allow-origin"] == WIDGET_SITE
    assert client.post("/feedback", json=verdict, headers={"Origin": EVIL}).status_code == 403
    assert client.post("/feedback", json=verdict).status_code == 201  # no browser, no Origin
    assert [f["rating"] for f in client.get("/feedback").json()] == ["up", "up"]


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil"]
)
def test_a_foreign_host_name_is_refused_on_reads_and_writes(tmp_path: Path, host: str) -> None:
    client = _client(tmp_path)
    for response in (
        client.get("/health", headers={"Host": host}),
        client.get("/feedback", headers={"Host": host}),
        _post_form(client, Host=host),
    ):
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "bad_host" and "RAG_ALLOWED_HOSTS" in error["message"]
    assert _total(client) == 1


@pytest.mark.parametrize(
    "host",
    ["localhost:8000", "LOCALHOST", "app.localhost", "127.0.0.1:9", "[::1]:8000", "10.1.2.3"],
)
def test_addresses_and_localhost_names_are_always_served(tmp_path: Path, host: str) -> None:
    client = _client(tmp_path, allowed_hosts=[])
    assert client.get("/health", headers={"Host": host}).status_code == 200


def test_allowed_hosts_name_a_deployment() -> None:
    allowed = ["news.example.org", ".example.net"]
    assert host_allowed("news.example.org:443", allowed)
    assert host_allowed("NEWS.example.org.", allowed)
    assert host_allowed("example.net", allowed) and host_allowed("a.b.example.net", allowed)
    assert not host_allowed("evil.example", allowed) and not host_allowed("badexample.net", allowed)
    assert not host_allowed("", allowed)
    assert host_allowed("anything.example", ["*"])


def test_rag_serve_host_name_is_allowed_and_addresses_add_nothing() -> None:
    settings = Settings(allowed_hosts=[])
    assert with_bound_name(settings, "newsbox").allowed_hosts == ["newsbox"]
    assert with_bound_name(settings, "0.0.0.0").allowed_hosts == []
    assert with_bound_name(settings, "::").allowed_hosts == []


def test_same_origin_compares_name_and_port_not_scheme() -> None:
    assert same_origin("http://localhost:8000", "localhost:8000")
    assert same_origin("https://news.example.org", "news.example.org")  # behind a TLS proxy
    assert same_origin("http://[::1]:8000", "[::1]:8000")
    assert not same_origin("http://localhost:3000", "localhost:8000")
    assert not same_origin("https://evil.example", "localhost:8000")
    assert not same_origin("null", "localhost:8000")
    assert not same_origin("http://localhost:8000", None)


@pytest.mark.parametrize("entry", ["https://news.example.org", "news.example.org:8000"])
def test_a_url_in_allowed_hosts_is_refused_at_start(entry: str) -> None:
    with pytest.raises(InputError, match="RAG_ALLOWED_HOSTS"):
        check_settings(Settings(allowed_hosts=[entry]))
