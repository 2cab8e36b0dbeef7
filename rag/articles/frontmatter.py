"""YAML front matter at the top of a Markdown or text article.

A file may open with a ``---`` line, YAML, and a closing ``---`` (or ``...``) line. The keys
read are ``title``, ``date``, ``source``, ``url``, ``author`` and ``tags``; others are ignored.
The block is metadata, not article text: the stored text is the body after it, so offsets and
quotes never point into the YAML. A block that is not valid YAML, or a field of the wrong type
or a date that is not a date, is an ``InputError`` naming the field (the file is then skipped
with that one-line reason; the rest of a batch is still ingested).

The block comes from whoever wrote the file, so its cost is bounded before and while it is
read: at most ``MAX_FRONT_MATTER_CHARS``, no YAML aliases (``*name``; a 656-byte "billion
laughs" of nested aliases expands to gigabytes), nesting at most ``MAX_DEPTH`` deep, and each
field at most ``rag.articles.limits.MAX_FIELD_CHARS``; over any of them is an ``ArticleLimitError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml

from rag.articles.limits import MAX_FIELD_CHARS, MAX_TAGS, over
from rag.errors import ArticleLimitError, InputError

# Why 20,000: a block with every field is a few hundred characters, and a long summary a few
# thousand; PyYAML reads 20,000 characters in milliseconds.
MAX_FRONT_MATTER_CHARS = 20_000
# Why 20: the fields are text, dates and lists of text (depth 2); deeper is not metadata, and
# PyYAML reads nesting by recursion.
MAX_DEPTH = 20

_BLOCK = re.compile(r"\A\ufeff?---[ \t]*\n(?P<yaml>.*?)\n?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


@dataclass(frozen=True)
class FrontMatter:
    """The fields an article can take from its front matter (``None``/empty when absent)."""

    title: str | None = None
    date: str | None = None
    source: str | None = None
    url: str | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()


def split_front_matter(text: str) -> tuple[FrontMatter | None, str]:
    """``(front matter, body)``; ``(None, text)`` when the text does not open with a block."""
    match = _BLOCK.match(text)
    if match is None:
        return None, text
    block = match["yaml"]
    if len(block) > MAX_FRONT_MATTER_CHARS:
        raise over("characters of front matter", len(block), MAX_FRONT_MATTER_CHARS)
    try:
        data = yaml.load(block, Loader=_BoundedLoader) if block.strip() else {}  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise InputError(f"front matter is not valid YAML{where}") from None
    except ValueError as exc:  # a date-like value that is no date: "2024-13-45"
        raise InputError(f"front matter has an impossible value ({exc})") from None
    if not isinstance(data, dict):
        raise InputError("front matter must be a YAML mapping of fields")
    body = text[match.end() :].lstrip("\n")
    return _fields(data), body


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases and nesting deeper than ``MAX_DEPTH``."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ArticleLimitError(
                f"front matter uses the YAML alias *{event.anchor} "
                f"(line {event.start_mark.line + 2}); aliases are not allowed"
            )
        depth = getattr(self, "_depth", 0)
        if depth >= MAX_DEPTH:
            raise ArticleLimitError(f"front matter is nested more than {MAX_DEPTH} levels deep")
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth


def _fields(data: dict[Any, Any]) -> FrontMatter:
    return FrontMatter(
        title=_text(data, "title"),
        date=_date(data.get("date")),
        source=_text(data, "source"),
        url=_text(data, "url"),
        author=_author(data.get("author")),
        tags=_tags(data.get("tags")),
    )


def _text(data: dict[Any, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool | list | dict):
        raise InputError(f"front matter '{key}' must be text")
    return _bounded(key, " ".join(str(value).split()))


def _bounded(key: str, value: str) -> str:
    if len(value) > MAX_FIELD_CHARS:
        raise over(f"characters in front matter '{key}'", len(value), MAX_FIELD_CHARS)
    return value


def _date(value: Any) -> str | None:
    """YAML reads ``2024-03-22`` as a date and ``2024-03-22T10:00:00Z`` as a datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    from rag.newsparts import parse_news_date
    from rag.time.dates import normalize_date

    text = str(value).strip()
    try:
        return normalize_date(text, "front matter")
    except InputError:
        written = parse_news_date(text) if re.search(r"\d{4}", text) else None
        if written is None:  # "April 9, 2024" is fine, "next Tuesday" is not
            raise
        return written


def _author(value: Any) -> str | None:
    if isinstance(value, list):
        names = [" ".join(str(v).split()) for v in value if str(v).strip()]
        return _bounded("author", ", ".join(names)) or None
    return _text({"author": value}, "author")


def _tags(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise InputError("front matter 'tags' must be a list or comma-separated text")
    if len(items) > MAX_TAGS:
        raise over("front matter tags", len(items), MAX_TAGS)
    return tuple(_bounded("tags", t) for t in (" ".join(str(i).split()) for i in items) if t)
