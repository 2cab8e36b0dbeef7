"""Speaker answers: what one person said, gathered across articles and dated, newest first.

"What did X say (about Y)?" over an archive is rarely one sentence: X spoke on several days
and in several articles. The composer asks :func:`speaker_statements` for the candidate
sentences that X says (``rag.speakers.speaks`` >= ``SAYS``), that are about the topic when
the question names one, and that score within ``STATEMENT_MARGIN`` of X's best statement; it
keeps at most ``MAX_STATEMENTS`` distinct ones (the same quote carried by two outlets counts
once) and orders them newest article first, in article order within one article.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag.features import speaker_score
from rag.stores.base import doc_of, ordinal_of
from rag.stores.view import View
from rag.text import content_terms

if TYPE_CHECKING:
    from rag.answering import Reading

MAX_STATEMENTS = 5  # the "up to 5": enough for a week of a minister's remarks
# 0.8 is the speaker score of a pronoun or title resolved to the speaker in the same paragraph
SAYS = 0.8
# Statements by the speaker all carry the speaker feature's large weight, so what separates
# them is relevance: 8 keeps Kihara's two seed statements (17.4 and 13.1) and drops sentences
# that only mention him (below 4 on the seed; docs/experiments.md, "Speaker statements").
STATEMENT_MARGIN = 8.0


def speaker_statements(reading: Reading, data: View, limit: int = MAX_STATEMENTS) -> list[int]:
    """Indexes into ``reading.rows`` of the speaker's distinct relevant statements, newest
    article first; empty when the question names no speaker or the speaker says nothing."""
    q = reading.question
    if q.speaker is None:
        return []
    topic = set(content_terms(q.speaker.topic)) if q.speaker.topic else set()
    best: float | None = None
    chosen: dict[str, int] = {}  # normalised text -> index of the newest copy
    for i, row in enumerate(reading.rows):
        score = float(reading.scores[i])
        if best is not None and score < best - STATEMENT_MARGIN:
            break
        text = data.sentence_text(row)
        if speaker_score(q, data, row, text) < SAYS or not _on_topic(topic, data, row):
            continue
        key = _normalised(text)
        if key in chosen:  # the same quote carried by another article: keep the newest
            if _date(data, row) > _date(data, reading.rows[chosen[key]]):
                chosen[key] = i
            continue
        if len(chosen) >= limit:
            continue  # still looking for newer copies of the chosen quotes
        best = score if best is None else best
        chosen[key] = i
    return newest_first(list(chosen.values()), reading.rows, data)


def _date(data: View, row: int) -> str:
    return data.article(doc_of(row)).date or ""


def newest_first(indexes: list[int], rows: list[int], data: View) -> list[int]:
    """``indexes`` ordered by their article's date, newest first (undated last), then by the
    sentence's place in its article."""

    def key(i: int) -> tuple[str, int, int]:
        row = rows[i]
        return (_date(data, row), -doc_of(row), -ordinal_of(row))

    return sorted(indexes, key=key, reverse=True)


def _on_topic(topic: set[str], data: View, row: int) -> bool:
    """The sentence, or the one before it (which often names the subject), shares a term with
    the question's topic; any sentence is on topic when the question names none."""
    if not topic:
        return True
    words = set(content_terms(data.sentence_text(row)))
    previous = row - 1
    if doc_of(previous) == doc_of(row) and data.has_sentence(previous):
        words |= set(content_terms(data.sentence_text(previous)))
    return bool(words & topic)


def _normalised(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
