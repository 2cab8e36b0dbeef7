"""Pydantic request and response schemas: the API's edge. Requests are pydantic models; every
response model is built from the library's dataclass of the same shape (``out_model``)."""

from __future__ import annotations

import dataclasses
import re
import typing
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from rag import models
from rag.stores import base as store_shapes
from rag.text import NON_SPACE, WORD_CHAR
from rag.time.dates import explain_date

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

# a question must hold a word character (``rag.text.WORD_CHAR``, as ``Engine.check_question``)
QUESTION_SCHEMA: dict[str, Any] = {"minLength": 1, "pattern": WORD_CHAR}  # maxLength: per server
# a document id (``rag.articles.loading``): no control character, and not blank
DOC_ID_PATTERN = (
    r"^[^\x00-\x1f]*[^\x00- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    r"[^\x00-\x1f]*$"
)
# a page cursor: unpadded base64url (``routes._encode_cursor``); any such string is a position
CURSOR_PATTERN = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$"
_DAY = r"\d{4}-\d{2}-\d{2}"
_RFC3339 = re.compile(_DAY + r"[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[Zz]|[+-]\d{2}:\d{2})")


def _iso_date(value: str) -> str:
    """A date filter: ``""`` (none), a day (``format: date``) or an RFC 3339 date-time
    (``format: date-time``), checked against the calendar; anything else is refused (422)."""
    if value == "":
        return value
    try:
        if re.fullmatch(_DAY, value):
            date.fromisoformat(value)
        elif _RFC3339.fullmatch(value):
            datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        else:
            raise ValueError
    except ValueError:
        raise ValueError(explain_date(value)) from None
    return value


DATE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
        {"type": "string", "maxLength": 0},
    ]
}
IsoDate = Annotated[str, AfterValidator(_iso_date), WithJsonSchema(DATE_SCHEMA, mode="validation")]


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Text | None = None
    doc_id: Text | None = None
    date_from: IsoDate | None = Field(None, examples=["2024-01-01"])
    date_to: IsoDate | None = Field(None, examples=["2024-12-31"])


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
    question: Text = Field(json_schema_extra=QUESTION_SCHEMA)
    top_k: int | None = Field(None, ge=1)  # maximum: the server's RAG_MAX_TOP_K
    filters: FiltersIn | None = None
    history: list[TurnIn] = Field(default_factory=list, max_length=20)
    # the day "now" is for time phrases in the question ("last week"); default: today (UTC)
    as_of: IsoDate | None = Field(None, examples=["2024-04-09"])


def out_model(
    cls: type,
    name: str,
    *,
    types: dict[str, Any] | None = None,
    exclude: tuple[str, ...] = (),
    config: ConfigDict | None = None,
) -> type[BaseModel]:
    """A response model with the fields of the library's dataclass ``cls``: the library is the
    one source of truth for every shape the API returns (``types`` replaces a field's type
    where the API nests another response model)."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        default = ... if f.default is dataclasses.MISSING else f.default
        if isinstance(default, tuple):  # JSON's shape: an empty list, as the field's type says
            default = list(default)
        fields[f.name] = ((types or {}).get(f.name, hints[f.name]), default)
    model: type[BaseModel] = create_model(name, __config__=config, **fields)
    return model


_ANSWER_EXAMPLE: dict[str, Any] = {
    "question": ALBANESE,
    "answer": "During a press conference in Canberra on Tuesday, Australian Prime Minister "
    "Anthony Albanese said no proposals had been made to expand the membership of AUKUS, but "
    'Japan is a "natural candidate" to be part of the second pillar. [1]',
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
            "source": None,
        }
    ],
    "passages": [],
    "timings_ms": {"total": 25.0},
}
CitationOut = out_model(models.Citation, "CitationOut")
PassageOut = out_model(models.Passage, "PassageOut")
AnswerOut = out_model(
    models.Answer,
    "AnswerOut",
    types={
        "citations": list[CitationOut],  # type: ignore[valid-type]
        "passages": list[PassageOut],  # type: ignore[valid-type]
        "closest": list[CitationOut],  # type: ignore[valid-type]
    },
    config=ConfigDict(json_schema_extra={"examples": [_ANSWER_EXAMPLE]}),
)


class SearchOut(BaseModel):
    query: str
    passages: list[PassageOut]  # type: ignore[valid-type]


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Text = Field(min_length=1, max_length=200, json_schema_extra={"pattern": DOC_ID_PATTERN})
    title: Text | None = None
    text: Text = Field(min_length=1, json_schema_extra={"pattern": NON_SPACE})  # not all blank
    url: Text | None = None
    date: IsoDate | None = None
    source: Text | None = None


class UrlIn(BaseModel):
    """``POST /documents {"url": ...}``: a web page or an RSS/Atom feed the server fetches."""

    model_config = ConfigDict(extra="forbid")
    url: Text = Field(
        min_length=8,
        max_length=2000,
        # described, not enforced here: rag.articles.fetching refuses other schemes (fetch_refused)
        json_schema_extra={"pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#@]"},
        examples=["https://example.org/feed.xml"],
    )


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
                "required": ["files"],
                "properties": {
                    "files": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "format": "binary"},
                    }
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


IngestOut = out_model(models.IngestReport, "IngestOut")
DocumentSummary = out_model(store_shapes.DocumentSummary, "DocumentSummary")
DocumentOut = out_model(store_shapes.ArticleRecord, "DocumentOut", exclude=("doc_key",))


class DocumentPage(BaseModel):
    documents: list[DocumentSummary]  # type: ignore[valid-type]
    next_cursor: str | None
    total: int


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON error object; a message quoting bad input never carries lone surrogates."""
    safe = message.encode("utf-8", "replace").decode("utf-8")
    return {"error": {"code": code, "message": safe}}
