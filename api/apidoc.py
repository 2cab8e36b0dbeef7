"""The OpenAPI document, exact to this server's limits.

Static rules (a question needs a non-blank character, dates are ISO days or RFC 3339
date-times, cursors are base64url) are in the pydantic types of ``api.schemas``. Limits that
come from settings (``RAG_MAX_QUESTION_CHARS``, ``RAG_MAX_TOP_K``) are written into the
generated document here, once, so that a request the document calls valid is one this server
accepts, and one it calls invalid is refused (``tests/test_openapi_fuzz.py`` checks both ways).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.schemas import QUESTION_SCHEMA
from rag.settings import Settings


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Replace ``app.openapi`` with one that writes the server's limits into the document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            tighten(spec, settings)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def tighten(spec: dict[str, Any], settings: Settings) -> None:
    """The question's length and ``top_k``'s range, in the request body and in /search."""
    question = {**QUESTION_SCHEMA, "maxLength": settings.answering.max_question_chars}
    top_k = {"minimum": 1, "maximum": settings.answering.max_top_k}
    ask = spec.get("components", {}).get("schemas", {}).get("AskRequest", {})
    if ask:
        ask["properties"]["question"].update(question)
        _non_null(ask["properties"]["top_k"]).update(top_k)
    search = spec.get("paths", {}).get("/search", {}).get("get", {})
    for param in search.get("parameters", []):
        if param["name"] == "q":
            param["schema"].update(question)
        elif param["name"] == "top_k":
            _non_null(param["schema"]).update(top_k)


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The branch of ``anyOf: [X, null]`` that is not null (or the schema itself)."""
    branches: list[dict[str, Any]] = schema.get("anyOf", [])
    return next((b for b in branches if b.get("type") != "null"), schema)
