"""Frozen dataclasses that flow through the pipeline."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Article:
    """One news article. ``text`` is exactly what citation offsets refer to."""

    doc_id: str
    title: str
    text: str
    url: str | None = None
    date: str | None = None
    source: str | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        """Changes when any field does; articles without author and tags hash as before."""
        parts = [self.title, self.text, self.url or "", self.date or "", self.source or ""]
        if self.author or self.tags:
            parts += [self.author or "", "\x1e".join(self.tags)]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    """A slice of an article: ``article.text[start:end] == text``."""

    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Span:
    """A sentence's character span inside its article."""

    start: int
    end: int


@dataclass(frozen=True)
class Copy:
    """Another article of the same story (a syndicated or near-duplicate copy)."""

    doc_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused relevance score."""

    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str
    score: float
    also_in: tuple[Copy, ...] = ()  # the other articles of the same story, left out

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "also_in": [asdict(c) for c in self.also_in]}  # JSON's shape


@dataclass(frozen=True)
class Citation:
    """Where a quoted sentence comes from: ``quote == article.text[start:end]``."""

    n: int
    doc_id: str
    title: str
    url: str | None
    date: str | None
    start: int
    end: int
    quote: str
    score: float
    source: str | None = None  # the outlet or agency, when the article names one
    # the short answer inside the quote: article offsets, start <= answer_start < answer_end <= end
    answer_start: int | None = None
    answer_end: int | None = None
    also_in: tuple[Copy, ...] = ()  # the other articles of the same story (syndicated copies)
    from_caption: bool = False  # the quote is a photo caption (a who-is answer's last resort)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "also_in": [asdict(c) for c in self.also_in]}  # JSON's shape


@dataclass(frozen=True)
class Answer:
    """The answer contract shared by the CLI, the HTTP API and the evaluation."""

    question: str
    answer: str
    abstained: bool
    reason: str | None
    confidence: float
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    timings_ms: dict[str, float]
    resolved_question: str | None = None
    # {"from", "to", "phrase", "latest"} (+ "applied", "note") when the question names a time
    time_filter: dict[str, Any] | None = None
    # what a pronoun or "that" of a follow-up was read as ("Dr. Wei Liu";
    # rag.answering.conversation)
    refers_to: str | None = None
    # never the answer: when no article is in the question's time range (reason
    # "no_article_in_range"), the newest matching statement from before the range
    closest: tuple[Citation, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "reason": self.reason,
            "confidence": round(self.confidence, 4),
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
        if self.resolved_question is not None:
            data["resolved_question"] = self.resolved_question
        if self.time_filter is not None:
            data["time_filter"] = self.time_filter
        if self.refers_to is not None:
            data["refers_to"] = self.refers_to
        if self.closest:
            data["closest"] = [c.to_dict() for c in self.closest]
        return data


@dataclass(frozen=True)
class Filters:
    """Restrictions on which chunks retrieval may return. Dates are ISO 8601 strings."""

    source: str | None = None
    doc_id: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    def is_empty(self) -> bool:
        return not (self.source or self.doc_id or self.date_from or self.date_to)


NO_FILTERS = Filters()


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did, by document id."""

    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # files or records that could not be read, with reasons
    chunks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FieldNames:
    """How an interface names a query's fields in its error messages (the API's
    ``filters.date_from``, the CLI's ``--date-from``); ``explain_dates``: a bad filter date says
    which part of it is wrong (the CLI), or only that it is not ISO 8601 (the API)."""

    date_from: str = "filters.date_from"
    date_to: str = "filters.date_to"
    as_of: str = "as_of"
    explain_dates: bool = False


API_NAMES = FieldNames()
CLI_NAMES = FieldNames("--date-from", "--date-to", "--as-of", explain_dates=True)


@dataclass(frozen=True)
class Query:
    """A question as an interface received it, not yet checked: ``Engine.check`` validates it
    once (question, ``top_k``, filter dates, ``as_of``) into a :class:`CheckedQuery`.

    ``history``: the earlier (question, answer) pairs of a conversation, oldest first;
    ``as_of``: the day time phrases are read from, as given (ISO 8601) or a ``date``; ``mode``:
    ``hybrid``, ``dense`` or ``bm25`` retrieval (``rag.retrieval.Mode``)."""

    question: str
    top_k: int | None = None
    filters: Filters = NO_FILTERS
    history: tuple[tuple[str, str], ...] = ()
    as_of: str | date | None = None
    mode: str = "hybrid"
    names: FieldNames = API_NAMES


@dataclass(frozen=True)
class CheckedQuery:
    """A :class:`Query` the engine has validated: the question stripped, ``top_k`` within
    ``1..RAG_MAX_TOP_K`` (the default filled in), the filter dates ISO 8601, ``as_of`` a day
    (None: today, UTC, when asked)."""

    question: str
    top_k: int
    filters: Filters
    history: tuple[tuple[str, str], ...]
    as_of: date | None
    mode: str


@dataclass(frozen=True)
class Retrieved:
    """``Engine.ask_steps``' first event: the passages the answer is read from."""

    passages: tuple[Passage, ...]


@dataclass(frozen=True)
class Answered:
    """``Engine.ask_steps``' last event: the answer."""

    answer: Answer


AskEvent = Retrieved | Answered
