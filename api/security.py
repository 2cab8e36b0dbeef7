"""Who the client is, API keys, loopback-only writes, and refusing contradictory settings.

The client is the socket peer. ``X-Forwarded-For`` names the client only when the peer is one
of ``RAG_TRUSTED_PROXIES`` (default: none), and then the right-most address in it that is not
itself a trusted proxy is the client (the left part of the header is whatever the client sent,
so it is never believed). ``rag serve`` turns uvicorn's own header handling off, so the peer is
the real socket address.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from fastapi import Request

from api.crosssite import check_origin
from rag.errors import AuthError, ForbiddenError, InputError
from rag.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def check_settings(settings: Settings) -> None:
    """Refuse settings that contradict each other, in one line (at start, not per request)."""
    if settings.api.require_key_for_reads and not settings.api.api_keys:
        raise InputError(
            "RAG_REQUIRE_KEY_FOR_READS=true needs RAG_API_KEYS: with no keys nobody could read"
        )
    _networks(tuple(settings.api.trusted_proxies))
    for entry in settings.api.allowed_hosts:
        if "/" in entry or ":" in entry:
            raise InputError(
                f"bad setting RAG_ALLOWED_HOSTS: {entry!r} is not a host name; give names only "
                "(news.example.org, .example.org, *), without scheme or port"
            )


@lru_cache(maxsize=16)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)
    except ValueError as exc:
        raise InputError(f"bad setting RAG_TRUSTED_PROXIES: {exc}") from None


def _trusted(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in networks)


def client_host(request: Request) -> str:
    """The client's address: the peer, or what a trusted proxy says in X-Forwarded-For."""
    peer = request.client.host if request.client else ""
    networks = _networks(tuple(request.app.state.settings.api.trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, networks):
            return hop
    return peer


def is_loopback(host: str) -> bool:
    if host in ("localhost", "testclient"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _key_ok(token: str, keys: Sequence[str]) -> bool:
    matched = False
    for key in keys:  # compare against every key, in constant time each
        matched |= hmac.compare_digest(token.encode(), key.encode())
    return matched


def check_write(request: Request, settings: Settings) -> None:
    """Writes need a valid key; with no keys configured, only loopback clients may write, and
    not from another site's page (``api.crosssite.check_origin``)."""
    if not settings.api.api_keys:
        check_origin(request, settings)
        if not is_loopback(client_host(request)):
            raise ForbiddenError("writes are only allowed from loopback when RAG_API_KEYS is unset")
        return
    _check_key(request, settings)


def check_browser_write(request: Request, settings: Settings) -> None:
    """An open write (a reader's feedback): refused from another site's page unless it
    carries a valid API key."""
    token = _bearer(request)
    if token is not None and settings.api.api_keys and _key_ok(token, settings.api.api_keys):
        return
    check_origin(request, settings)


def check_read(request: Request, settings: Settings) -> None:
    """Reads are open unless RAG_REQUIRE_KEY_FOR_READS (``check_settings`` ensures keys)."""
    if settings.api.require_key_for_reads:
        _check_key(request, settings)


def _check_key(request: Request, settings: Settings) -> None:
    token = _bearer(request)
    if token is None:
        raise AuthError("missing API key: send 'Authorization: Bearer <key>'")
    if not _key_ok(token, settings.api.api_keys):
        raise AuthError("invalid API key")
