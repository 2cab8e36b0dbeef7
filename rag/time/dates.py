"""Dates and durations people write: ISO 8601 checked, a wrong one explained part by part.

``normalize_date`` decides what is valid; ``explain_date`` says *what* is wrong when it is not
("month 13 is not 1-12"), since "is not ISO 8601" leaves the reader to find the bad part of
``2024-13-01`` alone. ``parse_interval`` reads polling intervals ("10m"). A leaf module: it
imports nothing of the library but its errors.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from typing import Any

from rag.errors import InputError

_PARTS = re.compile(r"(\d{1,4})-(\d{1,2})-(\d{1,2})(.*)", re.DOTALL)
EXAMPLE = "2024-04-09"  # shown in every message, so the fix is one copy away


def check_date(value: str | None, where: str) -> str | None:
    """``value`` when it is an ISO 8601 date or datetime (None stays None); otherwise an
    ``InputError`` that names ``where`` and the part of the date that is wrong."""
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


def normalize_date(value: Any, where: str = "date") -> str | None:
    """An ISO 8601 date or datetime, returned as given when valid."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: 'date' must be an ISO 8601 string")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: 'date' {value!r} is not ISO 8601 (e.g. 2024-04-09)") from None
    return value


_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_interval(value: str) -> float:
    """Seconds from "90", "30s", "10m", "1h" or "1d"."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value.lower())
    if match is None:
        raise ValueError(f"{value!r} is not a duration such as 30s, 10m or 1h")
    return float(match[1]) * _UNITS[match[2]]
