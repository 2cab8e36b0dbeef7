"""Figures that changed: one count reported by several articles on different days.

"How many people were sickened?" over a wire report of 140 on the 6th and a local paper's 212
on the 11th: the two sentences compete, so the scorer's confidence (which reads the margin
between the best candidates, ``rag.answering.scoring``) is low although each one answers. News
readers expect both, newest first, dated: figures change as a story goes on.

Contract: :func:`changed_figures` gives the indexes (into the candidate rows) of such reports,
newest article first, or None. A report is a candidate among the best ``FIGURE_DEPTH`` that
holds a number and every content word of the question (what is counted: "people",
"sickened"), from a dated article; there must be reports from at least two dates with
different numbers, and the best candidate must be one of them. Undated archives (SQuAD) never
qualify: a date is what makes two figures an update rather than a disagreement.
"""

from __future__ import annotations

import re

from rag.stores.view import View
from rag.text import content_terms

# The confidence of an answer made of changed figures: each report answers the question and
# the others corroborate what is counted; just above the fitted cut-off (0.5,
# rag.answering.scoring), as a caption answer is (rag.answering.compose.CAPTION_CONFIDENCE)
FIGURES_CONFIDENCE = 0.55
FIGURE_DEPTH = 5  # candidates looked at: reports of one figure score close to the best
MAX_FIGURES = 3  # reports quoted, newest first (as many as an answer's sentences)
_COUNT = re.compile(r"^\s*how\s+(?:many|much)\b", re.IGNORECASE)
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)\b",
    re.IGNORECASE,
)


def changed_figures(question: str, rows: list[int], data: View) -> list[int] | None:
    """Indexes into ``rows`` (candidate sentences, best first) of the reports of one figure
    from different days, newest first (see the module's contract)."""
    if not _COUNT.match(question) or not rows:
        return None
    counted = set(content_terms(_COUNT.sub("", question)))
    reports: dict[str, tuple[int, frozenset[str]]] = {}  # date -> (index, numbers)
    for i, row in enumerate(rows[:FIGURE_DEPTH]):
        text = data.sentence_text(row)
        numbers = frozenset(n.lower() for n in _NUMBER.findall(text))
        day = data.article_of(row).date
        if not day or not numbers or not counted <= set(content_terms(text)):
            continue
        reports.setdefault(day[:10], (i, numbers))
    if len(reports) < 2 or len({n for _, n in reports.values()}) < 2:
        return None
    if not any(i == 0 for i, _ in reports.values()):
        return None
    return [reports[day][0] for day in sorted(reports, reverse=True)][:MAX_FIGURES]
