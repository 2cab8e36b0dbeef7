"""API keys, loopback-only writes, per-client rate limits and request body limits."""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from collections import OrderedDict

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import error_body
from rag.errors import AuthError, ForbiddenError, RateLimitError
from rag.settings import Settings


def client_host(request: Request) -> str:
    return request.client.host if request.client else ""


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


def _key_ok(token: str, keys: list[str]) -> bool:
    matched = False
    for key in keys:  # compare against every key, in constant time each
        matched |= hmac.compare_digest(token.encode(), key.encode())
    return matched


def check_write(request: Request, settings: Settings) -> None:
    """Writes need a valid key; with no keys configured, only loopback clients may write."""
    if not settings.api_keys:
        if not is_loopback(client_host(request)):
            raise ForbiddenError("writes are only allowed from loopback when RAG_API_KEYS is unset")
        return
    _check_key(request, settings)


def check_read(request: Request, settings: Settings) -> None:
    if settings.require_key_for_reads and settings.api_keys:
        _check_key(request, settings)


def _check_key(request: Request, settings: Settings) -> None:
    token = _bearer(request)
    if token is None:
        raise AuthError("missing API key: send 'Authorization: Bearer <key>'")
    if not _key_ok(token, settings.api_keys):
        raise AuthError("invalid API key")


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_clients = max_clients

    def check(self, client: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self.per_minute / 60.0)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                raise RateLimitError(f"rate limit of {self.per_minute} requests per minute "
                                     "exceeded; retry later")
            self._buckets[client] = (tokens - 1.0, now)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)


class BodyLimitMiddleware:
    """Refuse request bodies over the limit (413), by header or by counting streamed bytes."""

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        is_upload = headers.get(b"content-type", b"").startswith(b"multipart/")
        limit = self.max_upload if is_upload else self.max_body
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        too_large = False

        async def limited() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send, limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    import json

    body = json.dumps(error_body("payload_too_large",
                                 f"request body is larger than {limit} bytes")).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
