"""Main text and metadata of a news web page, through trafilatura (and htmldate for dates).

trafilatura is made for this job: it finds the article body of a page, drops navigation,
headers, footers, related-story boxes and comments, and reads the title, author, publication
date (htmldate) and site name from the page's metadata (Open Graph, JSON-LD, ``<meta>``,
``<time>``). Everything runs offline on the given HTML string.

Figure captions, which trafilatura drops, are kept (:func:`captions_as_paragraphs`): each
``<figcaption>`` becomes a paragraph of its own after its figure, so that the caption stays in
the stored text, searchable, and ``rag.newsparts`` marks it as a caption (never quoted as an
answer; a who-is answer's last resort, ``rag.answering.captions``). A caption that does not already
read as one there (a start like "Photo:" or an "(AP Photo/Jane Doe)" credit) is labelled
``CAPTION_LABEL``: the page's markup said it is a caption, plain text cannot.

The returned text is the headline (when trafilatura keeps it) and the paragraphs, separated by
blank lines, which is the layout ``rag.newsparts`` reads: the headline stays searchable but is
not quoted as an answer.

The page is measured first (``rag.articles.limits.check_html``: elements, the widest block) and then
parsed in a worker process with a deadline (``rag.articles.sandbox``): trafilatura's cost is not
linear in the page, and a server must neither wait minutes for one page nor parse on its event loop.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from rag.articles.limits import Limits, check_html
from rag.errors import InputError

# The label of a figure caption that does not read as one by itself ("Photo:" is a caption's
# start in rag.newsparts): what the page's <figcaption> said, kept in plain text
CAPTION_LABEL = "Photo: "

log = logging.getLogger(__name__)
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Page:
    """What a page says about its article; ``text``: the main text, paragraphs blank-line apart."""

    text: str
    title: str | None = None
    date: str | None = None
    author: str | None = None
    sitename: str | None = None
    url: str | None = None


def extract_page(html: str, url: str | None = None, limits: Limits | None = None) -> Page:
    """The article in ``html`` (``url``: where it came from, for metadata and relative links).

    Raises ``ArticleLimitError`` when the page is over a limit or parsing it passes the
    deadline, and ``InputError`` when it has no main text (an empty page, a login wall).
    """
    from rag.articles.sandbox import run_parser

    limits = limits or Limits()
    check_html(html, limits)
    return run_parser(parse_page, html, url, timeout_s=limits.parse_timeout_s)


def parse_page(html: str, url: str | None = None) -> Page:
    """``extract_page`` without limits or a worker: call it only on measured input."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        captions_as_paragraphs(html),
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        deduplicate=True,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    data = doc if isinstance(doc, dict) else doc.as_dict() if doc is not None else {}
    text = _paragraphs(data.get("text") or "")
    if not text:
        text = _paragraphs(trafilatura.baseline(html)[1] or "")
    if not text:
        raise InputError("the page has no article text")
    return Page(
        text=text,
        title=_clean(data.get("title")),
        date=_clean(data.get("date")),
        author=_clean(data.get("author")),
        sitename=_clean(data.get("sitename")),
        url=_clean(data.get("url")) or url,
    )


def captions_as_paragraphs(html: str) -> str:
    """``html`` with each ``<figcaption>`` moved out of its figure into a ``<p>`` right after
    it, its words labelled as a caption where they do not read as one; ``html`` unchanged
    when it has none or does not parse."""
    if "figcaption" not in html.lower():
        return html
    import lxml.etree
    import lxml.html

    from rag.newsparts import captions

    try:
        tree = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return html
    for caption in list(tree.iter("figcaption")):
        words = " ".join(caption.text_content().split())
        figure = next((a for a in caption.iterancestors("figure")), caption)
        if words:
            paragraph = lxml.html.Element("p")
            paragraph.text = words if captions(words) else f"{CAPTION_LABEL}{words}"
            figure.addnext(paragraph)
        caption.drop_tree()
    return str(lxml.html.tostring(tree, encoding="unicode"))


def _paragraphs(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\r", "\n").split("\n"))
    return "\n\n".join(line for line in lines if line)


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = re.sub(r"\s+", " ", value).strip()
    return value or None
