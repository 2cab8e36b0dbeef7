"""A real `rag serve` (no keys, loopback) over real sockets: what a browser on the same machine
sends for another site's form POST, or for a page whose DNS name was rebound to 127.0.0.1,
is refused; the server's own page and plain clients still write."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import free_port, start_server, stop_server

pytestmark = pytest.mark.server
FORM = {"files": ("planted.txt", b"Planted story. It is not true.", "text/plain")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    index = tmp_path_factory.mktemp("crosssite") / "index"
    proc = start_server(index, port, {"RAG_RATE_LIMIT_PER_MINUTE": "0", "RAG_ALLOWED_HOSTS": ""})
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


def _total(server: str) -> int:
    total: int = httpx.get(server + "/documents").json()["total"]
    return total


def test_a_cross_site_form_post_plants_nothing(server: str) -> None:
    before = _total(server)
    response = httpx.post(
        server + "/documents", files=FORM, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403, response.text
    assert "https://evil.example" in response.json()["error"]["message"]
    assert _total(server) == before


def test_a_rebound_name_is_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    rebound = {
        "Host": f"rebind.evil.example:{port}",
        "Origin": f"http://rebind.evil.example:{port}",
    }
    response = httpx.post(server + "/documents", files=FORM, headers=rebound)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_host"
    assert httpx.get(server + "/feedback", headers=rebound).status_code == 400


def test_the_own_page_and_plain_clients_still_write(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    own = httpx.post(
        server + "/documents",
        files=FORM,
        headers={"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"},
    )
    assert own.status_code == 200, own.text
    assert httpx.delete(server + "/documents/planted.txt").status_code == 200
