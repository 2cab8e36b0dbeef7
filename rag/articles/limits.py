"""Bounds on the work one article may cost, checked before the expensive parsers run.

An article comes from someone else (an upload, a fetched page, a feed the server polls), and
the parsers' cost is not linear in its size: trafilatura's time grows with the square of the
inline elements in one block, an HTML page of 500,000 elements runs for minutes, and a 656-byte
YAML alias bomb expands to gigabytes. So every article is measured first, with linear scans
that cost milliseconds per megabyte, and refused with ``ArticleLimitError`` (a 422 over HTTP,
a one-line warning naming the file in the CLI, feeds and ``rag watch``) when it is over:

- ``html_elements``: start tags in the page (outside comments, scripts and styles);
- ``block_chars``: the widest block, i.e. the longest run of HTML (markup included) without a
  block break (``<p>``, ``<div>``, ``<br>``, ``<li>``, ``<td>`` ...); script, style and SVG
  content is not text and does not count;
- ``article_chars``: the article's text (after extraction for a page; before it, a page whose
  text outside tags is over ``PAGE_TEXT_FACTOR`` times that cannot hold an article under it);
- every metadata field at most ``MAX_FIELD_CHARS``, at most ``MAX_TAGS`` tags;
- front matter: its size, its field lengths, and no YAML aliases (``rag.articles.frontmatter``).

The bounds in force are ``settings.limits`` (a ``Limits``; ``Limits()`` holds the defaults, whose
reasons are in ``rag.settings``). What still gets through is parsed in a worker process with a
deadline (``parse_timeout_s``, ``rag.articles.sandbox``), so a page that is slow for a reason no
check foresaw costs at most that.
"""

from __future__ import annotations

import re

from rag.errors import ArticleLimitError
from rag.models import Article
from rag.settings import Limits

# Why 2,000: a metadata field (title, author, source, URL, date, one tag) is a line, and URLs
# with tracking parameters reach ~1,000; every listing of documents returns these fields.
MAX_FIELD_CHARS = 2_000
# Why 100: tags name topics; more is a list of something else.
MAX_TAGS = 100
# Why 5: menus, related links and comment threads are rarely more text than the article itself;
# a page with 5 times the article limit of text costs seconds to parse only to be refused.
PAGE_TEXT_FACTOR = 5

_RAW_TEXT = ("script", "style", "template", "noscript", "textarea", "xmp")
_NOT_TEXT = ("svg", "math")  # elements counted, but their content is no run of text
_START_TAG = re.compile(r"<[A-Za-z]")
_ANY_TAG = re.compile(r"<[^>]*>")
_BLOCK_TAGS = (
    "address|article|aside|blockquote|body|br|caption|dd|details|dialog|div|dl|dt|fieldset|"
    "figcaption|figure|footer|form|h[1-6]|head|header|hr|html|iframe|img|li|main|nav|ol|"
    "option|p|pre|section|select|summary|table|tbody|td|tfoot|th|thead|title|tr|ul"
)
_BLOCK_BREAK = re.compile(rf"</?(?:{_BLOCK_TAGS})(?=[\s/>])", re.IGNORECASE)


def over(what: str, size: int, limit: int, setting: str = "") -> ArticleLimitError:
    """The one-line refusal naming the limit: "612,000 HTML elements, over the limit of ..."."""
    named = f" ({setting})" if setting else ""
    return ArticleLimitError(f"{size:,} {what}, over the limit of {limit:,}{named}")


def check_text(text: str, limits: Limits) -> None:
    """Refuse an article text longer than ``article_chars``."""
    if len(text) > limits.article_chars:
        raise over("characters of text", len(text), limits.article_chars, "RAG_MAX_ARTICLE_CHARS")


def check_fields(article: Article) -> Article:
    """``article``, when its metadata fields are within ``MAX_FIELD_CHARS`` and ``MAX_TAGS``."""
    if len(article.tags) > MAX_TAGS:
        raise over("tags", len(article.tags), MAX_TAGS)
    named = [(k, getattr(article, k)) for k in ("title", "url", "date", "source", "author")]
    for name, value in named + [("tag", t) for t in article.tags]:
        if value is not None and len(value) > MAX_FIELD_CHARS:
            raise over(f"characters in '{name}'", len(value), MAX_FIELD_CHARS)
    return article


def check_html(html: str, limits: Limits) -> None:
    """Refuse a page with too many elements, too wide a block or too much text; linear in the
    page's size."""
    markup = _outside(html, _RAW_TEXT, comments=True)
    elements = _count_start_tags(markup, limits.html_elements)
    if elements > limits.html_elements:
        raise over("HTML elements", elements, limits.html_elements, "RAG_MAX_HTML_ELEMENTS")
    markup = _outside(markup, _NOT_TEXT, comments=False)
    width = widest_block(markup)
    if width > limits.block_chars:
        raise over(
            "characters in one block of HTML", width, limits.block_chars, "RAG_MAX_BLOCK_CHARS"
        )
    text = len(markup) - sum(len(tag) for tag in _ANY_TAG.findall(markup))
    if text > PAGE_TEXT_FACTOR * limits.article_chars:
        raise over(
            "characters of text in the page",
            text,
            PAGE_TEXT_FACTOR * limits.article_chars,
            f"{PAGE_TEXT_FACTOR} x RAG_MAX_ARTICLE_CHARS",
        )


def widest_block(markup: str) -> int:
    """The longest run of ``markup`` between two block breaks."""
    widest, start = 0, 0
    for match in _BLOCK_BREAK.finditer(markup):
        widest = max(widest, match.start() - start)
        start = match.start()
    return max(widest, len(markup) - start)


def _count_start_tags(markup: str, limit: int) -> int:
    """Start tags in ``markup``: exact when over ``limit``, else an upper bound under it."""
    opened = markup.count("<")  # every start tag opens with "<": usually nothing to count
    return opened if opened <= limit else _START_TAG.subn("", markup)[1]


def _outside(html: str, names: tuple[str, ...], *, comments: bool) -> str:
    """``html`` without comments (when asked) and the content of the ``names`` elements.

    One pass: each search starts where the last one ended, and an element left open swallows
    the rest of the page (as a browser reads it), so the scan is linear whatever the input.
    """
    opening = "|".join(names)
    start = re.compile(("<!--|" if comments else "") + rf"<(?:{opening})(?=[\s/>])", re.I)
    kept, pos = [], 0
    while (match := start.search(html, pos)) is not None:
        kept.append(html[pos : match.start()])
        if match.group().startswith("<!--"):
            end = html.find("-->", match.end())
            close_len = 3
        else:
            name = match.group()[1:]
            closing = re.compile(rf"</{re.escape(name)}\s*>", re.I).search(html, match.end())
            end = closing.start() if closing else -1
            close_len = closing.end() - closing.start() if closing else 0
        if end < 0:
            return "".join(kept)
        kept.append("<x>")  # the element itself stays one (inline) element
        pos = end + close_len
    kept.append(html[pos:])
    return "".join(kept)
