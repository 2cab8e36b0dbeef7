"""Applying a question's time phrase (``rag.timephrases.TimeFilter``) to answering.

``narrow`` turns it into retrieval ``Filters``; ``without_time`` gives the question to search
and read with once the filter stands for the phrase; ``prefer_latest`` puts newer articles
first among the answer's candidate sentences for "latest" questions; ``describe_time`` is the
line people read.

A range with no article in it, in an archive whose articles are dated, is not answered from
other dates: the answer abstains with ``NO_ARTICLE_IN_RANGE`` and carries, as ``closest``, the
newest statement that answers the question from before the range (``before_range``,
``nothing_in_range``), never as the answer. An undated archive (SQuAD, where "in 1895" is an
event's year, not a publication date) answers from all dates as before (``NOTHING_DATED``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from rag.answering import EXTRA_MARGIN, Composition, Reading
from rag.errors import InputError
from rag.models import Citation, Filters
from rag.stores.base import doc_of
from rag.stores.view import View
from rag.text import content_terms
from rag.timephrases import TimeFilter, names_date

# How far below the best score a "latest" candidate may be and still go first: copies of one
# statement differ by their chunks' retrieval ranks, by more than the composer's EXTRA_MARGIN,
# and a sentence on another point scores far lower (docs/experiments.md, "Time phrases").
LATEST_MARGIN = 4 * EXTRA_MARGIN
# The confidence of a "latest" answer from the newest dated article covering the question's
# topic: just above the fitted cut-off (0.5, rag.scoring), as a caption answer is
LATEST_CONFIDENCE = 0.55
# "The latest" is quoted from this many of the newest days that answer: the newest report
# and the one before it, as a news reader follows a story (not one sentence out of context)
LATEST_DAYS = 2
NOTHING_DATED = "no article is dated in that range: answered from all dates"
NO_ARTICLE_IN_RANGE = "no_article_in_range"  # the abstention reason
EMPTY_RANGE = "no article is dated in that range"


def without_time(question: str, time: TimeFilter | None) -> str:
    """The question to search and read with: without the time phrase when the date filter
    stands for it, since words like "last week" are not in the text that answers. A phrase
    naming a date is kept when it filters nothing (``applied`` False): in an undated archive
    "in 1895" is words of the answer's text."""
    if time is None or not time.has_range:
        return question
    if not time.applied and names_date(time.phrase):
        return question
    words = r"\s+".join(re.escape(w) for w in time.phrase.split())
    stripped = re.sub(rf"[,\s]*\b{words}\b", "", question, count=1, flags=re.IGNORECASE)
    stripped = stripped.strip(" ,;")
    return stripped if re.search(r"\w", stripped) else question


def narrow(filters: Filters, time: TimeFilter | None) -> Filters:
    """``filters`` with their dates intersected with the time phrase's range."""
    if time is None or not time.has_range or not time.applied:
        return filters
    starts = [d[:10] for d in (filters.date_from, time.date_from) if d is not None]
    ends = [d[:10] for d in (filters.date_to, time.date_to) if d is not None]
    start, end = (max(starts) if starts else None), (min(ends) if ends else None)
    if start is not None and end is not None and start > end:
        raise InputError(
            f'the question asks for "{time.phrase}" ({time.date_from} to '
            f"{time.date_to}), outside the date filter ({filters.date_from or '…'}"
            f" to {filters.date_to or '…'})"
        )
    return replace(filters, date_from=start, date_to=end)


def prefer_latest(reading: Reading, data: View, time: TimeFilter | None) -> Reading:
    """For "latest" questions, the best sentence of each of the ``LATEST_DAYS`` newest days
    that answer the question at all, newest first and scored alike (so the answer quotes
    them, ``rag.answering.choose``); every other candidate after them, scored below by more
    than ``EXTRA_MARGIN``. Other questions, and archives with no dated candidate, are
    unchanged.

    A sentence answers at all when it is within ``LATEST_MARGIN`` of the best one (copies and
    close wordings of one statement), or when it covers as many of the question's topic words
    (``topic_terms``) as the best-covering candidate does: "the latest on the Water
    Authority" is the newest sentence about the authority, however the scorer ranks it. When
    the newest one is dated and covers the topic, the confidence is at least
    ``LATEST_CONFIDENCE`` (the scorer reads a vague "what is the latest on X" as unanswered)."""
    if time is None or not time.latest or not dated(reading, data):
        return reading  # undated archives (SQuAD) keep the scorer's order
    best = float(reading.scores[0])
    topic = topic_terms(reading.question.text, time)
    cover = [len(topic & set(content_terms(data.sentence_text(r)))) for r in reading.rows]
    most = max(cover)
    day: dict[str, int] = {}  # the best answering sentence of each day
    for i, s in enumerate(reading.scores):
        if float(s) >= best - LATEST_MARGIN or (most > 0 and cover[i] == most):
            day.setdefault(data.article(doc_of(reading.rows[i])).date or "", i)
    picked = [day[d] for d in sorted(day, reverse=True)[:LATEST_DAYS]]
    order = picked + [i for i in range(len(reading.rows)) if i not in set(picked)]
    scores = reading.scores[order].astype(float)
    scores[: len(picked)] = best
    scores[len(picked) :] = np.minimum(scores[len(picked) :], best - 2 * EXTRA_MARGIN)
    confidence = reading.confidence
    newest = reading.rows[picked[0]]
    if data.article(doc_of(newest)).date and most > 0 and cover[picked[0]] == most:
        confidence = max(confidence, LATEST_CONFIDENCE)
    rows = [reading.rows[i] for i in order]
    return replace(reading, rows=rows, scores=scores, confidence=confidence)


def topic_terms(question: str, time: TimeFilter) -> set[str]:
    """The content words of the question without its time phrase and its "latest" words."""
    words = set(content_terms(question)) - set(content_terms(time.phrase))
    return words - set(content_terms("latest most recent recently newest now"))


def describe_time(time: dict[str, Any]) -> str:
    """One line for people from ``TimeFilter.to_dict()``, e.g.
    ``Time: "in March 2024" = 2024-03-01 to 2024-03-31``."""
    line = f'Time: "{time["phrase"]}"'
    if time.get("from") or time.get("to"):
        line += f" = {time.get('from') or 'any date'} to {time.get('to') or 'any date'}"
    if time.get("latest"):
        line += ", newest first"
    return line + (f" ({time['note']})" if time.get("note") else "")


def dated(reading: Reading, data: View) -> bool:
    """Whether any candidate's article has a publication date: an archive of dated news, where
    a time phrase is about publication, not an undated one where it names an event's year."""
    return any(data.article(doc_of(r)).date for r in reading.rows)


def empty_range(time: TimeFilter) -> TimeFilter:
    """``time`` marked as applied with no article in its range (its note says so)."""
    return replace(time, note=EMPTY_RANGE)


def is_empty_range(time: TimeFilter | None) -> bool:
    return time is not None and time.applied and time.note == EMPTY_RANGE


def before_range(filters: Filters, time: TimeFilter) -> Filters | None:
    """``filters`` ending the day before the range starts, where the closest earlier statement
    is looked for; None when the range has no start or the filters end before nothing."""
    if time.date_from is None:
        return None
    end = (date.fromisoformat(time.date_from[:10]) - timedelta(days=1)).isoformat()
    if filters.date_to is not None:
        end = min(end, filters.date_to[:10])
    if filters.date_from is not None and filters.date_from[:10] > end:
        return None
    return replace(filters, date_to=end)


def newest_first(time: TimeFilter) -> TimeFilter:
    """``time`` asking for the newest candidates first (for the closest statement)."""
    return replace(time, latest=True)


def nothing_in_range(earlier: Composition | None) -> Composition:
    """The abstention for a range with no article: reason ``NO_ARTICLE_IN_RANGE``, with the
    citations of ``earlier`` (the answer from before the range, when it found one) from its
    newest article as its ``closest`` item: the newest statement, all of what it quotes."""
    closest: tuple[Citation, ...] = ()
    if earlier is not None and not earlier.abstained and earlier.citations:
        newest = max(earlier.citations, key=lambda c: c.date or "").doc_id
        kept = [c for c in earlier.citations if c.doc_id == newest]
        closest = tuple(replace(c, n=n) for n, c in enumerate(kept, start=1))
    return Composition((), "", 0.0, True, NO_ARTICLE_IN_RANGE, closest)
