"""DNS rebinding: a name that resolves to a public address when checked and to loopback a
moment later must never reach loopback. The fetch connects to the address it checked.

The "public" host is played by a second server on 127.0.0.1: the test's connect function
sends connections for the public address there (and has the socket report the public
address as its peer), so nothing leaves the machine.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rag.errors import InputError
from rag.fetching import fetch
from rag.settings import Settings

pytestmark = pytest.mark.server  # loopback HTTP servers in threads
PUBLIC = "93.184.216.34"  # a global address; connections to it are served by the stand-in
NAME = "news.example"


class Site:
    """A loopback HTTP server answering every GET with ``body``, recording (path, Host)."""

    def __init__(self, body: bytes) -> None:
        self.requests: list[tuple[str, str | None]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                site.requests.append((self.path, self.headers.get("Host")))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class _PeerSocket(socket.socket):
    """A connected socket that reports the public address as its peer."""

    peer: tuple[str, int] = ("", 0)

    def getpeername(self) -> Any:
        return self.peer


@pytest.fixture
def sites() -> Iterator[tuple[Site, Site]]:
    private, public = Site(b"private data"), Site(b"public story")
    yield private, public
    private.server.shutdown()
    public.server.shutdown()


@pytest.fixture
def rebinding(sites: tuple[Site, Site], monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """``NAME`` resolves to PUBLIC the first time and to 127.0.0.1 after; returns the list of
    addresses connections were opened to."""
    private, public = sites
    real_lookup, real_connect = socket.getaddrinfo, socket.create_connection
    lookups: list[str] = []
    connected: list[tuple[str, int]] = []

    def lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != NAME:
            return real_lookup(host, port, *args, **kwargs)
        lookups.append(host)
        ip = PUBLIC if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port))]

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected.append(address)
        if address[0] != PUBLIC:
            return real_connect(address, *args, **kwargs)
        sock = real_connect(("127.0.0.1", public.port), *args, **kwargs)
        stand_in = _PeerSocket(fileno=sock.detach())
        stand_in.peer = address
        return stand_in

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(socket, "create_connection", connect)
    return connected


def test_the_fetch_connects_to_the_address_it_checked(
    sites: tuple[Site, Site], rebinding: list[tuple[str, int]]
) -> None:
    private, public = sites
    url = f"http://{NAME}:{private.port}/story"
    got = fetch(url, Settings(fetch_retries=0))
    assert private.requests == []  # loopback never saw the GET
    assert rebinding == [(PUBLIC, private.port)]
    assert public.requests == [("/story", f"{NAME}:{private.port}")]  # the name, not the IP
    assert (got.url, got.content) == (url, b"public story")


def test_a_name_that_is_private_when_checked_is_refused_before_connecting(
    sites: tuple[Site, Site], rebinding: list[tuple[str, int]]
) -> None:
    private, _ = sites
    url = f"http://{NAME}:{private.port}/story"
    fetch(url, Settings(fetch_retries=0))  # the first lookup: public
    with pytest.raises(InputError, match="non-public address 127.0.0.1"):
        fetch(url, Settings(fetch_retries=0))  # now it resolves to loopback
    assert private.requests == [] and rebinding == [(PUBLIC, private.port)]


def test_allowing_private_addresses_still_fetches_loopback_by_name(
    sites: tuple[Site, Site], rebinding: list[tuple[str, int]]
) -> None:
    """RAG_FETCH_ALLOW_PRIVATE=true: no check, the name resolves as it does when connecting."""
    private, _ = sites
    url = f"http://{NAME}:{private.port}/story"
    fetch(url, Settings(fetch_retries=0))  # uses up the public answer
    got = fetch(url, Settings(fetch_retries=0, fetch_allow_private=True))
    assert got.content == b"private data"
    assert private.requests == [("/story", f"{NAME}:{private.port}")]
