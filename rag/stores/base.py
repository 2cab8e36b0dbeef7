"""The store port: what retrieval, answering and the engine need from where articles are kept.

Two protocols, kept small so that a backend is one class each:

- :class:`StoreReader` is a consistent view for answering one question: dense and lexical
  top-k with filters applied inside the store, chunk and sentence vectors by handle, the term
  statistics the features weigh, and the texts and sentence spans of given articles.
- :class:`Store` adds writes (an article and all its rows at once), documents, counts,
  compaction, and hands out readers.

Chunks and sentences are named by integer *handles* that pack the article's key and the
chunk's or sentence's ordinal within the article (``doc_key << ORDINAL_BITS | ordinal``):
the article of a handle is ``handle >> ORDINAL_BITS`` and the sentences of an article are
consecutive handles, so "the sentence before" is ``handle - 1`` when it has the same article.
Handles stay valid while the article is unchanged; replacing an article gives it a new key.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from rag.models import Article, Copy, Filters

ORDINAL_BITS = 20  # up to about a million chunks or sentences in one article
ORDINAL_MASK = (1 << ORDINAL_BITS) - 1
STORE_FORMAT = 2  # the local store's layout version; 1 was the generation-folder index


def handle(doc_key: int, ordinal: int) -> int:
    return (int(doc_key) << ORDINAL_BITS) | int(ordinal)


def doc_of(handles: Any) -> Any:
    """The article key of a handle, or of each handle in an array."""
    if isinstance(handles, np.ndarray):
        return handles >> ORDINAL_BITS
    return int(handles) >> ORDINAL_BITS


def ordinal_of(h: int) -> int:
    return int(h) & ORDINAL_MASK


Entity = tuple[int, int, str]  # (start, end, label): a named entity's span in the article text


@dataclass(frozen=True)
class ArticleRecord:
    """An article as stored: ``text`` is exactly what every offset refers to.

    Its named entities stay as stored (``entities_json``, compact JSON) until ``entities`` is
    first read: a question's pool holds many articles, and only the few a who-is question reads
    are decoded (decoding every pooled article's entities was about half of an answer)."""

    doc_id: str
    title: str
    text: str
    url: str | None
    date: str | None
    source: str | None
    content_hash: str
    ingested_at: str
    author: str | None = None
    doc_key: int = 0
    entities_json: str = "[]"  # ``encode_entities`` text, as stored
    group_id: str = ""  # the story group: the doc_id of a member (its own when alone)

    @cached_property
    def entities(self) -> tuple[Entity, ...]:
        """Named entities found at ingest, decoded on first read."""
        return decode_entities(self.entities_json)


def encode_entities(entities: Sequence[Entity]) -> str:
    """Entity spans as compact JSON text (``[[start, end, label], ...]``)."""
    return json.dumps(
        [[int(s), int(e), str(label)] for s, e, label in entities], separators=(",", ":")
    )


def decode_entities(text: str | None) -> tuple[Entity, ...]:
    return tuple((int(s), int(e), str(label)) for s, e, label in json.loads(text or "[]"))


@dataclass(frozen=True)
class DuplicateCandidate:
    """A stored article that shares at least one LSH band key with a new one."""

    doc_id: str
    group_id: str
    signature: bytes  # its MinHash signature (``rag.answering.duplicates``)


@dataclass(frozen=True)
class DocData:
    """One article with its quotable sentence spans and its chunks (sentence ranges are
    ordinals into ``sent_start``/``sent_end``, ``[lo, hi)``)."""

    article: ArticleRecord
    sent_start: np.ndarray
    sent_end: np.ndarray
    chunk_start: np.ndarray
    chunk_end: np.ndarray
    chunk_sent_lo: np.ndarray
    chunk_sent_hi: np.ndarray


@dataclass(frozen=True)
class PreparedArticle:
    """An article ready to store: its chunks and quotable sentences with their vectors.

    ``chunk_terms`` are the lexical terms of each chunk (``rag.text.content_terms``)."""

    article: Article
    chunk_start: np.ndarray
    chunk_end: np.ndarray
    chunk_sent_lo: np.ndarray
    chunk_sent_hi: np.ndarray
    sent_start: np.ndarray
    sent_end: np.ndarray
    chunk_vectors: np.ndarray  # (chunks, dimension) float32, L2-normalised
    sentence_vectors: np.ndarray  # (sentences, dimension)
    chunk_terms: tuple[tuple[str, ...], ...]
    entities: tuple[Entity, ...] = ()  # named entities found at ingest, if any
    # the story group it joins (a member's group_id); None: its own group (its doc_id)
    group_id: str | None = None
    signature: bytes = b""  # its MinHash signature; empty: never a duplicate candidate
    band_keys: tuple[int, ...] = ()  # its LSH band keys (signed 64-bit)


def article_values(p: PreparedArticle) -> tuple[object, ...]:
    """doc_id, title, text, url, date, source, author and content hash, as stores keep them."""
    a = p.article
    return (
        a.doc_id,
        a.title,
        a.text,
        a.url,
        a.date,
        a.source,
        getattr(a, "author", None),
        a.content_hash,
    )


def group_values(p: PreparedArticle) -> tuple[object, ...]:
    """entities (JSON), group_id (its own doc_id when alone) and signature, as stored."""
    return (encode_entities(p.entities), p.group_id or p.article.doc_id, p.signature or None)


def groups_left(add: Sequence[PreparedArticle], dropped: Collection[str]) -> list[str]:
    """Group labels that lose their namesake in a write: each dropped (replaced or deleted)
    doc_id whose new version, if any, does not rejoin the group named after it. Stores
    relabel the other members of such a group to their smallest doc_id, so the rest stays one
    group and the new version is alone."""
    rejoined = {p.article.doc_id for p in add if p.group_id == p.article.doc_id}
    return sorted(d for d in dropped if d not in rejoined)


@dataclass(frozen=True)
class DocumentSummary:
    doc_id: str
    title: str
    url: str | None
    date: str | None
    source: str | None
    chars: int
    chunks: int
    content_hash: str
    ingested_at: str
    author: str | None = None


@dataclass(frozen=True)
class StoreInfo:
    """What an index was built with; adding to it with other values is refused."""

    model: str
    dimension: int
    chunking: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteResult:
    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()


class StoreReader(Protocol):
    """A consistent view of the store for one question (or one evaluation pass): searches,
    term statistics, counts and vectors all come from one committed state, so a write that
    commits while a question is answered is seen by the next question, never by half of this
    one. Texts (``documents``) are of that state or gone (absent), never of a later version.
    A reader may hold resources (a database transaction) until :meth:`close` or until it is
    dropped."""

    def close(self) -> None:
        """Let go of what the view holds; it is not used after."""
        ...

    def chunk_count(self) -> int: ...

    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters
    ) -> tuple[np.ndarray, np.ndarray]:
        """Chunk handles and cosine similarities, best first (approximate when large)."""
        ...

    def lexical_search(
        self, terms: Sequence[str], k: int, filters: Filters
    ) -> tuple[np.ndarray, np.ndarray]:
        """Chunk handles and lexical scores (> 0), best first."""
        ...

    def chunk_vectors(self, handles: np.ndarray) -> np.ndarray: ...

    def sentence_vectors(self, handles: Sequence[int]) -> np.ndarray: ...

    def term_stats(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """The number of chunks and each term's chunk frequency."""
        ...

    def documents(self, doc_keys: Collection[int]) -> dict[int, DocData]:
        """Texts and spans of the given articles; keys that no longer exist are left out."""
        ...

    def duplicate_candidates(self, band_keys: Collection[int]) -> list[DuplicateCandidate]:
        """Stored articles with a signature that share any of these LSH band keys."""
        ...

    def group_members(self, group_ids: Collection[str]) -> dict[str, tuple[Copy, ...]]:
        """The articles of each given story group, by doc_id (groups with none left out)."""
        ...


class Store(Protocol):
    """Articles with their chunks, sentences, vectors and lexical index, kept somewhere."""

    def info(self) -> StoreInfo | None:
        """What the store was built with; None when it holds nothing yet."""
        ...

    def reader(self) -> StoreReader:
        """A view of the latest committed state (cheap when nothing changed)."""
        ...

    def write(
        self, info: StoreInfo, add: Sequence[PreparedArticle], delete: Collection[str] = ()
    ) -> WriteResult:
        """Add or replace (same ``doc_id``) articles and delete others, atomically."""
        ...

    def content_hashes(self, doc_ids: Collection[str]) -> dict[str, str]: ...

    def document(self, doc_id: str) -> ArticleRecord | None: ...

    def list_documents(self, limit: int, after: str | None = None) -> list[DocumentSummary]:
        """A page of documents ordered by ``doc_id``, starting after ``after``."""
        ...

    def counts(self) -> dict[str, int]: ...

    def compact(self) -> None:
        """Merge what has piled up and drop deleted rows (readers keep working)."""
        ...

    def reset(self) -> None:
        """Remove everything at once (benchmarks; ``rag ingest --rebuild`` uses
        :meth:`rebuilding`, which never leaves an empty index)."""
        ...

    def rebuilding(self) -> AbstractContextManager[Store]:
        """An empty store built aside, to fill inside the ``with`` block (``rag ingest
        --rebuild``). This store keeps answering meanwhile; when the block ends without an
        error the new one replaces it atomically (readers see it at their next question),
        otherwise it is thrown away. A crash at any moment leaves the old store or the new
        one whole, and the next writer removes what the rebuild left."""
        ...

    def close(self) -> None: ...
