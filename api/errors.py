"""Mapping library errors (and anything unexpected) to JSON HTTP errors, in one place."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.admission import ClientGone
from api.schemas import error_body
from rag.errors import (
    AuthError,
    ForbiddenError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    InputError,
    MisdirectedError,
    ModelFileError,
    NotFoundError,
    OverloadedError,
    ParserUnavailableError,
    PayloadTooLargeError,
    RagError,
    RateLimitError,
    StorageFullError,
    StoreUnavailableError,
    mapped,
)
from rag.stores.space import is_full_disk, storage_full

log = logging.getLogger(__name__)

HTTP_STATUS: dict[type[RagError], int] = {
    PayloadTooLargeError: 413,
    MisdirectedError: 400,
    InputError: 422,
    NotFoundError: 404,
    AuthError: 401,
    ForbiddenError: 403,
    RateLimitError: 429,
    IndexMissingError: 503,
    IndexCorruptError: 503,
    IndexMismatchError: 409,
    ModelFileError: 503,
    ParserUnavailableError: 503,
    OverloadedError: 503,
    StoreUnavailableError: 503,
    StorageFullError: 507,  # Insufficient Storage: the write failed, nothing was half-kept
}
CLIENT_CLOSED = 499  # nginx's "client closed request": logged and counted, never read


def status_for(error: RagError) -> int:
    return mapped(error, HTTP_STATUS, 500)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) else None
        if isinstance(exc, RateLimitError | OverloadedError):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        return JSONResponse(error_body(exc.code, exc.message), status_for(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return JSONResponse(error_body("bad_input", "; ".join(problems)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return JSONResponse(
            error_body(code, str(exc.detail)), exc.status_code, headers=headers or None
        )

    @app.exception_handler(ClientGone)
    async def client_gone(request: Request, exc: ClientGone) -> JSONResponse:
        return JSONResponse(error_body("client_closed", "the client went away"), CLIENT_CLOSED)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_full_disk(exc):  # a full disk outside the store (uploads, feedback, ...)
            log.error("disk full on %s %s: %s", request.method, request.url.path, exc)
            full = storage_full(".", None, exc)
            return JSONResponse(error_body(full.code, full.message), status_for(full))
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "internal error; see the server log"), 500)


PROBED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route fully matches on this path (Starlette's own 405 names only
    the first route's, and routes for one path may be several)."""
    allowed = [
        method
        for method in PROBED_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)
