"""Fetching a URL on someone's behalf, safely: http(s) only, public addresses only, bounded.

``fetch(url, settings.fetching)`` is the one way the library reads the web (``rag ingest URL``,
``rag watch``, the server's feed polling and ``POST /documents {"url"}``). Its contract:

- only ``http`` and ``https`` URLs; redirects are followed by hand (at most 5), and every hop
  is checked again;
- unless ``RAG_FETCH_ALLOW_PRIVATE=true``, the host name of every hop is resolved once and
  refused when any address is private, loopback, link-local, multicast, reserved or
  unspecified; the connection then goes to the address that was checked (the request keeps
  the host name in its ``Host`` header and TLS SNI, and certificates are verified against
  it), so a DNS answer that changes after the check (rebinding) is never connected to; the
  address the connection reached is checked again before the body is read;
- a timeout for connecting and between bytes (``RAG_FETCH_TIMEOUT_S``) and an overall deadline
  of four times that; a size limit per response (``RAG_FETCH_MAX_BYTES``), checked against
  ``Content-Length`` and while streaming;
- timeouts, connection errors, 429 and 5xx are retried ``RAG_FETCH_RETRIES`` times with
  exponential backoff (0.5 s, 1 s, 2 s ...); other 4xx are not;
- conditional GET: with ``etag``/``last_modified`` from an earlier response, a 304 comes back as
  ``Fetched(not_modified=True)``.

Every failure is an ``InputError`` (code ``fetch_failed`` or ``fetch_refused``) with a
one-line message naming the URL.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from rag.errors import InputError
from rag.settings import FetchSettings

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5  # why: real news sites redirect 1-2 times (http -> https -> canonical)
BACKOFF_S = 0.5  # why: the first retry waits half a second, then doubles
USER_AGENT = "newsqa-fetcher/1.0 (+extractive news QA)"
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Fetched:
    """One response: ``url`` is the final URL after redirects."""

    url: str
    status: int
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False

    def text(self) -> str:
        """The body decoded with the declared charset (UTF-8 when none is declared)."""
        charset = "utf-8"
        for part in self.content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"'")
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


class _Retryable(Exception):
    """A failure worth another try (timeout, connection error, 429, 5xx)."""


def fetch(
    url: str, fetching: FetchSettings, *, etag: str | None = None, last_modified: str | None = None
) -> Fetched:
    """GET ``url`` within the module's rules (see the module doc)."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    attempts = fetching.retries + 1
    for attempt in range(attempts):
        try:
            return _fetch_once(url, fetching, headers)
        except _Retryable as exc:
            if attempt + 1 == attempts:
                raise InputError(f"{url}: {exc}", code="fetch_failed") from None
            wait = BACKOFF_S * 2**attempt
            log.info("fetch %s failed (%s); retrying in %.1fs", url, exc, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def _fetch_once(url: str, fetching: FetchSettings, headers: dict[str, str]) -> Fetched:
    timeout = httpx.Timeout(fetching.timeout_s)
    deadline = time.monotonic() + 4 * fetching.timeout_s
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            address = check_url(url, fetching)
            target, extra, extensions = _pinned(url, address)
            try:
                with client.stream(
                    "GET", target, headers={**headers, **extra}, extensions=extensions
                ) as response:
                    _check_peer(response, url, fetching)
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    return _read(response, url, fetching, deadline)
            except httpx.TimeoutException:
                raise _Retryable("timed out") from None
            except httpx.TransportError as exc:
                raise _Retryable(f"could not connect ({type(exc).__name__})") from None
    raise InputError(f"{url}: more than {MAX_REDIRECTS} redirects", code="fetch_failed")


def _read(response: httpx.Response, url: str, fetching: FetchSettings, deadline: float) -> Fetched:
    if response.status_code == 304:
        return Fetched(
            url,
            304,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            not_modified=True,
        )
    if response.status_code in _RETRY_STATUS:
        raise _Retryable(f"answered {response.status_code}")
    if response.status_code >= 400:
        raise InputError(f"{url}: answered {response.status_code}", code="fetch_failed")
    limit = fetching.max_bytes
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InputError(
            f"{url}: response of {int(declared):,} bytes is over the {limit:,}-byte limit",
            code="fetch_failed",
        )
    body = bytearray()
    for piece in response.iter_bytes():
        body.extend(piece)
        if len(body) > limit:
            raise InputError(
                f"{url}: response is over the {limit:,}-byte limit", code="fetch_failed"
            )
        if time.monotonic() > deadline:
            raise _Retryable("took too long to download")
    return Fetched(
        url,
        response.status_code,
        bytes(body),
        response.headers.get("content-type", ""),
        response.headers.get("etag"),
        response.headers.get("last-modified"),
    )


def _pinned(url: str, address: str | None) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """The request for ``url`` sent to ``address`` (None: to the URL's host as it resolves):
    (URL naming the address, the Host header, the TLS server name)."""
    original = httpx.URL(url)
    if address is None:
        return original, {}, {}
    host = original.raw_host.decode("ascii")
    host = f"[{host}]" if ":" in host else host
    host_header = host if original.port is None else f"{host}:{original.port}"
    return (
        original.copy_with(host=address),
        {"Host": host_header},
        {"sni_hostname": original.raw_host.decode("ascii")},
    )


def check_url(url: str, fetching: FetchSettings) -> str | None:
    """Refuse a URL that is not http(s), or whose host resolves to a non-public address;
    returns the checked address to connect to (None with ``RAG_FETCH_ALLOW_PRIVATE``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"{url}: only http:// and https:// URLs can be fetched", code="fetch_refused"
        )
    try:
        _ = parts.port  # urllib raises on a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise InputError(f"{url}: {exc}", code="fetch_refused") from None
    if fetching.allow_private:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise InputError(f"{url}: host {parts.hostname!r} not found", code="fetch_failed") from None
    for info in infos:
        _refuse_private(str(info[4][0]), url)
    if not infos:
        raise InputError(f"{url}: host {parts.hostname!r} not found", code="fetch_failed")
    return str(infos[0][4][0]).split("%", 1)[0]


def _check_peer(response: httpx.Response, url: str, fetching: FetchSettings) -> None:
    """The address the connection reached must be public too (DNS may have changed)."""
    if fetching.allow_private:
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer:
        _refuse_private(str(peer[0]), url)


def _refuse_private(address: str, url: str) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        raise InputError(
            f"{url}: refused to fetch from the non-public address {ip} "
            "(set RAG_FETCH_ALLOW_PRIVATE=true to allow it)",
            code="fetch_refused",
        )
