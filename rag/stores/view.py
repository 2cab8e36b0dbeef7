"""A view for answering: a store reader plus the texts and spans of the articles it touched.

Retrieval, features and the composer read through a :class:`View`: searches go to the reader;
article texts, sentence spans and chunk ranges are fetched per article on first use (one
round trip for a whole pool with :meth:`View.load`) and kept for the view's lifetime.

The reader is one consistent state of the store for searches, statistics and vectors. A
backend may read texts from its latest state (the local store does; PostgreSQL reads them from
the reader's snapshot), so an article found by a search may be gone by the time its text is
fetched (deleted, replaced, or a rebuild swapped in): the view is then ``lost`` and the engine
reads the question again from a renewed view (:meth:`View.renew`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from rag.models import Copy, Filters
from rag.stores.base import ArticleRecord, DocData, StoreReader, doc_of, handle, ordinal_of


class View:
    def __init__(self, reader: StoreReader) -> None:
        self.reader = reader
        self._docs: dict[int, DocData | None] = {}
        self._groups: dict[str, tuple[Copy, ...]] = {}
        self.lost = False  # an article found by a search was gone when its text was fetched

    def renew(self, reader: StoreReader) -> None:
        """Start over from ``reader`` (a newer state of the store); the old one is closed."""
        if reader is not self.reader:
            self.reader.close()
        self.reader = reader
        self._docs.clear()
        self._groups.clear()
        self.lost = False

    # -- delegated searches ----------------------------------------------------------------
    def chunk_count(self) -> int:
        return self.reader.chunk_count()

    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.reader.dense_search(vector, k, filters)

    def lexical_search(
        self, terms: Sequence[str], k: int, filters: Filters
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.reader.lexical_search(terms, k, filters)

    def term_stats(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        return self.reader.term_stats(terms)

    def chunk_vectors(self, handles: np.ndarray) -> np.ndarray:
        return self.reader.chunk_vectors(handles)

    def sentence_vectors(self, handles: Sequence[int]) -> np.ndarray:
        return self.reader.sentence_vectors(handles)

    # -- texts -----------------------------------------------------------------------------
    def load(self, handles: Iterable[int]) -> None:
        """Fetch the articles of ``handles`` (chunk or sentence handles) in one call."""
        keys = {int(doc_of(h)) for h in handles} - set(self._docs)
        if keys:
            found = self.reader.documents(keys)
            for key in keys:
                self._docs[key] = found.get(key)
            self.lost = self.lost or len(found) < len(keys)

    def doc(self, key: int) -> DocData | None:
        if key not in self._docs:
            self.load([handle(key, 0)])
        return self._docs[key]

    def has_doc(self, key: int) -> bool:
        return self.doc(key) is not None

    def article(self, key: int) -> ArticleRecord:
        d = self.doc(key)
        if d is None:
            raise KeyError(f"article {key} is no longer stored")
        return d.article

    # -- the articles of handles: answering reads them here, never by unpacking a handle ------
    def article_of(self, h: int) -> ArticleRecord:
        """The article of sentence or chunk handle ``h`` (KeyError when it is gone)."""
        return self.article(doc_of(h))

    def article_key(self, h: int) -> int:
        """The key of the article of handle ``h``: equal for the handles of one article, and
        what :meth:`article` takes."""
        return int(doc_of(h))

    def article_keys(self, handles: Sequence[int]) -> np.ndarray:
        """:meth:`article_key` of each handle (int64)."""
        return np.asarray(doc_of(np.asarray(handles, np.int64)), np.int64)

    def has_article_of(self, h: int) -> bool:
        """Whether the article of handle ``h`` is still stored."""
        return self.has_doc(doc_of(h))

    def same_article(self, a: int, b: int) -> bool:
        """Whether handles ``a`` and ``b`` are in one article."""
        return bool(doc_of(a) == doc_of(b))

    def neighbour(self, h: int, step: int) -> int | None:
        """The sentence ``step`` places after sentence ``h`` (before it when negative) in the
        same article; None when the article has none there."""
        other = int(h) + step
        key = doc_of(other)
        if key != doc_of(h):
            return None
        d = self.doc(key)
        return other if d is not None and ordinal_of(other) < len(d.sent_start) else None

    def place(self, h: int) -> tuple[int, int]:
        """``(article key, ordinal)`` of handle ``h``: handles sort like their places."""
        return int(doc_of(h)), ordinal_of(h)

    # -- story groups ----------------------------------------------------------------------
    def group_members(self, group_ids: Iterable[str]) -> dict[str, tuple[Copy, ...]]:
        """The articles of each story group (one round trip for those not yet fetched)."""
        wanted = set(group_ids)
        missing = wanted - set(self._groups)
        if missing:
            found = self.reader.group_members(missing)
            for g in missing:
                self._groups[g] = found.get(g, ())
        return {g: self._groups[g] for g in wanted}

    def key_of(self, doc_id: str) -> int | None:
        """The key of the loaded article ``doc_id`` (None when the view has not loaded it)."""
        for key, d in self._docs.items():
            if d is not None and d.article.doc_id == doc_id:
                return key
        return None

    def copies(self, key: int) -> tuple[Copy, ...]:
        """The other articles of article ``key``'s story group, by doc_id."""
        a = self.article(key)
        members = self.group_members([a.group_id])[a.group_id]
        return tuple(c for c in members if c.doc_id != a.doc_id)

    def has_sentence(self, h: int) -> bool:
        d = self.doc(doc_of(h))
        return d is not None and 0 <= ordinal_of(h) < len(d.sent_start)

    def sentence_span(self, h: int) -> tuple[int, int]:
        d = self.doc(doc_of(h))
        assert d is not None
        i = ordinal_of(h)
        return int(d.sent_start[i]), int(d.sent_end[i])

    def sentence_text(self, h: int) -> str:
        start, end = self.sentence_span(h)
        return self.article(doc_of(h)).text[start:end]

    def chunk_span(self, h: int) -> tuple[int, int]:
        d = self.doc(doc_of(h))
        assert d is not None
        i = ordinal_of(h)
        return int(d.chunk_start[i]), int(d.chunk_end[i])

    def chunk_text(self, h: int) -> str:
        start, end = self.chunk_span(h)
        return self.article(doc_of(h)).text[start:end]

    def chunk_id(self, h: int) -> str:
        return f"{self.article(doc_of(h)).doc_id}#{ordinal_of(h)}"

    def chunk_sentences(self, h: int) -> range:
        """Handles of the quotable sentences that overlap chunk ``h``."""
        d = self.doc(doc_of(h))
        i, key = ordinal_of(h), doc_of(h)
        if d is None or i >= len(d.chunk_start):
            return range(0)
        return range(handle(key, int(d.chunk_sent_lo[i])), handle(key, int(d.chunk_sent_hi[i])))
