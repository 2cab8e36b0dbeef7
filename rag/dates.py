"""Date filters from people: ISO 8601 checked, and a wrong one explained part by part.

``normalize_date`` (in ``rag.articles``) decides what is valid; this module only says *what*
is wrong when it is not ("month 13 is not 1-12"), since "is not ISO 8601" leaves the reader
to find the bad part of ``2024-13-01`` alone.
"""

from __future__ import annotations

import calendar
import re

from rag.errors import InputError

_PARTS = re.compile(r"(\d{1,4})-(\d{1,2})-(\d{1,2})(.*)", re.DOTALL)
EXAMPLE = "2024-04-09"  # shown in every message, so the fix is one copy away


def check_date(value: str | None, where: str) -> str | None:
    """``value`` when it is an ISO 8601 date or datetime (None stays None); otherwise an
    ``InputError`` that names ``where`` and the part of the date that is wrong."""
    from rag.articles import normalize_date

    try:
        return normalize_date(value, where)
    except InputError:
        raise InputError(f"{where}: {explain_date(str(value))}") from None


def explain_date(value: str) -> str:
    """One line saying which part of ``value`` keeps it from being an ISO 8601 date."""
    found = _PARTS.fullmatch(value.strip())
    if found is None:
        return f"{value!r} is not an ISO 8601 date; write it as YYYY-MM-DD, e.g. {EXAMPLE}"
    year_s, month_s, day_s, rest = found.groups()
    year, month, day = int(year_s), int(month_s), int(day_s)
    if len(year_s) != 4:
        return f"the year {year_s!r} in {value!r} needs four digits, e.g. {EXAMPLE}"
    if not 1 <= month <= 12:
        return f"the month {month_s} in {value!r} is not between 01 and 12"
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        return (
            f"the day {day_s} in {value!r} is not in {calendar.month_name[month]} {year} "
            f"(01 to {last:02d})"
        )
    if len(month_s) != 2 or len(day_s) != 2:
        return f"the month and the day in {value!r} need two digits each, e.g. {EXAMPLE}"
    return (
        f"the time part {rest!r} of {value!r} is not ISO 8601; use e.g. "
        f"{EXAMPLE}T10:00:00Z, or the date alone"
    )
