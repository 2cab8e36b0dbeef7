"""Text extraction from HTML articles: scripts, styles and page chrome dropped."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

_DROP = ("script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside")
_BLOCKS = ("p", "div", "section", "article", "li", "h1", "h2", "h3", "h4", "h5", "h6",
           "blockquote", "pre", "tr", "br", "main")


def extract_html(html: str) -> tuple[str | None, str]:
    """``(title, text)``: paragraphs separated by blank lines, whitespace inside them collapsed."""
    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title") or soup.find("h1")
    title = title_tag.get_text(" ", strip=True) if title_tag else None
    for tag in soup(list(_DROP)):
        tag.decompose()
    if soup.head:
        soup.head.decompose()
    for tag in soup.find_all(list(_BLOCKS)):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    raw = soup.get_text()
    paragraphs = [re.sub(r"[ \t\u00a0]+", " ", p).strip() for p in re.split(r"\n\s*\n", raw)]
    text = "\n\n".join(" ".join(p.split("\n")) for p in paragraphs if p)
    return (title or None), text
