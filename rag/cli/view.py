"""What the ``rag`` command line prints for people: answers, sources, articles, the index.

Design: reader's words by default. Offsets ("characters 1202-1429"), abstention reasons and
confidences are developer detail: they are in ``--json`` always and in the human output with
``--verbose`` only. Dates print one way, as the day (``2024-04-12``), whether an article was
dated by its front matter or by a feed's timestamp (``2024-04-12T08:00:00Z``); ``--json``
keeps them as stored. The commands (``rag.cli.commands``) decide what to show; this module says it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rag.models import Answer, Citation, Copy, Passage

# the answer span inside each quote: bold on a terminal, Markdown-style asterisks elsewhere
BOLD = ("\x1b[1m", "\x1b[22m")
PLAIN_MARKS = ("**", "**")
SHOWN_PASSAGES = 3  # closest passages shown with an abstention: enough to judge, not a page

# Abstentions in reader's words. Only the reasons that mean the articles lack the answer say
# "don't say"; a low confidence means the answer may be there but none was found for sure.
ABSTENTIONS = {
    "no_relevant_passage": "The articles don't say: nothing in them matches the question.",
    "speaker_not_quoted": "The articles don't quote the person asked about on this.",
    "entity_not_found": "The articles don't say: none names what the question asks about.",
    "low_confidence": "No confident answer was found in the articles.",
    "not_stated": "The articles are about this, but none of their sentences says the answer.",
    "no_article_in_range": "No article is dated in the time the question names.",
}
_HEADING_MARK = re.compile(r"(?m)^#{1,6}[ \t]+")  # Markdown's "# ", not words to a reader
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}(?=$|[T ])")


def span_marks() -> tuple[str, str]:
    """Bold when stdout is a terminal (not with ``NO_COLOR`` or ``TERM=dumb``), else ``**``."""
    plain = os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb"
    return BOLD if sys.stdout.isatty() and not plain else PLAIN_MARKS


def day(value: str | None) -> str | None:
    """A stored date as the day it names: ``2024-04-12T08:00:00Z`` -> ``2024-04-12``."""
    if not value:
        return None
    found = _ISO_DAY.match(value)
    return found.group(0) if found else value


def render(answer: Answer, marks: tuple[str, str] = PLAIN_MARKS, verbose: bool = False) -> str:
    """Human-readable answer: the time the question names, quotes (each answer span between
    ``marks``), then the numbered sources; or the abstention and the closest passages."""
    if answer.time_filter is not None:
        rest = render(replace(answer, time_filter=None), marks, verbose)
        return f"{describe_time(answer.time_filter)}\n{rest}"
    if answer.abstained:
        return _abstention(answer, verbose)
    lines = [emphasise(answer.answer, answer.citations, *marks), "", "Sources:"]
    for c in answer.citations:
        lines.append(f"[{c.n}] {source_line(c, verbose)}")
        if c.also_in:  # the other copies of the story (rag.answering.duplicates)
            lines.append(f"    also in: {copies(c.also_in)}")
    return "\n".join(lines)


def emphasise(text: str, citations: Sequence[Citation], before: str, after: str) -> str:
    """``text`` (an answer made of the citations' quotes, in order) with each citation's answer
    span wrapped in ``before`` and ``after``; a quote not found in it is left as it is."""
    pos = 0
    for c in citations:
        if c.answer_start is None or c.answer_end is None:
            continue
        at = text.find(c.quote, pos)
        if at < 0 or not c.start <= c.answer_start < c.answer_end <= c.end:
            continue
        a, b = at + c.answer_start - c.start, at + c.answer_end - c.start
        text = f"{text[:a]}{before}{text[a:b]}{after}{text[b:]}"
        pos = at + len(c.quote) + len(before) + len(after)
    return text


def describe_time(time: dict[str, Any]) -> str:
    """One line for people from ``TimeFilter.to_dict()``, e.g.
    ``Time: "in March 2024" = 2024-03-01 to 2024-03-31``."""
    line = f'Time: "{time["phrase"]}"'
    if time.get("from") or time.get("to"):
        line += f" = {time.get('from') or 'any date'} to {time.get('to') or 'any date'}"
    if time.get("latest"):
        line += ", newest first"
    return line + (f" ({time['note']})" if time.get("note") else "")


def source_line(c: Citation, verbose: bool = False) -> str:
    """``Title (Outlet, 2024-04-12, https://...)``: where to read it; an article without a
    URL is named by its id (``rag documents`` lists it), a quote from a photo caption says so.
    ``verbose`` adds the id and offsets."""
    where = [x for x in (c.source, day(c.date), c.url) if x] or [c.doc_id]
    if c.from_caption:  # a who-is answer's last resort: say it is a photo caption
        where.append("photo caption")
    if verbose:
        where += [c.doc_id, f"characters {c.start}-{c.end}"]
    return f"{c.title} ({', '.join(dict.fromkeys(where))})"  # each once: an id may be the URL


def _abstention(answer: Answer, verbose: bool) -> str:
    lines = [ABSTENTIONS.get(answer.reason or "", "The articles don't say.")]
    if verbose:
        lines[0] += f" (reason: {answer.reason}, confidence {answer.confidence:.2f})"
    if answer.closest:  # rag.time.filter: from before the range, never the answer
        lines.append("\nClosest, before the range (not an answer to the question):")
        for c in answer.closest:
            lines.append(f"- {c.quote}\n  {source_line(c, verbose)}")
    if answer.passages:
        lines.append("\nThe closest passages:")
        for p in answer.passages[:SHOWN_PASSAGES]:
            detail = f" ({p.doc_id} [{p.start}:{p.end}])" if verbose else ""
            lines.append(f"- {clip(_HEADING_MARK.sub('', p.text))}{detail}")
    return "\n".join(lines)


def copies(found: Sequence[Copy]) -> str:
    """Where else a story appeared: "Herald (2024-03-04), Reuters"."""
    return ", ".join(
        (x.source or x.doc_id) + (f" ({day(x.date)})" if x.date else "") for x in found
    )


def clip(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def passage_lines(n: int, p: Passage, doc: dict[str, Any], fused_rank: int) -> str:
    """One search result: the article, then the passage's place and scores, then its text."""
    where = ", ".join(x for x in (doc.get("source"), day(doc.get("date"))) if x)
    return (
        f"{n}. {clip(doc['title'], 90)}"
        + (f" ({where})" if where else "")
        + f"\n   {p.doc_id} [{p.start}:{p.end}]  retrieval rank {fused_rank}, "
        f"fused score {p.score:.4f}\n   {clip(p.text)}"
        + (f"\n   also in: {copies(p.also_in)}" if p.also_in else "")
    )


def newest_first(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Articles newest first, undated ones last (by id within a day and among the undated)."""
    by_id = sorted(docs, key=lambda d: d["doc_id"])
    dated = sorted((d for d in by_id if d.get("date")), key=lambda d: d["date"], reverse=True)
    return dated + [d for d in by_id if not d.get("date")]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 chunk``, ``2 chunks``."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def document_lines(d: dict[str, Any]) -> str:
    """An article in ``rag documents``: title, then outlet, day, id and chunk count."""
    return (
        f"{clip(d['title'], 80)}\n   {d.get('source') or '-'} | {day(d.get('date')) or '-'} | "
        f"{d['doc_id']} | {plural(d['chunks'], 'chunk')}"
    )


def stats_summary(stats: dict[str, Any]) -> str:
    """``rag stats`` for people: what the index holds, which model built it, where it is."""
    counts = stats.get("counts", {})
    held = ", ".join(
        plural(int(counts[k]), k[:-1], k)
        for k in ("articles", "chunks", "sentences", "segments")
        if k in counts
    )
    where = stats.get("index") or "-"  # a folder, or "the database" (PostgreSQL)
    if stats.get("backend") == "postgres":
        where = "PostgreSQL database (--database-url / $RAG_DATABASE_URL)"
    model = stats.get("model") or "-"
    if stats.get("dimension"):
        model += f" ({stats['dimension']} dimensions)"
    return f"index: {where}\nholds: {held or 'nothing yet'}\nmodel: {model}"
