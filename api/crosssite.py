"""What a web page in a reader's browser may make this server do: cross-site writes and DNS
rebinding are refused.

A page on any site can send a "simple" request (a form POST, multipart or not) to a server
on the reader's own machine without asking first, and the browser lets it through. With no
``RAG_API_KEYS`` such a request from ``localhost`` would be a loopback write. Two checks stop
it, as Jupyter's ``allow_origin`` and local-host checks and Django's ``ALLOWED_HOSTS`` do:

* **Origin, on writes.** A write that carries a browser ``Origin`` is refused (403, naming the
  origin) unless that origin is this server's own (the ``Host`` it was sent to) or is listed
  in ``RAG_CORS_ORIGINS`` by name, or the request carries a valid API key. ``*`` in
  ``RAG_CORS_ORIGINS`` opens reads to every page, never writes. A POST or DELETE with no
  ``Origin`` but ``Sec-Fetch-Site: cross-site`` is refused too (a link to ``GET /feedback``
  followed from another site is not: its reply goes to the reader, not to the page). Clients
  that are not browsers send neither header and are unaffected.
* **Host, on every request.** The ``Host`` header must name this server: an IP address, the
  name ``localhost`` (or ``*.localhost``), a name in ``RAG_ALLOWED_HOSTS`` (``news.example.org``;
  ``.example.org`` for the domain and its subdomains; ``*`` for any), or the name given to
  ``rag serve --host``. Anything else is a 400: a page whose own name was re-pointed at
  127.0.0.1 (DNS rebinding) is same-origin with itself, so only the name it sends gives it away.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import status_for
from api.schemas import error_body
from rag.errors import ForbiddenError, MisdirectedError
from rag.settings import Settings

DEFAULT_PORTS = {"http": 80, "https": 443}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def split_host(host: str) -> tuple[str, int | None]:
    """``("name", port)`` from a ``Host`` header (``[::1]:8000``, ``Example.org.``); the name
    lower-cased without a trailing dot, the port None when absent or not a number."""
    name, port = host.strip().lower(), None
    if name.startswith("["):  # an IPv6 literal, maybe with a port
        end = name.find("]")
        rest = name[end + 1 :] if end > 0 else ""
        name = name[1:end] if end > 0 else name
        port_text = rest[1:] if rest.startswith(":") else ""
    elif name.count(":") == 1:
        name, port_text = name.split(":")
    else:
        port_text = ""
    if port_text.isdigit():
        port = int(port_text)
    return name.rstrip("."), port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Whether a ``Host`` header names this server (see the module's rule)."""
    name, _ = split_host(host)
    if not name:
        return False
    if _is_ip(name) or name == "localhost" or name.endswith(".localhost"):
        return True
    for entry in (a.strip().lower().rstrip(".") for a in allowed):
        if entry == "*" or entry == name:
            return True
        if entry.startswith(".") and (name.endswith(entry) or name == entry[1:]):
            return True
    return False


class HostCheckMiddleware:
    """Refuses (400 ``bad_host``) a request whose ``Host`` does not name this server.

    A request with no ``Host`` (HTTP/1.0) passes: no browser sends one without it."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.allowed = list(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host")
            if host is not None and not host_allowed(host, self.allowed):
                shown = host.encode("ascii", "replace").decode()[:100]
                error = MisdirectedError(
                    f"the Host {shown!r} is not a name of this server; add it to "
                    "RAG_ALLOWED_HOSTS (comma-separated) if it is"
                )
                response = JSONResponse(error_body(error.code, error.message), status_for(error))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def same_origin(origin: str, host: str | None) -> bool:
    """Whether ``origin`` (``scheme://name[:port]``) is the server the request was sent to.

    Compared by name and port (a missing port is the scheme's default), not by scheme: behind
    a proxy that ends TLS the page is ``https://`` while the request reaching us is plain."""
    if host is None:
        return False
    try:
        parts = urlsplit(origin)
        origin_port = parts.port
    except ValueError:
        return False
    default = DEFAULT_PORTS.get(parts.scheme)
    if parts.hostname is None or default is None:
        return False
    name, port = split_host(host)
    return parts.hostname.rstrip(".") == name and (origin_port or default) == (port or default)


def check_origin(request: Request, settings: Settings) -> None:
    """Refuse a write sent by a page of another site (403 naming the origin); see the module.

    The caller skips this when the request carries a valid API key."""
    origin = request.headers.get("origin")
    if origin is None:  # a GET with none is a link followed: its reply goes to the reader
        site = request.headers.get("sec-fetch-site", "").lower()
        if request.method not in SAFE_METHODS and site == "cross-site":
            raise ForbiddenError(
                "cross-site writes are refused: this request came from a page of another site "
                "(Sec-Fetch-Site: cross-site); send an API key, or list the page's origin in "
                "RAG_CORS_ORIGINS"
            )
        return
    if origin in settings.api.cors_origins or same_origin(origin, request.headers.get("host")):
        return
    shown = origin.encode("ascii", "replace").decode()[:200]
    raise ForbiddenError(
        f"writes from pages at {shown!r} are refused: that origin is not this server's and not "
        "in RAG_CORS_ORIGINS (send an API key, or add the origin to RAG_CORS_ORIGINS)"
    )
