"""HTTP routes: thin wrappers that validate, authorise, and call the engine."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from api.schemas import (
    AnswerOut,
    AskRequest,
    DocumentOut,
    DocumentPage,
    ErrorOut,
    FiltersIn,
    IngestOut,
    SearchOut,
)
from api.security import check_read, check_write, client_host
from api.uploads import articles_from_request
from rag.articles import normalize_date
from rag.conversation import Turn
from rag.engine import Engine
from rag.errors import InputError, RagError
from rag.models import Filters

router = APIRouter()
T = TypeVar("T")
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (401, 403, 404, 413, 422, 429, 503)}


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _filters(f: FiltersIn | None) -> Filters:
    if f is None:
        return Filters()
    return Filters(source=f.source, doc_id=f.doc_id,
                   date_from=normalize_date(f.date_from, "filters.date_from"),
                   date_to=normalize_date(f.date_to, "filters.date_to"))


def _guard_ask(request: Request, body: AskRequest) -> Engine:
    settings = request.app.state.settings
    check_read(request, settings)
    request.app.state.limiter.check(client_host(request))
    engine = _engine(request)
    engine.check_question(body.question)
    return engine


async def _limited(request: Request, fn: Callable[[], T]) -> T:
    """Run CPU-bound engine work in a worker thread, at most ``max_concurrent_asks`` at once.

    More threads than cores only contend for the GIL and the cores: with 32 clients on the
    seed index (bench/http_bench.py) 40 threads gave 27 req/s, p95 1.8 s; 2 gave 33 req/s,
    p95 1.1 s."""
    limiter = request.app.state.ask_limiter
    return await anyio.to_thread.run_sync(fn, limiter=limiter)


@router.post("/ask", response_model=AnswerOut, responses=ERRORS, tags=["answers"],
             summary="Answer a question with quoted, cited sentences")
async def ask(request: Request, body: AskRequest) -> dict[str, Any]:
    engine = _guard_ask(request, body)
    history = [Turn(t.question, t.answer) for t in body.history]
    filters = _filters(body.filters)
    answer = await _limited(request, lambda: engine.ask(body.question, body.top_k, filters,
                                                         history))
    return answer.to_dict()


@router.post("/ask/stream", responses=ERRORS, tags=["answers"],
             summary="The same answer as Server-Sent Events: retrieval, quote..., done")
async def ask_stream(request: Request, body: AskRequest) -> StreamingResponse:
    engine = _guard_ask(request, body)
    filters = _filters(body.filters)
    history = [Turn(t.question, t.answer) for t in body.history]
    steps = engine.ask_steps(body.question, body.top_k, filters, history)
    # run up to the first event now, so bad input is still a plain 4xx
    first = await _limited(request, lambda: next(steps, None))
    return StreamingResponse(_sse(request, first, steps), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _sse(request: Request, first: tuple[str, Any] | None,
               steps: Iterator[tuple[str, Any]]) -> AsyncIterator[str]:
    def event(name: str, data: Any) -> str:
        return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    try:
        if first is not None:
            yield event("retrieval", {"passages": [p.to_dict() for p in first[1]]})
        while (step := await _limited(request, lambda: next(steps, None))) is not None:
            name, payload = step
            if name == "done":
                for citation in payload.citations:
                    yield event("quote", citation.to_dict())
                yield event("done", payload.to_dict())
    except RagError as exc:
        yield event("error", {"code": exc.code, "message": exc.message})
    except Exception:  # noqa: BLE001 - the stream has started; report, never a traceback
        yield event("error", {"code": "internal", "message": "internal error"})


@router.get("/search", response_model=SearchOut, responses=ERRORS, tags=["answers"])
async def search(request: Request, q: str = Query(..., description="the query"),
           top_k: int | None = None, source: str | None = None, doc_id: str | None = None,
           date_from: str | None = None, date_to: str | None = None) -> dict[str, Any]:
    check_read(request, request.app.state.settings)
    filters = _filters(FiltersIn(source=source, doc_id=doc_id, date_from=date_from,
                                 date_to=date_to))
    engine = _engine(request)
    passages = await _limited(request, lambda: engine.search(q, top_k, filters))
    return {"query": q, "passages": [p.to_dict() for p in passages]}


@router.post("/documents", response_model=IngestOut, responses=ERRORS, tags=["documents"],
             summary="Ingest articles: a JSON list, or multipart file upload (field 'files')",
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": {"type": "array", "items": {
                     "$ref": "#/components/schemas/ArticleIn"}}},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "files": {"type": "array", "items": {"type": "string",
                                                          "format": "binary"}}}}}}}})
async def add_documents(request: Request) -> dict[str, Any]:
    check_write(request, request.app.state.settings)
    articles, skipped = await articles_from_request(request)
    if not articles:
        raise InputError("no usable articles: " + "; ".join(skipped[:5]) if skipped
                         else "no articles given")
    from starlette.concurrency import run_in_threadpool

    report = await run_in_threadpool(_engine(request).ingest, articles)
    return {**report.to_dict(), "skipped": skipped}


@router.get("/documents", response_model=DocumentPage, responses=ERRORS, tags=["documents"])
def list_documents(request: Request, limit: int = Query(50, ge=1, le=500),
                   cursor: str | None = None) -> dict[str, Any]:
    check_read(request, request.app.state.settings)
    docs = sorted(_engine(request).documents(), key=lambda d: d["doc_id"])
    after = _decode_cursor(cursor)
    docs_after = docs if after is None else [d for d in docs if d["doc_id"] > after]
    page = docs_after[:limit]
    more = len(docs_after) > limit
    return {"documents": page, "total": len(docs),
            "next_cursor": _encode_cursor(page[-1]["doc_id"]) if more and page else None}


def _encode_cursor(doc_id: str) -> str:
    return base64.urlsafe_b64encode(doc_id.encode()).decode()


def _decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    except ValueError:
        decoded = ""
    if not decoded or _encode_cursor(decoded) != cursor:
        raise InputError("invalid cursor: use the next_cursor of a previous page")
    return decoded


@router.get("/documents/{doc_id:path}", response_model=DocumentOut, responses=ERRORS,
            tags=["documents"])
def get_document(request: Request, doc_id: str) -> dict[str, Any]:
    check_read(request, request.app.state.settings)
    return _engine(request).document(doc_id)


@router.delete("/documents/{doc_id:path}", responses=ERRORS, tags=["documents"])
def delete_document(request: Request, doc_id: str) -> dict[str, Any]:
    check_write(request, request.app.state.settings)
    _engine(request).delete(doc_id)
    return {"deleted": doc_id}


@router.get("/health", tags=["operations"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", tags=["operations"], responses={503: {"model": ErrorOut}})
def ready(request: Request) -> dict[str, Any]:
    engine = _engine(request)
    stats = engine.stats()  # raises 503 when there is no usable index
    return {"status": "ready", "model": stats["model"], "counts": stats["counts"],
            "generation": stats["generation"], "reranker": engine.reranker is not None}


@router.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    try:
        counts = _engine(request).stats()["counts"]
    except RagError:
        counts = None
    body = request.app.state.metrics.render(counts)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")
