"""The answer span: the short answer inside each quoted sentence.

Contract: :func:`with_spans` gives every citation of a composed answer that has no span yet
``answer_start``/``answer_end``, article offsets with ``start <= answer_start < answer_end <=
end`` (the quote's own span), read from the cross-encoder's span head (``rag.runtime.reranking``,
trained on SQuAD to point at the answer's first and last token). Without a reranker that has
the head (``RAG_RERANK=false``, the hash embedder) citations are returned unchanged, with no
span. A citation that already has a span (set by a composer step that knows better, such as a
who-is answer from named entities) keeps it.

Design. The reranker reads ``title: sentence`` (``rag.answering.compose.reranker_text``); each
backend returns, per pair, one row ``[char_start, char_end, start_logit, end_logit]`` for every
token of that text (``rag.runtime.pairs.token_rows``). Decoding is the usual one for extractive
readers: among the sentence's own tokens (not the title before it), the pair of tokens with the
highest start plus end logit, start not after end and at most ``MAX_ANSWER_TOKENS`` tokens long,
mapped to characters by the tokenizer's offsets and widened to whole words. The rows come with the
scores (``rag.runtime.pairs.PairReading``) and the reading carries them (``Reading.pairs``), so the
cited sentences, usually among the candidates the reranker has scored, cost no second pass; the
others (a statement cut from its sentence, a sentence the reranker did not score) are read in one
small batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import numpy as np

from rag.models import Citation
from rag.runtime.pairs import PairReading

if TYPE_CHECKING:
    from rag.answering.compose import Composition

# tokens a span may cover: chosen on the fit half among 8-50 (docs/experiments.md, Answer span)
MAX_ANSWER_TOKENS = 10
EDGE_PUNCTUATION = frozenset(",;:")  # never part of an answer at its edges (full stops may be)

C = TypeVar("C", bound="Composition")


@runtime_checkable
class SpanReader(Protocol):
    """A reranker whose readings carry its span head's logits per token (``token_rows``)."""

    def rerank(self, question: str, sentences: Sequence[str]) -> Sequence[PairReading]: ...


def best_span(rows: np.ndarray, skip: int = 0) -> tuple[int, int] | None:
    """Character span ``[a, b)`` in the read text of the best start/end token pair among the
    tokens at or after character ``skip`` (offsets returned relative to ``skip``)."""
    rows = rows[rows[:, 0] >= skip] if len(rows) else rows
    if not len(rows):
        return None
    n = len(rows)
    scores = rows[:, 2][:, None] + rows[:, 3][None, :]
    first, last = np.indices((n, n))
    scores[(last < first) | (last - first >= MAX_ANSWER_TOKENS)] = -np.inf
    a, b = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(rows[a, 0]) - skip, int(rows[b, 1]) - skip


def whole_words(text: str, a: int, b: int) -> tuple[int, int] | None:
    """``[a, b)`` clamped to ``text``, widened to whole words and trimmed of spaces and of
    clause punctuation at its edges; None when nothing is left."""
    a, b = max(0, min(a, len(text))), max(0, min(b, len(text)))
    while 0 < a < len(text) and text[a - 1].isalnum() and text[a].isalnum():
        a -= 1
    while 0 < b < len(text) and text[b - 1].isalnum() and text[b].isalnum():
        b += 1
    while a < b and (text[a].isspace() or text[a] in EDGE_PUNCTUATION):
        a += 1
    while b > a and (text[b - 1].isspace() or text[b - 1] in EDGE_PUNCTUATION):
        b -= 1
    return (a, b) if a < b else None


def read_text(title: str, quote: str) -> tuple[str, int]:
    """What the reranker reads for a quote (``answering.pair_text``: the start of the title,
    then the sentence) and where the sentence starts in it."""
    from rag.answering.compose import pair_text

    text = pair_text(title, quote)
    return text, len(text) - len(quote)


def token_logits(
    question: str, texts: Sequence[str], reranker: SpanReader, read: Sequence[PairReading]
) -> list[np.ndarray]:
    """Per text, its token rows: from ``read`` (what the reranker read for ``question``) where
    it has the text, the others read now (one call)."""
    found = {p.text: p.tokens for p in read}
    missing = list(dict.fromkeys(t for t in texts if t not in found))
    if missing:
        found.update((p.text, p.tokens) for p in reranker.rerank(question, missing))
    return [found[t] for t in texts]


def attach_spans(
    question: str,
    citations: Sequence[Citation],
    reranker: object | None,
    read: Sequence[PairReading] = (),
) -> tuple[Citation, ...]:
    """The citations, each without a span given the span the reranker's head reads in it
    (``read``: the pairs it has read for ``question`` already)."""
    todo = [i for i, c in enumerate(citations) if c.answer_start is None and c.quote]
    if not todo or not isinstance(reranker, SpanReader):
        return tuple(citations)
    reads = [read_text(citations[i].title, citations[i].quote) for i in todo]
    all_rows = token_logits(question, [text for text, _ in reads], reranker, read)
    out = list(citations)
    for i, (_, skip), rows in zip(todo, reads, all_rows, strict=True):
        c = citations[i]
        found = best_span(rows, skip)
        span = whole_words(c.quote, *found) if found else None
        if span is not None:
            out[i] = replace(c, answer_start=c.start + span[0], answer_end=c.start + span[1])
    return tuple(out)


def with_spans(
    composition: C, question: str, reranker: object | None, read: Sequence[PairReading] = ()
) -> C:
    """The composed answer with answer spans on its citations (see :func:`attach_spans`;
    ``read``: the reading's ``pairs``)."""
    if not composition.citations:
        return composition
    spans = attach_spans(question, composition.citations, reranker, read)
    return replace(composition, citations=spans)
