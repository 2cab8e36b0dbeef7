"""News checks: what a question of our own expects of its answer, and checking an answer.

A JSONL question (``rag eval questions.jsonl --corpus articles/``) may carry, beside ``id``,
``question``, ``answers``, ``doc_id`` and ``unanswerable``:

- ``as_of`` (ISO date the question is asked on) and ``history`` (earlier questions of the
  conversation, texts or ``{"question", "answer"}``): passed to ``Engine.ask``;
- ``quotes``: substrings each of which must be in some quoted sentence; ``not_quotes``: in none;
  ``order``: substrings that must be quoted in this order (newest statement first);
- ``reason``: the abstention reason expected (a text or a list of acceptable ones);
  ``input_error`` means the engine must refuse the question (``InputError``);
- ``answer_span``: the short answer some citation's ``answer_start:answer_end`` must hold;
- ``time_filter``: the answer's resolved range ``{"from", "to"}`` (and ``latest`` or
  ``applied`` when given); ``null`` means the answer must carry no time filter;
- ``also_in``: the doc ids of one syndicated story: the answer quotes it from exactly one of
  them (one or more of its sentences) and lists the others as that citation's ``also_in``;
- ``resolved``: substrings the follow-up's rewrite (the answer's ``resolved_question``, else
  the question) must hold, case aside; ``not_resolved``: substrings it must not hold.
- ``closest``: substrings each of which must be in the answer's ``closest`` item (shown when no
  article is in the question's time range), which must not be among its citations.

Each expectation is one :class:`Check` of its kind; an answer counts as given only when it
did not abstain and its confidence reaches the threshold (evaluation indexes answer at 0).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.errors import InputError
from rag.evaluation import metrics as M
from rag.models import Answer, Citation

INPUT_ERROR = "input_error"  # the reason recorded when Engine.ask refused the question
# how many words an answer span may have beyond the expected answer ("about $38 million")
SPAN_SLACK_WORDS = 3
# the kinds in the order the table shows them
KINDS = (
    "answered",
    "abstained",
    "reason",
    "answers",
    "quotes",
    "not_quotes",
    "order",
    "answer_span",
    "time_filter",
    "also_in",
    "resolved",
    "closest",
)


@dataclass(frozen=True)
class Expectations:
    """What the answer must show (empty fields are not checked)."""

    quotes: tuple[str, ...] = ()
    not_quotes: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    answer_span: str | None = None
    checks_time: bool = False  # the record named time_filter (None: no filter expected)
    time_filter: dict[str, Any] | None = None
    also_in: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    not_resolved: tuple[str, ...] = ()
    closest: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    """One expectation's verdict; ``detail`` says what was expected and what came."""

    kind: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Question:
    """What a question expects, as the checker needs it (a view of an ``EvalItem``)."""

    answerable: bool
    answers: tuple[str, ...] = ()
    doc_id: str | None = None
    expect: Expectations = field(default_factory=Expectations)


def _texts(record: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = record.get(key, [])
    if isinstance(value, str) and key == "reason":
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"{where}: '{key}' must be a list of non-empty texts")
    return tuple(value)


def expectations_from(record: dict[str, Any], where: str) -> Expectations:
    """The expectations of one JSONL record, or an ``InputError`` naming ``where``."""
    span = record.get("answer_span")
    if span is not None and not (isinstance(span, str) and span.strip()):
        raise InputError(f"{where}: 'answer_span' must be a non-empty text")
    window = record.get("time_filter")
    if window is not None and not (
        isinstance(window, dict) and {"from", "to"} <= set(window) and set(window) <= _TIME_KEYS
    ):
        raise InputError(
            f'{where}: \'time_filter\' must be null or {{"from", "to"}} '
            '(with "latest" or "applied" if they are to be checked)'
        )
    return Expectations(
        quotes=_texts(record, "quotes", where),
        not_quotes=_texts(record, "not_quotes", where),
        order=_texts(record, "order", where),
        reasons=_texts(record, "reason", where),
        answer_span=span,
        checks_time="time_filter" in record,
        time_filter=window,
        also_in=_texts(record, "also_in", where),
        resolved=_texts(record, "resolved", where),
        not_resolved=_texts(record, "not_resolved", where),
        closest=_texts(record, "closest", where),
    )


_TIME_KEYS = {"from", "to", "latest", "applied"}


def refusal(question: str, message: str) -> Answer:
    """The answer recorded when ``Engine.ask`` refused the question with an ``InputError``."""
    return Answer(question, message, True, INPUT_ERROR, 0.0, (), (), {"total": 0.0})


def check(q: Question, answer: Answer, texts: dict[str, str], threshold: float) -> list[Check]:
    """Every check the question asks for, in ``KINDS`` order."""
    e = q.expect
    given = not answer.abstained and answer.confidence >= threshold
    reason = answer.reason if answer.abstained else None if given else "low_confidence"
    got = (
        f"answered (confidence {answer.confidence:.2f})"
        if given
        else f"abstained ({reason}, confidence {answer.confidence:.2f})"
    )
    cites = list(answer.citations) if given else []
    out: list[Check] = []
    if q.answerable and not e.reasons:
        out.append(Check("answered", given, "" if given else got))
    if not q.answerable:
        first = answer.citations[0].quote if answer.citations else answer.answer
        out.append(Check("abstained", not given, f"answered ({answer.confidence:.2f}): {first}"))
    if e.reasons:
        out.append(Check("reason", reason in e.reasons, f"expected {'/'.join(e.reasons)}, {got}"))
    if q.answers:
        out.append(_check_answers(q, cites, got))
    out.extend(_check_quotes(e, cites, got))
    if e.answer_span is not None:
        out.append(_check_span(e.answer_span, cites, texts))
    if e.checks_time:
        out.append(_check_time(e.time_filter, answer.time_filter))
    if e.also_in:
        out.append(_check_copies(e.also_in, cites))
    if e.resolved or e.not_resolved:
        out.append(_check_resolved(e, answer.resolved_question or answer.question))
    if e.closest:
        out.append(_check_closest(e.closest, answer))
    return out


def _check_resolved(e: Expectations, rewrite: str) -> Check:
    """The follow-up was read as a question holding ``resolved`` and none of ``not_resolved``."""
    low = rewrite.lower()
    missing = [s for s in e.resolved if s.lower() not in low]
    extra = [s for s in e.not_resolved if s.lower() in low]
    return Check("resolved", not missing and not extra, f"read as {rewrite!r}")


def _norm(text: str) -> str:
    return " ".join(text.replace("\u201c", '"').replace("\u201d", '"').split())


def _where(sub: str, cites: Sequence[Citation]) -> int | None:
    """The index of the first citation whose quote holds ``sub``."""
    return next((i for i, c in enumerate(cites) if _norm(sub) in _norm(c.quote)), None)


def _check_answers(q: Question, cites: list[Citation], got: str) -> Check:
    if not cites:
        return Check("answers", False, got)
    first = cites[0]
    ok = (q.doc_id is None or first.doc_id == q.doc_id) and M.quote_contains_answer(
        first.quote, list(q.answers)
    )
    return Check("answers", ok, f"first quote lacks {q.answers!r}: {first.doc_id}: {first.quote}")


def _check_quotes(e: Expectations, cites: list[Citation], got: str) -> list[Check]:
    out = []
    if e.quotes:
        missing = [s for s in e.quotes if _where(s, cites) is None]
        out.append(Check("quotes", not missing, _missing(missing, cites, got)))
    if e.not_quotes:
        found = [s for s in e.not_quotes if _where(s, cites) is not None]
        out.append(Check("not_quotes", not found, f"quoted although it must not be: {found}"))
    if e.order:
        places = [_where(s, cites) for s in e.order]
        seen = [p for p in places if p is not None]
        ok = len(seen) == len(places) and seen == sorted(set(seen))
        shown = ", ".join(
            f"{s!r} at {'-' if p is None else p + 1}" for s, p in zip(e.order, places, strict=True)
        )
        out.append(Check("order", ok, f"citation numbers: {shown}"))
    return out


def _missing(missing: list[str], cites: list[Citation], got: str) -> str:
    if not cites:
        return f"missing {missing}: {got}"
    quoted = " | ".join(f"[{c.n}] {c.date or '?'} {c.quote[:90]}" for c in cites)
    return f"missing {missing}; quoted: {quoted}"


def _check_span(expected: str, cites: list[Citation], texts: dict[str, str]) -> Check:
    spans = [
        texts.get(c.doc_id, "")[c.answer_start : c.answer_end]
        for c in cites
        if c.answer_start is not None and c.answer_end is not None
    ]
    limit = len(expected.split()) + SPAN_SLACK_WORDS
    ok = any(_norm(expected) in _norm(s) and len(s.split()) <= limit for s in spans)
    detail = f"spans {spans!r}" if spans else "no citation carries an answer span"
    return Check("answer_span", ok, f"expected {expected!r}; {detail}")


def _check_time(expected: dict[str, Any] | None, got: dict[str, Any] | None) -> Check:
    if expected is None:
        return Check("time_filter", got is None, f"expected no time filter, got {got}")
    if got is None:
        return Check("time_filter", False, f"expected {expected}, got no time filter")
    seen = {"from": got.get("from"), "to": got.get("to"), "latest": got.get("latest")}
    seen["applied"] = got.get("applied", True)
    ok = all(seen.get(k) == v for k, v in expected.items())
    return Check("time_filter", ok, f"expected {expected}, got {got}")


def _check_closest(expected: tuple[str, ...], answer: Answer) -> Check:
    """The closest item holds each expected text and is not quoted as the answer."""
    shown = [_norm(c.quote) for c in getattr(answer, "closest", ())]
    missing = [t for t in expected if not any(_norm(t) in q for q in shown)]
    as_answer = [t for t in expected if _norm(t) in _norm(answer.answer)]
    ok = bool(shown) and not missing and not as_answer
    return Check("closest", ok, f"missing {missing} in closest {shown}; in the answer {as_answer}")


def _copy_ids(citation: Citation) -> set[str]:
    """The doc ids a citation lists as other copies (ids, dicts or objects with ``doc_id``)."""
    ids = set()
    for entry in getattr(citation, "also_in", None) or ():
        ident = entry if isinstance(entry, str) else None
        if isinstance(entry, dict):
            ident = entry.get("doc_id")
        elif ident is None:
            ident = getattr(entry, "doc_id", None)
        if isinstance(ident, str):
            ids.add(ident)
    return ids


def _check_copies(group: tuple[str, ...], cites: list[Citation]) -> Check:
    """The story is quoted from one copy (several of its sentences may be), listing the rest."""
    copies = list(dict.fromkeys(c.doc_id for c in cites if c.doc_id in group))
    if len(copies) != 1:
        return Check("also_in", False, f"the story must be quoted from one copy; it was {copies}")
    quoted = next(c for c in cites if c.doc_id == copies[0])
    missing = sorted(set(group) - {quoted.doc_id} - _copy_ids(quoted))
    return Check("also_in", not missing, f"{quoted.doc_id} lacks also_in {missing}")


# -- summaries --------------------------------------------------------------------------------
def summarize_checks(per_item: Sequence[tuple[str, Sequence[Any]]]) -> dict[str, Any]:
    """``{"kinds": {kind: {"passed", "total"}}, "failed": [{"qid", "kind", "detail"}]}`` from
    each question's checks (``Check`` objects or their dicts, as report.json holds them)."""
    kinds: dict[str, dict[str, int]] = {}
    failed = []
    for qid, checks in per_item:
        for c in checks:
            c = c if isinstance(c, dict) else vars(c)
            row = kinds.setdefault(c["kind"], {"passed": 0, "total": 0})
            row["total"] += 1
            row["passed"] += bool(c["passed"])
            if not c["passed"]:
                failed.append({"qid": qid, "kind": c["kind"], "detail": c["detail"]})
    ordered = {k: kinds[k] for k in KINDS if k in kinds} | kinds
    return {"kinds": ordered, "failed": failed}


def checks_table(summary: dict[str, Any], heading: str = "news checks") -> str:
    """The "news checks" table (passed/total per kind) and the failed checks with reasons,
    under ``heading`` (``report.md`` gives it a Markdown heading and a blank line)."""
    lines = [heading, "| check | passed | total |", "|---|---|---|"]
    for kind, row in summary["kinds"].items():
        lines.append(f"| {kind} | {row['passed']} | {row['total']} |")
    passed = sum(r["passed"] for r in summary["kinds"].values())
    lines.append(f"| all | {passed} | {sum(r['total'] for r in summary['kinds'].values())} |")
    if summary["failed"]:
        lines.append("\nfailed:")
        lines += [f"- {f['qid']} [{f['kind']}]: {_clip(f['detail'])}" for f in summary["failed"]]
    return "\n".join(lines)


def _clip(text: str, limit: int = 400) -> str:
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
