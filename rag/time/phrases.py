"""Time phrases in a question, resolved against an ``as_of`` date into a publication-date range.

``find_time(question, as_of)`` returns a :class:`TimeFilter` (inclusive ISO dates ``date_from``
and ``date_to``, whether the question asks for the ``latest``, the matched ``phrase``) or None
when the question says nothing about time; ``rag.time.filter`` applies it to answering.

A small hand-written grammar, not dateparser: the phrases are a closed set whose *ranges* have
to be defined here anyway, and a date parser returns one instant per phrase (why dateparser
was not kept: docs/experiments.md, "Time phrases").

What the grammar means (``as_of`` is "now"):

- "today", "yesterday"; "this week" (Monday to as_of; weeks run Monday to Sunday, ISO 8601),
  "last week" (the previous calendar week), "this/last month", "this/last year"; "the past
  week/month/year" and "the last/past N days/weeks/months/years" are rolling windows ending
  at as_of.
- A date ("9 April 2024", "April 9, 2024", "2024-04-09"), a month ("March 2024") or a year.
  A month or day without a year is the most recent one not after as_of. A bare month or year
  counts only after a preposition ("in March", "since 2023"), so "the 2023 election" and "What
  may happen" are not time phrases.
- "in/during/on X" is X; "since/from X" runs from X's start to as_of; "after X" from the day
  after X; "before X" ends the day before X; "until X" ends with X; "between X and Y" and
  "from X to Y" run from X's start to Y's end (X takes Y's year when it names none, or the
  year before when that would start after Y: "between December and February 2024").
- Ranges filter on the article's publication date and end at as_of at the latest. A range
  that starts after as_of ("next year", "in 2030") filters nothing and says so in ``note``
  (``applied`` False): it is about plans and forecasts, which articles report before the day
  ("What did Kenya reveal in 2030?" is a SQuAD question about a plan), not an error. The
  engine does the same when no article of the archive is dated (``timefilter.NOTHING_DATED``):
  undated archives (SQuAD, Wikipedia-style text) answer as before, their years being event
  years. A dated archive with no article in the range abstains instead
  (``timefilter.NO_ARTICLE_IN_RANGE``), showing the closest statement before the range.
- "latest", "most recent", "newest" and "now" set ``latest``; alone they filter nothing.
- Only the first time phrase counts. A question with no words besides a time phrase ("March
  2024?") is an ``InputError``: there is nothing to look for; so is a range that ends before
  it starts ("between May 2024 and March 2024") or a day not in the calendar ("30 February 2024").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rag.errors import InputError

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?(?!\d)"
_YEAR = r"(?:1[89]\d\d|2[01]\d\d)(?!\d)"  # 1800-2199: wider is more likely a count than a year
_WORDS = {
    w: n
    for n, w in enumerate(
        "two three four five six seven eight nine ten eleven twelve".split(), start=2
    )
}
_NUMBER = rf"(?:\d{{1,3}}|{'|'.join(_WORDS)})"
_UNIT = r"(?:day|week|month|year)s?"
_RELATIVE = (
    r"yesterday|today|tomorrow"
    r"|(?:this|last|next|previous)\s+(?:week|month|year)(?!\s+of\b)"
    rf"|(?:the\s+)?past\s+(?:week|month|year)|the\s+last\s+(?:week|month|year)(?!\s+of\b)"
    rf"|(?:the\s+)?(?:last|past)\s+{_NUMBER}\s+{_UNIT}"
)
_DATED = (
    rf"\d{{4}}-\d\d-\d\d|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?|{_MONTH},?\s+{_YEAR}"
)
_STRONG = rf"(?:{_RELATIVE}|{_DATED})"  # a time phrase even without a preposition
_POINT = rf"(?:{_RELATIVE}|{_DATED}|{_MONTH}|{_YEAR})"
_PHRASE = re.compile(
    rf"\b(?:(?P<span>between|from)\s+(?P<a>{_POINT})\s+(?:and|to|until|till|through)\s+"
    rf"(?P<b>{_POINT})|(?P<prep>in|during|on|since|from|after|before|until|till)\s+"
    rf"(?P<p>{_POINT})|(?P<s>{_STRONG}))(?![\w-])",
    re.IGNORECASE,
)
_PARTS = re.compile(
    rf"(?P<iso>\d{{4}}-\d\d-\d\d)|(?P<d1>{_DAY})\s+(?:of\s+)?(?P<m1>{_MONTH})(?:,?\s+(?P<y1>{_YEAR}))?"
    rf"|(?P<m2>{_MONTH})\s+(?P<d2>{_DAY})(?:,?\s+(?P<y2>{_YEAR}))?"
    rf"|(?P<m3>{_MONTH})(?:,?\s+(?P<y3>{_YEAR}))?|(?P<y4>{_YEAR})",
    re.IGNORECASE,
)
# "now" asks for the current state ("Who is the union's president now?"), not after "until",
# "by", "right" or before "that", where it is a turn of phrase
_LATEST = re.compile(
    r"\b(?:latest|most\s+recent(?:ly)?|newest|(?<!until\s)(?<!by\s)(?<!right\s)now(?!\s+that))\b",
    re.IGNORECASE,
)
_POSSESSIVE = re.compile(r"\b(?:its|his|her|their|our|my|your)\s+$", re.IGNORECASE)
# words that carry no question on their own: "in March 2024?" asks nothing
_FILLER = {
    "in",
    "on",
    "during",
    "since",
    "from",
    "after",
    "before",
    "until",
    "till",
    "between",
    "and",
    "to",
    "the",
    "of",
    "latest",
    "most",
    "recent",
    "newest",
    "now",
}

Range = tuple[date | None, date | None]


@dataclass(frozen=True)
class TimeFilter:
    """A question's time: inclusive ISO dates (None: open), the words it came from, and
    whether newer articles go first. ``applied`` is False, with a ``note`` saying why, when the
    range filters nothing: it lies after as_of, or no article is dated in it."""

    date_from: str | None
    date_to: str | None
    phrase: str
    latest: bool = False
    applied: bool = True
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "from": self.date_from,
            "to": self.date_to,
            "phrase": self.phrase,
            "latest": self.latest,
        }
        if not self.applied:
            out.update(applied=False, note=self.note)
        elif self.note:  # applied, and no article is in the range (rag.time.filter)
            out["note"] = self.note
        return out

    @property
    def has_range(self) -> bool:
        return self.date_from is not None or self.date_to is not None

    def unapplied(self, note: str) -> TimeFilter:
        return replace(self, applied=False, note=note)


def find_time(question: str, as_of: date) -> TimeFilter | None:
    """The question's time phrase resolved against ``as_of``, or None when it has none."""
    _refuse_impossible_days(question)
    found = _first_phrase(question)
    latest = _LATEST.search(question)
    if found is None and latest is None:
        return None
    spans = [m.span() for m in (found, latest) if m is not None]
    _require_words(question, spans)
    if found is None:
        assert latest is not None
        return TimeFilter(None, None, latest.group(0), latest=True)
    phrase = " ".join(found.group(0).split())
    try:
        start, end = _range(found, as_of)
    except (OverflowError, ValueError):  # "the past 999 years" before 0001-01-01
        raise InputError(
            f'"{phrase}" before {as_of.isoformat()} is outside the calendar (years 1 to 9999)'
        ) from None
    if start is not None and start > as_of:  # a plan or forecast: said before it happens
        return TimeFilter(
            start.isoformat(),
            end.isoformat() if end else None,
            phrase,
            latest is not None,
            applied=False,
            note=f"after the as_of date {as_of.isoformat()}, so no article can be "
            "from then: answered from all dates",
        )
    end = as_of if end is None or end > as_of else end
    if start is not None and start > end:
        raise InputError(
            f'"{phrase}" starts on {start.isoformat()}, after it ends ({end.isoformat()})'
        )
    return TimeFilter(
        start.isoformat() if start else None, end.isoformat(), phrase, latest=latest is not None
    )


# a day number past 31 next to a month ("the 45th of November", "November 45th"): the grammar
# does not read it as a date, and the words would otherwise be searched for
_IMPOSSIBLE_DAY = re.compile(
    rf"\b(?P<a>\d{{2,3}})(?:(?:st|nd|rd|th)\s+(?:of\s+)?|\s+of\s+)(?P<m1>{_MONTH})(?!\w)"
    rf"|\b(?P<m2>{_MONTH})\s+(?:the\s+)?(?P<b>\d{{2,3}})(?:st|nd|rd|th)\b",
    re.IGNORECASE,
)


def _refuse_impossible_days(question: str) -> None:
    for found in _IMPOSSIBLE_DAY.finditer(question):
        day = int(found.group("a") or found.group("b"))
        if day > 31:
            month = (found.group("m1") or found.group("m2")).rstrip(".").capitalize()
            raise InputError(
                f'"{" ".join(found.group(0).split())}" is not a date in the calendar: '
                f"no month has a day {day} (ask about {month} without it, or name a real day)"
            )


def _first_phrase(question: str) -> re.Match[str] | None:
    for found in _PHRASE.finditer(question):
        if not (found.group("s") and _POSSESSIVE.search(question[: found.start()])):
            return found
    return None


def _require_words(question: str, spans: list[tuple[int, int]]) -> None:
    rest = question
    for a, b in sorted(spans, reverse=True):
        rest = rest[:a] + " " + rest[b:]
    if not set(re.findall(r"[^\W\d_]+", rest.lower())) - _FILLER:
        raise InputError(
            f"the question {question.strip()!r} has no words besides a time phrase; "
            "ask what you want to know, e.g. 'What did Albanese say in March 2024?'"
        )


def _range(found: re.Match[str], as_of: date) -> Range:
    """The inclusive range a phrase match names (ends may pass as_of; the caller caps them)."""
    if found.group("span"):
        first, last = found.group("a"), found.group("b")
        _, end = _point(last, as_of)
        year = None if _names_year(first) else end.year  # "between March and May 2024"
        start, _ = _point(first, as_of, year)
        if year is not None and start > end:  # "between December and February 2024"
            start, _ = _point(first, as_of, year - 1)
        return start, end
    if found.group("s"):
        return _point(found.group("s"), as_of)
    start, end = _point(found.group("p"), as_of)
    prep = found.group("prep").lower()
    if prep in ("since", "from"):
        return start, as_of
    if prep == "after":
        return end + timedelta(days=1), as_of
    if prep == "before":
        return None, start - timedelta(days=1)
    if prep in ("until", "till"):
        return None, end
    return start, end


def _names_year(text: str) -> bool:
    return re.search(rf"\b{_YEAR}|^\d{{4}}-", text.strip()) is not None


def _point(text: str, as_of: date, year: int | None = None) -> tuple[date, date]:
    """The first and last day of one point ("March 2024", "last week", "2023")."""
    text = " ".join(text.split())
    parts = _PARTS.fullmatch(text)
    if parts is None:
        return _relative(text.lower(), as_of)
    g = parts.groupdict()
    if g["iso"]:
        y, m, d = (int(x) for x in g["iso"].split("-"))
        day = _day(y, m, d, text)
        return day, day
    if g["y4"]:
        y = int(g["y4"])
        return date(y, 1, 1), date(y, 12, 31)
    month = _month(g["m1"] or g["m2"] or g["m3"])
    y_text = g["y1"] or g["y2"] or g["y3"]
    d_text = g["d1"] or g["d2"]
    if d_text is None:
        y = int(y_text) if y_text else year or _recent_year(as_of, month, 1)
        return date(y, month, 1), date(y, month, calendar.monthrange(y, month)[1])
    d = int(re.match(r"\d+", d_text).group(0))  # type: ignore[union-attr]
    y = int(y_text) if y_text else year or _recent_year(as_of, month, d)
    day = _day(y, month, d, text)
    return day, day


def _relative(text: str, as_of: date) -> tuple[date, date]:
    words = text.removeprefix("the ").split()
    one = {"yesterday": -1, "today": 0, "tomorrow": 1}
    if words[0] in one:
        day = as_of + timedelta(days=one[words[0]])
        return day, day
    if len(words) == 3:  # "past 3 days": a rolling window
        n = int(words[1]) if words[1].isdigit() else _WORDS[words[1]]
        return _back(as_of, words[2].rstrip("s"), n) + timedelta(days=1), as_of
    which, unit = words
    if which == "past" or text.startswith("the last"):
        return _back(as_of, unit, 1) + timedelta(days=1), as_of
    shift = {"this": 0, "last": -1, "previous": -1, "next": 1}[which]
    if unit == "week":
        monday = as_of - timedelta(days=as_of.weekday()) + timedelta(weeks=shift)
        return monday, monday + timedelta(days=6)
    if unit == "month":
        first = _add_months(as_of.replace(day=1), shift)
        return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return date(as_of.year + shift, 1, 1), date(as_of.year + shift, 12, 31)


def _back(as_of: date, unit: str, n: int) -> date:
    """``n`` days, weeks, months or years before ``as_of``."""
    if unit == "day":
        return as_of - timedelta(days=n)
    if unit == "week":
        return as_of - timedelta(weeks=n)
    return _add_months(as_of, -n * (12 if unit == "year" else 1))


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _month(text: str) -> int:
    return [
        "jan",
        "feb",
        "mar",
        "apr",
        "may",
        "jun",
        "jul",
        "aug",
        "sep",
        "oct",
        "nov",
        "dec",
    ].index(text[:3].lower()) + 1


def _recent_year(as_of: date, month: int, day: int) -> int:
    """The year of the most recent ``month`` (and ``day``) not after as_of; 29 February goes
    back to the last leap year."""
    year = as_of.year if (month, day) <= (as_of.month, as_of.day) else as_of.year - 1
    while day > calendar.monthrange(year, month)[1]:
        year -= 1
    return year


def _day(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise InputError(f'"{text}" is not a date in the calendar') from None


def today_utc() -> date:
    return datetime.now(UTC).date()


def parse_as_of(value: str | None, where: str) -> date | None:
    """The ``as_of`` a person gave (ISO 8601 date or datetime; None stays None), or an
    ``InputError`` naming ``where`` and the wrong part."""
    from rag.time.dates import check_date

    checked = check_date(value, where)
    return None if checked is None else date.fromisoformat(checked[:10])


def without_dates(text: str) -> str:
    """``text`` with each time phrase of the grammar ("in May 2024", "this month") blanked out
    (commas and spaces of the same length): a month there is a date, not a name."""
    return _PHRASE.sub(lambda m: "," + " " * (len(m.group(0)) - 1), text)


def names_date(phrase: str) -> bool:
    """The phrase names a date, month or year (not only "last week" or "yesterday")."""
    return re.search(rf"\d|\b{_MONTH}", phrase, re.IGNORECASE) is not None
