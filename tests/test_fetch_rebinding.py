"""DNS rebinding: a name that resolves to a public address when checked and to loopback a
moment later must never reach loopback. The fetch connects to the address it checked.

The "public" host is played by a second server on 127.0.0.1: the test's connect function
sends connections for the public address there (and has the socket report the public
address as its peer), so nothing leaves the machine.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from rag.articles.fetching import fetch
from rag.errors import InputError
from rag.settings import Settings
from tests.localsite import LocalSite

pytestmark = pytest.mark.server  # loopback HTTP servers in threads
PUBLIC = "93.184.216.34"  # a global address; connections to it are served by the stand-in
NAME = "news.example"


class _PeerSocket(socket.socket):
    """A connected socket that reports the public address as its peer."""

    peer: tuple[str, int] = ("", 0)

    def getpeername(self) -> Any:
        return self.peer


@pytest.fixture
def sites() -> Iterator[tuple[LocalSite, LocalSite]]:
    private, public = LocalSite(b"private data"), LocalSite(b"public story")
    yield private, public
    private.close()
    public.close()


@pytest.fixture
def rebinding(
    sites: tuple[LocalSite, LocalSite], monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, int]]:
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
    sites: tuple[LocalSite, LocalSite], rebinding: list[tuple[str, int]]
) -> None:
    private, public = sites
    url = f"http://{NAME}:{private.port}/story"
    got = fetch(url, Settings(fetch_retries=0).fetching)
    assert private.requests == []  # loopback never saw the GET
    assert rebinding == [(PUBLIC, private.port)]
    assert public.requests == [("/story", f"{NAME}:{private.port}")]  # the name, not the IP
    assert (got.url, got.content) == (url, b"public story")


def test_a_name_that_is_private_when_checked_is_refused_before_connecting(
    sites: tuple[LocalSite, LocalSite], rebinding: list[tuple[str, int]]
) -> None:
    private, _ = sites
    url = f"http://{NAME}:{private.port}/story"
    fetch(url, Settings(fetch_retries=0).fetching)  # the first lookup: public
    with pytest.raises(InputError, match="non-public address 127.0.0.1"):
        fetch(url, Settings(fetch_retries=0).fetching)  # now it resolves to loopback
    assert private.requests == [] and rebinding == [(PUBLIC, private.port)]


def test_allowing_private_addresses_still_fetches_loopback_by_name(
    sites: tuple[LocalSite, LocalSite], rebinding: list[tuple[str, int]]
) -> None:
    """RAG_FETCH_ALLOW_PRIVATE=true: no check, the name resolves as it does when connecting."""
    private, _ = sites
    url = f"http://{NAME}:{private.port}/story"
    fetch(url, Settings(fetch_retries=0).fetching)  # uses up the public answer
    got = fetch(url, Settings(fetch_retries=0, fetch_allow_private=True).fetching)
    assert got.content == b"private data"
    assert private.requests == [("/story", f"{NAME}:{private.port}")]
