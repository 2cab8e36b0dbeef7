"""Mapping library errors (and anything unexpected) to JSON HTTP errors, in one place."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import error_body
from rag.errors import (
    AuthError,
    ForbiddenError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    InputError,
    ModelFileError,
    NotFoundError,
    PayloadTooLargeError,
    RagError,
    RateLimitError,
    mapped,
)

log = logging.getLogger(__name__)

HTTP_STATUS: dict[type[RagError], int] = {
    PayloadTooLargeError: 413, InputError: 422, NotFoundError: 404, AuthError: 401,
    ForbiddenError: 403, RateLimitError: 429, IndexMissingError: 503, IndexCorruptError: 503,
    IndexMismatchError: 409, ModelFileError: 503,
}


def status_for(error: RagError) -> int:
    return mapped(error, HTTP_STATUS, 500)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) else None
        if isinstance(exc, RateLimitError):
            headers = {"Retry-After": "60"}
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
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "internal error; see the server log"), 500)
