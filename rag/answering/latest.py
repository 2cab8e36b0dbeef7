"""Applying a question's time phrase to its answer's candidates.

``prefer_latest`` puts newer articles first among the answer's candidate sentences for
"latest" questions. A range with no article in it, in an archive whose articles are dated, is
not answered from other dates: ``nothing_in_range`` abstains with ``NO_ARTICLE_IN_RANGE`` and
carries, as ``closest``, the newest statement that answers the question from before the range,
never as the answer.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rag.answering.compose import EXTRA_MARGIN, Composition, Reading
from rag.models import Citation
from rag.stores.view import View
from rag.text import content_terms
from rag.time.filter import NO_ARTICLE_IN_RANGE, topic_terms
from rag.time.phrases import TimeFilter

# How far below the best score a "latest" candidate may be and still go first: copies of one
# statement differ by their chunks' retrieval ranks, by more than the composer's EXTRA_MARGIN,
# and a sentence on another point scores far lower (docs/experiments.md, "Time phrases").
LATEST_MARGIN = 4 * EXTRA_MARGIN
# The confidence of a "latest" answer from the newest dated article covering the question's
# topic: just above the fitted cut-off (0.5, rag.answering.scoring), as a caption answer is
LATEST_CONFIDENCE = 0.55
# "The latest" is quoted from this many of the newest days that answer: the newest report
# and the one before it, as a news reader follows a story (not one sentence out of context)
LATEST_DAYS = 2


def prefer_latest(reading: Reading, data: View, time: TimeFilter | None) -> Reading:
    """For "latest" questions, the best sentence of each of the ``LATEST_DAYS`` newest days
    that answer the question at all, newest first and scored alike (so the answer quotes
    them, ``rag.answering.compose.choose``); every other candidate after them, scored below by more
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
            day.setdefault(data.article_of(reading.rows[i]).date or "", i)
    picked = [day[d] for d in sorted(day, reverse=True)[:LATEST_DAYS]]
    order = picked + [i for i in range(len(reading.rows)) if i not in set(picked)]
    scores = reading.scores[order].astype(float)
    scores[: len(picked)] = best
    scores[len(picked) :] = np.minimum(scores[len(picked) :], best - 2 * EXTRA_MARGIN)
    confidence = reading.confidence
    newest = reading.rows[picked[0]]
    if data.article_of(newest).date and most > 0 and cover[picked[0]] == most:
        confidence = max(confidence, LATEST_CONFIDENCE)
    rows = [reading.rows[i] for i in order]
    return replace(reading, rows=rows, scores=scores, confidence=confidence)


def dated(reading: Reading, data: View) -> bool:
    """Whether any candidate's article has a publication date: an archive of dated news, where
    a time phrase is about publication, not an undated one where it names an event's year."""
    return any(data.article_of(r).date for r in reading.rows)


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
