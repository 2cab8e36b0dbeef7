"""HTTP routes: thin wrappers that validate, authorise, and call the engine.

Model endpoints (``/ask``, ``/ask/stream``, ``/search``) check their input first, then spend
one unit of the client's rate budget (``ModelBudget``), then wait for one compute slot
(``api.admission``): a full queue is a 503 at once, a client that went away never reaches the
model, and a stream holds exactly one slot from its first model step to its last.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi import Query as Param
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from api.admission import Slot
from api.deps import EngineDep, GateDep, ModelBudget, ReadAccess, WriteAccess
from api.schemas import (
    CURSOR_PATTERN,
    DOCUMENTS_BODY,
    SSE_RESPONSE,
    AnswerOut,
    AskRequest,
    DocumentOut,
    DocumentPage,
    ErrorOut,
    FiltersIn,
    IngestOut,
    IsoDate,
    SearchOut,
    UrlIn,
)
from rag import jsonio
from rag.engine import Engine
from rag.errors import InputError, RagError
from rag.models import Answered, AskEvent, CheckedQuery, Filters, Query, Retrieved

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)
}
# writes may also find the index's disk full (507 Insufficient Storage)
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 507: {"model": ErrorOut}}


def _filters(f: FiltersIn | None) -> Filters:
    if f is None:
        return Filters()
    return Filters(source=f.source, doc_id=f.doc_id, date_from=f.date_from, date_to=f.date_to)


def _query(engine: Engine, body: AskRequest) -> CheckedQuery:
    """The request as the engine's query, checked before it waits for a compute slot."""
    history = tuple((t.question, t.answer) for t in body.history)
    return engine.check(
        Query(body.question, body.top_k, _filters(body.filters), history, body.as_of)
    )


@router.post(
    "/ask",
    response_model=AnswerOut,
    responses=ERRORS,
    tags=["answers"],
    summary="Answer a question with quoted, cited sentences",
    dependencies=[ReadAccess, ModelBudget],
)
async def ask(
    request: Request, body: AskRequest, engine: EngineDep, gate: GateDep
) -> dict[str, Any]:
    query = _query(engine, body)
    slot = await gate.acquire(request)
    try:
        answer = await slot.run(lambda: engine.ask(query))
    finally:
        slot.release()
    return answer.to_dict()


@router.post(
    "/ask/stream",
    responses={**ERRORS, 200: SSE_RESPONSE},
    tags=["answers"],
    response_class=StreamingResponse,
    summary="The same answer as Server-Sent Events: retrieval, quote..., done",
    dependencies=[ReadAccess, ModelBudget],
)
async def ask_stream(
    request: Request, body: AskRequest, engine: EngineDep, gate: GateDep
) -> StreamingResponse:
    steps = engine.ask_steps(_query(engine, body))
    slot = await gate.acquire(request)
    try:  # run up to the first event now, so bad input is still a plain 4xx
        first = await slot.run(lambda: next(steps, None))
    except BaseException:
        slot.release()
        raise
    return _SlotStream(
        slot,
        _sse(slot, first, steps),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class _SlotStream(StreamingResponse):
    """A stream that gives its compute slot back however it ends (done, cut, never started)."""

    def __init__(self, slot: Slot, content: AsyncIterator[str], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


async def _sse(slot: Slot, first: AskEvent | None, steps: Iterator[AskEvent]) -> AsyncIterator[str]:
    """The events; the slot is released as soon as the last model step is done, before the
    quotes are written, so a slow reader does not hold it."""

    def event(name: str, data: Any) -> str:
        return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    try:
        if isinstance(first, Retrieved):
            yield event("retrieval", {"passages": [p.to_dict() for p in first.passages]})
        done = None
        while (step := await slot.run(lambda: next(steps, None))) is not None:
            if isinstance(step, Answered):
                done = step.answer
        slot.release()
        if done is not None:
            for citation in done.citations:
                yield event("quote", citation.to_dict())
            yield event("done", done.to_dict())
    except RagError as exc:
        yield event("error", {"code": exc.code, "message": exc.message})
    except Exception:  # noqa: BLE001 - the stream has started; report, never a traceback
        yield event("error", {"code": "internal", "message": "internal error"})
    finally:
        slot.release()


@router.get(
    "/search",
    response_model=SearchOut,
    responses=ERRORS,
    tags=["answers"],
    dependencies=[ReadAccess, ModelBudget],
)
async def search(
    request: Request,
    engine: EngineDep,
    gate: GateDep,
    q: str = Param(..., description="the query"),
    top_k: int | None = Param(None, ge=1),
    source: str | None = None,
    doc_id: str | None = None,
    date_from: IsoDate | None = None,
    date_to: IsoDate | None = None,
) -> dict[str, Any]:
    filters = _filters(
        FiltersIn(source=source, doc_id=doc_id, date_from=date_from, date_to=date_to)
    )
    query = engine.check(Query(q, top_k, filters))
    slot = await gate.acquire(request)
    try:
        passages = await slot.run(lambda: engine.search(query))
    finally:
        slot.release()
    return {"query": q, "passages": [p.to_dict() for p in passages]}


@router.post(
    "/documents",
    response_model=IngestOut,
    responses=WRITE_ERRORS,
    tags=["documents"],
    summary='Ingest articles: a JSON list, {"url": page or feed}, or a multipart '
    "upload (field 'files')",
    dependencies=[WriteAccess],
    openapi_extra={"requestBody": DOCUMENTS_BODY},
)
async def add_documents(request: Request, engine: EngineDep) -> dict[str, Any]:
    url = await _url_in(request)
    # fetched within rag.articles.fetching's rules (no private addresses, limits)
    if url is not None:
        loaded = await run_in_threadpool(lambda: engine.load_sources([url], remote_only=True))
        articles, skipped = loaded.articles, loaded.warnings
    else:
        from api.uploads import articles_from_request  # multipart parsing: on the first upload

        articles, skipped = await articles_from_request(request, engine)
    if not articles:
        raise InputError(
            "no usable articles: " + "; ".join(skipped[:5]) if skipped else "no articles given"
        )
    report = await run_in_threadpool(engine.ingest, articles)
    return {**report.to_dict(), "skipped": skipped}


async def _url_in(request: Request) -> str | None:
    """The URL of a ``{"url": ...}`` JSON body; None for any other body."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None
    try:
        data = jsonio.loads(await request.body())
    except ValueError:
        return None  # articles_from_request names the problem
    if not isinstance(data, dict) or "url" not in data:
        return None
    try:
        return UrlIn.model_validate(data).url
    except ValidationError as exc:
        raise InputError(f"url: {exc.errors()[0]['msg']}") from None


@router.get(
    "/documents",
    response_model=DocumentPage,
    responses=ERRORS,
    tags=["documents"],
    dependencies=[ReadAccess],
)
def list_documents(
    engine: EngineDep,
    limit: int = Param(50, ge=1, le=500),
    cursor: str | None = Param(
        None,
        description="the next_cursor of the previous page",
        json_schema_extra={"pattern": CURSOR_PATTERN},
    ),
) -> dict[str, Any]:
    docs_after = engine.documents(limit + 1, _decode_cursor(cursor))  # paged by the store
    page = docs_after[:limit]
    more = len(docs_after) > limit
    return {
        "documents": page,
        "total": engine.stats()["counts"]["articles"],
        "next_cursor": _encode_cursor(page[-1]["doc_id"]) if more and page else None,
    }


def _encode_cursor(doc_id: str) -> str:
    return base64.urlsafe_b64encode(doc_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> str | None:
    """The position a cursor names: every string of ``CURSOR_PATTERN`` is one (the page
    starts after it in doc_id order), as the OpenAPI document says; anything else is a 422."""
    if not cursor:
        return None
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise InputError("invalid cursor: use the next_cursor of a previous page")
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return raw.decode("utf-8", "replace").replace("\x00", "")


@router.get(
    "/documents/{doc_id:path}",
    response_model=DocumentOut,
    responses=ERRORS,
    tags=["documents"],
    dependencies=[ReadAccess],
)
def get_document(engine: EngineDep, doc_id: str) -> dict[str, Any]:
    return engine.document(doc_id)


@router.delete(
    "/documents/{doc_id:path}",
    responses=WRITE_ERRORS,
    tags=["documents"],
    dependencies=[WriteAccess],
)
def delete_document(engine: EngineDep, doc_id: str) -> dict[str, Any]:
    engine.delete(doc_id)
    return {"deleted": doc_id}


@router.get("/health", tags=["operations"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", tags=["operations"], responses={503: {"model": ErrorOut}})
def ready(engine: EngineDep) -> dict[str, Any]:
    stats = engine.stats()  # raises 503 when there is no usable index
    return {
        "status": "ready",
        "model": stats["model"],
        "counts": stats["counts"],
        "reranker": engine.reranker is not None,
    }


@router.get(
    "/metrics",
    tags=["operations"],
    response_class=PlainTextResponse,
    responses={401: {"model": ErrorOut}},
    dependencies=[ReadAccess],
)
def metrics(request: Request, engine: EngineDep, gate: GateDep) -> PlainTextResponse:
    """Prometheus metrics; behind a key when reads are (RAG_REQUIRE_KEY_FOR_READS)."""
    try:
        counts = engine.stats()["counts"]
    except RagError:
        counts = None
    body = request.app.state.metrics.render(counts, gate.busy, gate.waiting)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")
