"""Pydantic request and response schemas: the API's edge."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ALBANESE = "What did Albanese say about Japan?"


def _encodable(value: str) -> str:
    """Text that UTF-8 can carry: JSON's ``\\ud800`` escapes decode to lone surrogates, which
    no tokenizer, file or JSON reply can hold; refused here as bad input (422)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"text is not valid Unicode (a lone surrogate at character {exc.start})"
        ) from None
    return value


Text = Annotated[str, AfterValidator(_encodable)]


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Text | None = None
    doc_id: Text | None = None
    date_from: Text | None = Field(None, examples=["2024-01-01"])
    date_to: Text | None = Field(None, examples=["2024-12-31"])


class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: Text = Field(max_length=10_000)
    answer: Text = Field("", max_length=100_000)


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": ALBANESE},
                {
                    "question": "And what did Kihara say?",
                    "top_k": 5,
                    "history": [{"question": ALBANESE, "answer": "..."}],
                },
            ]
        },
    )
    question: Text
    top_k: int | None = None
    filters: FiltersIn | None = None
    history: list[TurnIn] = Field(default_factory=list, max_length=20)
    # the day "now" is for time phrases in the question ("last week"); default: today (UTC)
    as_of: Text | None = Field(None, examples=["2024-04-09"])


class CitationOut(BaseModel):
    n: int
    doc_id: str
    title: str
    url: str | None
    date: str | None
    start: int
    end: int
    quote: str
    score: float
    source: str | None = None


class PassageOut(BaseModel):
    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str
    score: float


class AnswerOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": ALBANESE,
                    "answer": "During a press conference in Canberra on Tuesday, Australian "
                    "Prime Minister Anthony Albanese said no proposals had been made to expand "
                    'the membership of AUKUS, but Japan is a "natural candidate" to be part of '
                    "the second pillar. [1]",
                    "abstained": False,
                    "reason": None,
                    "confidence": 0.99,
                    "citations": [
                        {
                            "n": 1,
                            "doc_id": "000_a842a3da874e1a7d.txt",
                            "title": "...",
                            "url": None,
                            "date": None,
                            "start": 1202,
                            "end": 1429,
                            "quote": "During a press conference ...",
                            "score": 0.99,
                        }
                    ],
                    "passages": [],
                    "timings_ms": {"total": 25.0},
                }
            ]
        }
    )
    question: str
    answer: str
    abstained: bool
    reason: str | None
    confidence: float
    citations: list[CitationOut]
    passages: list[PassageOut]
    timings_ms: dict[str, float]
    resolved_question: str | None = None
    # {"from", "to", "phrase", "latest"} (+ "applied", "note"): the question's time phrase
    time_filter: dict[str, Any] | None = None


class SearchOut(BaseModel):
    query: str
    passages: list[PassageOut]


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Text = Field(min_length=1, max_length=200)
    title: Text | None = None
    text: Text = Field(min_length=1)
    url: Text | None = None
    date: Text | None = None
    source: Text | None = None


class UrlIn(BaseModel):
    """``POST /documents {"url": ...}``: a web page or an RSS/Atom feed the server fetches."""

    model_config = ConfigDict(extra="forbid")
    url: Text = Field(min_length=8, max_length=2000, examples=["https://example.org/feed.xml"])


# POST /documents reads its body itself (JSON or multipart), so its schema is given by hand
DOCUMENTS_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "array", "minItems": 1, "items": ArticleIn.model_json_schema()},
                    UrlIn.model_json_schema(),
                ]
            }
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                },
            }
        },
    },
}
# /ask/stream's 200: one Server-Sent Event (schemathesis checks each event against it)
SSE_RESPONSE: dict[str, Any] = {
    "description": "Server-Sent Events: retrieval, quote..., done (or error)",
    "content": {
        "text/event-stream": {
            "schema": {
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"enum": ["retrieval", "quote", "done", "error"]},
                    "data": {"type": "string"},
                },
            }
        }
    },
}


class IngestOut(BaseModel):
    added: list[str]
    replaced: list[str]
    unchanged: list[str]
    skipped: list[str]
    chunks: int


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    url: str | None
    date: str | None
    source: str | None
    chars: int
    chunks: int
    content_hash: str
    ingested_at: str


class DocumentPage(BaseModel):
    documents: list[DocumentSummary]
    next_cursor: str | None
    total: int


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    text: str
    url: str | None
    date: str | None
    source: str | None
    content_hash: str
    ingested_at: str


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON error object; a message quoting bad input never carries lone surrogates."""
    safe = message.encode("utf-8", "replace").decode("utf-8")
    return {"error": {"code": code, "message": safe}}
