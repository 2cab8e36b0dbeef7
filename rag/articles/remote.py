"""Articles from URLs: a web page, or an RSS/Atom feed whose items become articles.

``load_urls(urls, settings)`` fetches each URL with ``rag.articles.fetching.fetch`` (http(s) only,
public addresses only unless allowed, timeouts, size limit, retries). A page becomes one
article through trafilatura; a feed becomes one article per item, read from the feed's full
content when it carries the article, else from the item's linked page, with the item's title,
date and link and the feed's title as ``source``. Plain-text responses are read like ``.txt``
files. Anything else (a PDF, an image, JSON) is refused.

The document id of a URL's article is the URL itself (the item's link for feed items), so
ingesting the same URL again replaces or keeps the article instead of adding a copy. Every
failure is one warning naming the URL; the other URLs and items are still loaded.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from rag.articles.feeds import FeedItem, looks_like_feed, parse_feed
from rag.articles.fetching import Fetched, fetch
from rag.articles.limits import Limits
from rag.articles.loading import LoadResult, html_article, is_url, news_article
from rag.errors import InputError
from rag.models import Article
from rag.settings import Settings

log = logging.getLogger(__name__)

MAX_URL_ID_CHARS = 200  # the document-id limit of rag.articles.loading
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_TEXT_TYPES = ("text/plain", "text/markdown")


def load_urls(urls: Iterable[str], settings: Settings, strict: bool = False) -> LoadResult:
    """Articles from pages and feeds; each URL or item that fails is one warning (with
    ``strict``, a URL that fails raises its error; a feed's failing items stay warnings)."""
    result = LoadResult()
    for url in urls:
        try:
            result.articles.extend(load_url(url, settings, result.warnings))
        except InputError as exc:
            if strict:
                raise
            result.warnings.append(exc.message)
    return result


def load_url(url: str, settings: Settings, warnings: list[str]) -> list[Article]:
    """The article of a page, or the articles of a feed's items (item failures to warnings)."""
    got = fetch(url, settings.fetching)
    if looks_like_feed(got.content_type, got.content):
        items = parse_feed(
            got.content,
            got.url,
            max_items=settings.fetching.feed_max_items,
            content_type=got.content_type or "application/xml",
        )
        if not items:
            raise InputError(f"{url}: the feed has no items with a link or content")
        articles = []
        for item in items:
            try:
                articles.append(item_article(item, settings))
            except InputError as exc:
                warnings.append(exc.message)
        return articles
    return [page_article(got, url, settings.limits)]


def page_article(got: Fetched, doc_url: str, limits: Limits | None = None) -> Article:
    """The article in a fetched response (HTML or plain text); ``doc_url`` names it.

    Over a limit of ``rag.articles.limits`` it is an ``ArticleLimitError`` naming the URL and the
    limit.
    """
    kind = got.content_type.split(";", 1)[0].strip().lower()
    head = got.content[:512].lstrip().lower()
    doc_id = url_doc_id(doc_url)
    if kind in _HTML_TYPES or (not kind and head.startswith((b"<!doctype html", b"<html"))):
        try:
            return html_article(doc_id, got.text(), url=got.url, limits=limits)
        except InputError as exc:
            raise type(exc)(f"{doc_url}: {exc.message}", code=exc.code) from None
    if kind in _TEXT_TYPES:
        try:
            article = news_article(doc_id, got.text().replace("\r\n", "\n"), limits=limits)
        except InputError as exc:
            raise type(exc)(f"{doc_url}: {exc.message}", code=exc.code) from None
        return article if article.url else replace(article, url=got.url)
    raise InputError(f"{doc_url}: not a web page or a feed (content type {kind or 'unknown'})")


def item_article(item: FeedItem, settings: Settings) -> Article:
    """A feed item's article: the feed's content or the linked page, with the item's fields."""
    link = item.link or item.key
    limits = settings.limits
    if item.content:
        try:
            article = html_article(
                url_doc_id(link), item.content, url=item.link, limits=limits, title=item.title
            )
        except InputError as exc:
            raise type(exc)(f"{link}: {exc.message}", code=exc.code) from None
    elif item.link:
        article = page_article(fetch(item.link, settings.fetching), item.link, limits)
    else:
        raise InputError(f"{item.key}: the feed item has no link and no content")
    return replace(
        article,
        title=item.title or article.title,
        date=item.date or article.date,
        source=item.feed_title or article.source,
        url=item.link or article.url,
        author=article.author or item.author,
    )


def url_doc_id(url: str) -> str:
    """The URL, or for a very long one its start and a hash (ids are at most 200 chars)."""
    if len(url) <= MAX_URL_ID_CHARS:
        return url
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return f"{url[: MAX_URL_ID_CHARS - 17]}#{digest}"


def load_sources(values: Sequence[str], settings: Settings, progress: bool = False) -> LoadResult:
    """Files and folders (``rag.articles.loading.load_paths``), web pages and feeds, in one
    result (``Engine.load_sources``: the CLI's, the API's and ``rag serve``'s seed index)."""
    from rag.articles.loading import load_paths

    urls = [v for v in values if is_url(v)]
    paths = [Path(v) for v in values if not is_url(v)]
    result = load_paths(paths, progress, settings.limits) if paths else LoadResult()
    if urls:
        remote = load_urls(urls, settings)
        result.articles.extend(remote.articles)
        result.warnings.extend(remote.warnings)
    return result
