"""FastAPI dependencies shared by the routers: the engine, access checks, the rate limit.

Routes declare what they need in their signature (``engine: EngineDep``,
``dependencies=[ReadAccess, ModelBudget]``) instead of calling checks by hand, so a new router
(feedback, URL ingestion, ...) gets the same policy by naming the same dependencies.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread,
and a few thread hops per request are what made 200 simultaneous requests take over a second
to reach their handlers (so they could not even be refused in time).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.admission import ComputeGate
from api.security import check_browser_write, check_read, check_write, client_host
from rag.engine import Engine
from rag.settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_gate(request: Request) -> ComputeGate:
    gate: ComputeGate = request.app.state.gate
    return gate


async def require_read(request: Request) -> None:
    """Reads need a key only when RAG_REQUIRE_KEY_FOR_READS is set (401 otherwise)."""
    check_read(request, request.app.state.settings)


async def require_write(request: Request) -> None:
    """Writes need a key, or come from loopback when no keys are set (401/403)."""
    check_write(request, request.app.state.settings)


async def require_own_site(request: Request) -> None:
    """An open write (feedback) from a browser page must come from this server's own page or
    an origin in RAG_CORS_ORIGINS, unless it carries a valid key (403)."""
    check_browser_write(request, request.app.state.settings)


async def spend_budget(request: Request) -> None:
    """One request from this client's per-minute budget for model work (429 when spent).

    The shared counter file is read in a worker thread, so it never blocks the event loop."""
    limiter = request.app.state.limiter
    if limiter.per_minute > 0:
        await run_in_threadpool(limiter.check, client_host(request))


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
GateDep = Annotated[ComputeGate, Depends(get_gate)]
ReadAccess = Depends(require_read)
WriteAccess = Depends(require_write)
OwnSiteOnly = Depends(require_own_site)
# every endpoint that runs a model: read access first, then the client's budget
ModelBudget = Depends(spend_budget)
