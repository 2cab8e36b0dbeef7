"""Turning a question's time phrase (``rag.time.phrases.TimeFilter``) into retrieval.

``narrow`` turns it into retrieval ``Filters``; ``without_time`` gives the question to search
and read with once the filter stands for the phrase (the line people read is
``rag.cli.view.describe_time``); ``before_range`` and ``newest_first`` ask for the closest
statement before an empty range. Applying it to an answer's candidates is ``rag.answering.latest``.

An undated archive (SQuAD, where "in 1895" is an event's year, not a publication date)
answers from all dates as before (``NOTHING_DATED``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

from rag.errors import InputError
from rag.models import Filters
from rag.text import content_terms
from rag.time.phrases import TimeFilter, names_date

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


def topic_terms(question: str, time: TimeFilter) -> set[str]:
    """The content words of the question without its time phrase and its "latest" words."""
    words = set(content_terms(question)) - set(content_terms(time.phrase))
    return words - set(content_terms("latest most recent recently newest now"))


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
