"""RSS and Atom feeds, read with feedparser: the items and what each says about its article.

A feed is recognised by its content type (``application/rss+xml``, ``application/atom+xml``,
``*/xml``) or by its first element (``<rss>``, ``<feed>``, ``<rdf:RDF>``). Each item gives a
``FeedItem``: a stable key (its GUID, else its link), its link, title and date, the feed's
title (stored as the article's ``source``), and its full HTML content when the feed carries
the whole article (``content:encoded`` or Atom ``content`` longer than the summary and at least
``FULL_CONTENT_CHARS`` of text); otherwise the article is read from the linked page.

XML that feedparser cannot read at all (no items, or not a feed) is an ``InputError``; a feed
with small defects that still yields items is read, with the defect logged.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
import xml.sax
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rag.errors import InputError

log = logging.getLogger(__name__)

# Why 500 characters: summaries are one or two sentences; a full article is longer.
FULL_CONTENT_CHARS = 500
_FEED_TYPES = ("rss", "atom", "/xml", "+xml", "rdf")
_FEED_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<(?:rss|feed|rdf:RDF)\b",
    re.DOTALL,
)


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed. ``content`` is the full article HTML when the feed carries it."""

    key: str
    link: str | None
    title: str | None
    date: str | None
    feed_title: str | None
    content: str | None
    summary: str | None
    author: str | None = None

    @property
    def fingerprint(self) -> str:
        """Changes when the item does: a new title, date, link or content."""
        parts = [
            self.key,
            self.link or "",
            self.title or "",
            self.date or "",
            self.content or self.summary or "",
        ]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def looks_like_feed(content_type: str, body: bytes) -> bool:
    """True when a response is a feed rather than a web page."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if "html" in kind:
        return False
    return any(t in kind for t in _FEED_TYPES) or bool(_FEED_START.match(body[:4096]))


def parse_feed(
    body: bytes, url: str, *, max_items: int = 100, content_type: str = "application/xml"
) -> list[FeedItem]:
    """The newest ``max_items`` items of the feed in ``body`` (fetched from ``url``).

    XML that is not well-formed is refused rather than half-read: feedparser's lenient
    fallback can turn a broken feed into wrong items (a link swallowing the next element).
    """
    import feedparser

    parsed = feedparser.parse(
        body, response_headers={"content-location": url, "content-type": content_type}
    )
    error = parsed.get("bozo_exception")
    if isinstance(error, xml.sax.SAXException):
        raise InputError(f"{url}: the feed is not well-formed XML ({_one_line(error)})")
    entries = list(parsed.entries)
    if not parsed.get("version") and not entries:
        raise InputError(f"{url}: not an RSS/Atom feed")
    if error is not None:
        log.info("feed %s: %s (read anyway)", url, _one_line(error))
    feed_title = _clean(parsed.feed.get("title"))
    items = [_item(e, feed_title) for e in entries[:max_items]]
    return [i for i in items if i.link or i.content]


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _item(entry: Any, feed_title: str | None) -> FeedItem:
    link = _clean(entry.get("link"))
    summary = entry.get("summary") or None
    content = None
    for part in entry.get("content") or []:
        value = part.get("value") or ""
        if len(_text_of(value)) >= FULL_CONTENT_CHARS and len(value) > len(summary or ""):
            content = value
            break
    key = _clean(entry.get("id")) or link or _clean(entry.get("title")) or ""
    return FeedItem(
        key=key,
        link=link,
        title=_clean(entry.get("title")),
        date=_entry_date(entry),
        feed_title=feed_title,
        content=content,
        summary=summary,
        author=_clean(entry.get("author")),
    )


def _entry_date(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        stamp = entry.get(key)
        if stamp:
            return (
                datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)
                .isoformat()
                .replace("+00:00", "Z")
            )
    return None


def _text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None
