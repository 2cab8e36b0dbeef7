"""``create_app(settings)``: the FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from api.admission import ComputeGate
from api.apidoc import install_openapi
from api.bodylimit import BodyLimitMiddleware
from api.crosssite import HostCheckMiddleware
from api.errors import install_error_handlers
from api.feedback import router as feedback_router
from api.metrics import Metrics
from api.ratelimit import rate_limiter
from api.routes import router
from api.security import check_settings
from rag import runtime
from rag.engine import Engine
from rag.errors import RagError
from rag.settings import Settings, load_settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"

DESCRIPTION = """Extractive question answering over news articles. Every answer is made of
sentences quoted verbatim from the stored articles, each with a citation giving the exact
character span it came from; when the articles do not say, the answer abstains.

Try `POST /ask` with `{"question": "What did Albanese say about Japan?"}`."""


def _warm(engine: Engine) -> None:
    """Load the model, the reranker and (if present) the index before the first request."""
    _ = engine.embedder, engine.reranker
    try:
        engine.snapshot()
    except RagError as exc:
        log.warning("no usable index yet: %s", exc.message)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; the model and index load in the lifespan, not at import.

    Contradictory security settings are refused here with a one-line ``InputError``."""
    settings = settings or load_settings()
    check_settings(settings)
    runtime.configure_process()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = engine or Engine(settings)
        if not settings.api.api_keys:
            log.warning("RAG_API_KEYS is not set: document writes are allowed from loopback only")
        await run_in_threadpool(_warm, app.state.engine)
        polling = app.state.engine.watch_in_background()  # RAG_FEEDS, if any
        yield
        if polling is not None:
            polling.set()

    app = FastAPI(title="News QA", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.limiter = rate_limiter(settings, rate_limit_file(settings))
    api = settings.api
    app.state.gate = ComputeGate(
        api.max_concurrent_asks, api.max_queued_asks, api.request_deadline_s
    )
    app.state.metrics = Metrics()
    if engine is not None:
        app.state.engine = engine
    install_error_handlers(app)
    app.add_middleware(app.state.metrics.middleware)
    app.add_middleware(HostCheckMiddleware, allowed_hosts=settings.api.allowed_hosts)
    app.add_middleware(
        BodyLimitMiddleware, max_body=api.max_body_bytes, max_upload=api.max_upload_bytes
    )
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.include_router(router)
    app.include_router(feedback_router)
    _static_routes(app)
    install_openapi(app, settings)
    return app


def rate_limit_file(settings: Settings) -> Path:
    """RAG_RATE_LIMIT_DB, else ``ratelimit.sqlite`` in the index folder: every worker serving
    that index shares it (the store leaves files it did not write there alone).
    Unused when RAG_DATABASE_URL is set: the buckets are then in PostgreSQL, for every host."""
    return settings.api.rate_limit_db or settings.storage.index_dir / "ratelimit.sqlite"


def _static_routes(app: FastAPI) -> None:
    """The widget's files and the demo page."""
    for name, media in (("widget.js", "text/javascript"), ("widget.css", "text/css")):

        def serve(name: str = name, media: str = media) -> FileResponse:
            return FileResponse(STATIC / name, media_type=media)

        app.add_api_route(f"/{name}", serve, methods=["GET"], include_in_schema=False)

    def demo() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.add_api_route("/", demo, methods=["GET"], include_in_schema=False)
