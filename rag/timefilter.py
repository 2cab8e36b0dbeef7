"""Applying a question's time phrase (``rag.timephrases.TimeFilter``) to answering.

``narrow`` turns it into retrieval ``Filters``; ``without_time`` gives the question to search
and read with once the filter stands for the phrase; ``prefer_latest`` puts newer articles
first among the answer's candidate sentences for "latest" questions; ``describe_time`` is the
line people read.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from rag.answering import EXTRA_MARGIN, Reading
from rag.errors import InputError
from rag.models import Filters
from rag.stores.base import doc_of
from rag.stores.view import View
from rag.timephrases import TimeFilter, names_date

# How far below the best score a "latest" candidate may be and still go first: copies of one
# statement differ by their chunks' retrieval ranks, by more than the composer's EXTRA_MARGIN,
# and a sentence on another point scores far lower (docs/experiments.md, "Time phrases").
LATEST_MARGIN = 4 * EXTRA_MARGIN
NOTHING_DATED = "no article is dated in that range: answered from all dates"


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
    """For "latest" questions, the candidates within ``LATEST_MARGIN`` of the best one, newest
    article first (undated last; equal dates keep their order). Others are unchanged."""
    if time is None or not time.latest or not reading.rows:
        return reading
    best = float(reading.scores[0])
    close = sum(1 for s in reading.scores if float(s) >= best - LATEST_MARGIN)
    dated = [(data.article(doc_of(r)).date or "", i) for i, r in enumerate(reading.rows[:close])]
    order = [i for _, i in sorted(dated, key=lambda x: x[0], reverse=True)]
    order += list(range(close, len(reading.rows)))
    return replace(reading, rows=[reading.rows[i] for i in order], scores=reading.scores[order])


def describe_time(time: dict[str, Any]) -> str:
    """One line for people from ``TimeFilter.to_dict()``, e.g.
    ``Time: "in March 2024" = 2024-03-01 to 2024-03-31``."""
    line = f'Time: "{time["phrase"]}"'
    if time.get("from") or time.get("to"):
        line += f" = {time.get('from') or 'any date'} to {time.get('to') or 'any date'}"
    if time.get("latest"):
        line += ", newest first"
    return line + (f" ({time['note']})" if time.get("note") else "")
