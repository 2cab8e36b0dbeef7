"""``POST /feedback`` and ``GET /feedback``: readers' thumbs up or down on an answer.

Posting is open like ``/ask`` (a reader of the widget has no key) but spends the client's rate
budget, so a script cannot flood the file. Listing shows what readers asked, so it needs write
access (a key, or loopback when no keys are set). The verdicts are stored by
:class:`rag.feedback.FeedbackStore` and counted in ``/metrics`` as ``rag_feedback_total``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import ModelBudget, OwnSiteOnly, ReadAccess, WriteAccess
from api.schemas import ErrorOut
from rag.feedback import MAX_COMMENT_CHARS, MAX_TEXT_CHARS, FeedbackStore, feedback_file

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 413, 422, 429)
}
MAX_LIST = 500  # one page of verdicts; the CLI reads the file directly for more


class FeedbackIn(BaseModel):
    """A reader's verdict on one answer."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "question": "What did Albanese say about Japan?",
                    "rating": "up",
                    "answer": '… Japan is a "natural candidate" … [1]',
                }
            ]
        },
    )
    question: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    rating: Literal["up", "down"]
    answer: str = Field(default="", max_length=MAX_TEXT_CHARS)
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)


class FeedbackOut(BaseModel):
    id: int
    created_at: float
    rating: Literal["up", "down"]
    question: str
    answer: str
    comment: str


def _store(request: Request) -> FeedbackStore:
    store = getattr(request.app.state, "feedback", None)
    if store is None:
        store = FeedbackStore(feedback_file(request.app.state.settings))
        request.app.state.feedback = store
    return store


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackOut,
    responses=ERRORS,
    tags=["answers"],
    summary="Rate an answer: thumbs up or down",
    dependencies=[ReadAccess, OwnSiteOnly, ModelBudget],
)
async def post_feedback(request: Request, body: FeedbackIn) -> dict[str, Any]:
    store = _store(request)
    saved = await run_in_threadpool(
        store.add, body.rating, body.question, body.answer, body.comment
    )
    request.app.state.metrics.feedback.labels(saved.rating).inc()
    return saved.to_dict()


@router.get(
    "/feedback",
    response_model=list[FeedbackOut],
    responses=ERRORS,
    tags=["answers"],
    summary="The latest verdicts, newest first",
    dependencies=[WriteAccess],
)
def list_feedback(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 50,
    rating: Literal["up", "down"] | None = None,
) -> list[dict[str, Any]]:
    return [f.to_dict() for f in _store(request).recent(limit, rating)]
