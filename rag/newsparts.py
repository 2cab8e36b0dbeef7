"""What in a news text is not an answer: headlines, datelines, bylines, captions, link lists.

``quotable(text, sentences)`` keeps the sentence spans that may be quoted as an answer. The text
itself is never changed (chunks still cover all of it, so a headline stays searchable); only the
set of answer candidates shrinks. The decision is made per line of the text:

- front matter (a ``---`` YAML block opening the text), the headline (the first line when it is
  short, has no closing full stop and stands alone), Markdown headings, standalone subheads
  (a short paragraph of one line with no closing punctuation and no digit), bylines
  ("By Jane Smith"), "Published:"/"Updated:" lines, copyright and "Advertisement" lines,
  agency sign-offs ("==Kyodo"), bare links and Markdown images are dropped whole;
- photo captions are dropped whole: a line that starts like one ("Photo shows", "Combined
  photo shows", "Photo:", "Pictured:", "File photo") or a paragraph that ends with a bare
  photo credit such as "(Kyodo)" or "(AP Photo/Jane Doe)";
- "Related coverage:" / "Read more" / "See also" headers and the link-like lines after them
  (lines without a closing full stop, bullets, links) are dropped;
- a dateline that opens a sentence ("TOKYO, April 9 (Kyodo) — Japan said ...") is cut off: the
  span returned starts after the dash, so ``text[start:end]`` is still a verbatim quote, also
  when it follows the headline with no blank line between; a dateline standing alone on its
  line is dropped (and still read by :func:`header` for the date and agency).

These parts are never quoted, even when nothing else answers: a question whose only match is a
headline or a caption gets an abstention or another sentence rather than a quote of page chrome.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from rag.models import Span

QUOTABLE_VERSION = 2  # bump when the rules change: stored answer candidates change with them

# Why 150 characters / 20 words: news headlines run 6-15 words; longer first lines are prose.
MAX_HEADLINE_CHARS = 150
MAX_HEADLINE_WORDS = 20
# Why 12 words: subheads and bylines are short; a sentence that long without a full stop is rare.
MAX_LABEL_WORDS = 12
# Why 60 words: a caption is a sentence or two; a long paragraph ending in "(Reuters)" is copy.
MAX_CAPTION_WORDS = 60

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_CLOSING = ".!?:;\"'\u201d\u2019)\u2026"
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_PLACE = (
    r"[A-Z][A-Z.'\u2019\-]+(?:[ /][A-Z][A-Z.'\u2019\-]+){0,3}"  # "NEW YORK", then
    r"(?:,[ ][A-Z][A-Za-z.]+(?: [A-Z][A-Za-z.]+)?)?"
)  # ", Tasmania"
_DATELINE_HEAD = (
    rf"(?:{_PLACE})(?:,?[ ](?P<date>{_MONTH}[ ]\d{{1,2}}(?:,[ ]\d{{4}})?))?"
    r"(?:[ ]?\((?P<agency>[A-Z][\w&.' ]{1,30})\))?"
)
_DATELINE = re.compile(rf"{_DATELINE_HEAD}[ ]*(?:\u2014|\u2013|--|-|:)[ ]+(?=\S)")
_DATELINE_ONLY = re.compile(rf"{_DATELINE_HEAD}[ ]*(?:\u2014|\u2013|--|-|:)?[ ]*")
_BYLINE = re.compile(
    r"(?:by|story by|words by|written by|reporting by|reported by|text by|author:?)[ ]+"
    r"[A-Z\u00c0-\u00de][\w.'\u2019\-]*(?:[ ,]+[\w.'\u2019&|\-]+)*",
    re.IGNORECASE,
)
_META = re.compile(
    r"(?:(?:published|updated|posted|last updated|first published|filed)\b.{0,60}"
    r"|(?:\u00a9|copyright\b).*|advertisement|advert|sponsored( content)?|share( this( article)?)?"
    r"|(?:reporting|editing|writing|additional reporting) by\b.*|\(?reporting by\b.*"
    r"|==+\s*\w[\w ]*)",
    re.IGNORECASE,
)
_CAPTION_START = re.compile(
    r"(?:(?:combined|file|handout|undated|supplied|aerial|this|a|the)[ ])?"
    r"(?:photo|picture|image|screenshot|screengrab)s?[ ](?:shows?|taken|released|provided|"
    r"courtesy|dated)\b"
    r"|(?:photo|picture|image|caption|pictured|credit|photograph|file photo)s?[ ]*[:|\u2014\u2013]"
    r"|pictured[ ]\w"
    r"|\[?(?:photo|image|caption)\]",
    re.IGNORECASE,
)
_CREDIT = re.compile(
    r"\((?:[A-Z][\w&.'/ -]{0,40}(?:photo|images?|kyodo|reuters|afp|ap|epa|getty|file|pool)"
    r"[\w&.'/ -]{0,40}|[A-Z][\w&.'/-]{1,20})\)",
    re.IGNORECASE,
)
_RELATED = re.compile(
    r"(?:related(?:[ ](?:coverage|stories|articles|content|news|links|reading))?|read more"
    r"|read also|also read|see also|more on this(?: story)?|more from [\w ]{1,30}|recommended"
    r"|most (?:read|popular|viewed)|trending(?: now)?|you may also like|further reading)"
    r"[ ]*:?[ ]*(?P<rest>.*)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"(?:[-*+\u2022\u25aa\u25cf]|\d+[.)])[ ]+")
_LINK_LINE = re.compile(r"!?\[[^\]]*\]\([^)]*\)|<?https?://\S+>?|www\.\S+")
_DECORATION = "*_>#` \t"


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    raw: str  # the line, whitespace trimmed
    body: str  # the line without Markdown decoration


def quotable(text: str, sentences: list[Span]) -> list[Span]:
    """The sentence spans of ``text`` that may be quoted as an answer (see the module doc).

    Spans are returned in order, each either unchanged or shortened at its start (a dateline
    cut off), so ``text[span.start:span.end]`` is always a verbatim part of the text.
    """
    if not sentences:
        return []
    dropped, trims = _line_rules(text)
    starts, ends = _merged(dropped)
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
    out: list[Span] = []
    for span in sentences:
        at = bisect.bisect_right(starts, span.start) - 1
        if at >= 0 and span.start < ends[at]:
            continue
        line_start = line_starts[bisect.bisect_right(line_starts, span.start) - 1]
        start = trims.get(line_start, span.start)
        if start >= span.end:
            continue
        start = max(start, span.start)
        if _is_caption_sentence(text[start : span.end]):
            continue
        out.append(Span(start, span.end))
    return out


def captions(text: str) -> list[Span]:
    """The photo captions of ``text`` (the lines ``quotable`` drops as captions), in order:
    who-is answers may read them as a last resort (``rag.answering.captions``)."""
    front = _FRONT_MATTER.match(text)
    blocks = _blocks(text, front.end() if front else 0)
    found: list[Span] = []
    for b_index, block in enumerate(blocks):
        credited = _ends_with_credit(block)
        for l_index, line in enumerate(block):
            kind = _kind(line, block, b_index == 0 and l_index == 0, len(blocks))
            if credited or kind == "caption":
                found.append(Span(line.start, line.end))
    return found


def _merged(ranges: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Sorted, non-overlapping ranges as two lists (starts, ends) for bisection."""
    starts: list[int] = []
    ends: list[int] = []
    for lo, hi in sorted(ranges):
        if ends and lo <= ends[-1]:
            ends[-1] = max(ends[-1], hi)
        else:
            starts.append(lo)
            ends.append(hi)
    return starts, ends


def _line_rules(text: str) -> tuple[list[tuple[int, int]], dict[int, int]]:
    """Character ranges whose sentences are dropped, and dateline cuts by line start."""
    front = _FRONT_MATTER.match(text)
    begin = front.end() if front else 0
    dropped: list[tuple[int, int]] = [(0, begin)] if front else []
    trims: dict[int, int] = {}
    blocks = _blocks(text, begin)
    related = False
    for b_index, block in enumerate(blocks):
        opens = True  # no quotable line before this one in its paragraph (a headline may be)
        for l_index, line in enumerate(block):
            first_line = b_index == 0 and l_index == 0
            if related and _is_link_like(line.body):
                dropped.append((line.start, line.end + 1))
                continue
            related = False
            kind = _kind(line, block, first_line, len(blocks))
            if kind == "related":
                related = True
            if kind is not None:
                dropped.append((line.start, line.end + 1))
                continue
            if (cut := _DATELINE.match(text, line.start, line.end)) and opens:
                trims[line.start] = cut.end()
            opens = False
        if _ends_with_credit(block):
            dropped.extend((line.start, line.end + 1) for line in block)
    return dropped, trims


def _blocks(text: str, begin: int) -> list[list[_Line]]:
    """Paragraphs (runs of non-blank lines) after ``begin``, as lines with offsets."""
    blocks: list[list[_Line]] = [[]]
    for match in re.finditer(r"[^\n]*", text[begin:]):
        start, end = begin + match.start(), begin + match.end()
        if start == end and match.start() > 0 and text[start - 1 : start] != "\n":
            continue  # the empty match that follows every non-empty line
        raw = text[start:end]
        if not raw.strip():
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append(_Line(start, end, raw.strip(), raw.strip().strip(_DECORATION).strip()))
    return [b for b in blocks if b]


def _kind(line: _Line, block: list[_Line], first_line: bool, n_blocks: int) -> str | None:
    """Why a whole line is not quotable, or None when it may be."""
    body, raw_words = line.body, line.body.split()
    if not body:
        return "decoration"
    related = _RELATED.fullmatch(body)
    if related and _is_link_like(related["rest"] or "x"):
        return "related"
    if first_line and _is_headline(body, block):
        return "headline"
    if re.match(r"#{1,6}[ ]", line.raw) or _LINK_LINE.fullmatch(_BULLET.sub("", body, count=1)):
        return "heading"
    short = len(raw_words) <= MAX_LABEL_WORDS and not body.endswith(".")
    if short and (_BYLINE.fullmatch(body) or _META.fullmatch(body)):
        return "byline"
    if _META.fullmatch(body) and len(raw_words) <= 2 * MAX_LABEL_WORDS:
        return "byline"
    if _DATELINE_ONLY.fullmatch(body) and re.search(r"[A-Z]{2}", body):
        return "dateline"
    if _CAPTION_START.match(body):
        return "caption"
    if (
        len(block) == 1
        and n_blocks > 1
        and len(raw_words) <= MAX_LABEL_WORDS
        and body[-1] not in _CLOSING
        and not re.search(r"\d", body)
    ):
        return "subhead"
    return None


def _is_headline(body: str, block: list[_Line]) -> bool:
    """The first line: short, no closing full stop, and not carried on by the next line."""
    if len(body) > MAX_HEADLINE_CHARS or len(body.split()) > MAX_HEADLINE_WORDS:
        return False
    if body.endswith((".", ":", ";", ",")) and not body.endswith("..."):
        return False
    if len(block) > 1:
        nxt = block[1].body
        return bool(nxt) and not nxt[0].islower()
    return True


def _is_link_like(body: str) -> bool:
    """A related-stories item: a link, a bullet, or a short line with no closing full stop."""
    item = _BULLET.sub("", body.strip(_DECORATION), count=1).strip()
    if not item or _LINK_LINE.search(item):
        return True
    return len(item.split()) <= MAX_HEADLINE_WORDS and not item.endswith(".")


def _ends_with_credit(block: list[_Line]) -> bool:
    """A short paragraph that ends with a bare photo credit, "... Richard Marles. (Kyodo)"."""
    if sum(len(line.body.split()) for line in block) > MAX_CAPTION_WORDS:
        return False
    last = block[-1].body
    match = re.search(r"[.!?\u201d\"]\s*(\([^()]{1,60}\))$", last)
    return bool(match and _CREDIT.fullmatch(match[1]))


def _is_caption_sentence(sentence: str) -> bool:
    body = sentence.strip(_DECORATION)
    return bool(_CAPTION_START.match(body) or _CREDIT.fullmatch(body))


@dataclass(frozen=True)
class Header:
    """What the top of a news text says about the article (``None`` where it says nothing)."""

    headline: str | None = None
    author: str | None = None
    date: str | None = None
    source: str | None = None


# Why 6 lines: headline, byline, date line and the dateline paragraph come first in news copy.
_HEADER_LINES = 6
_PUBLISHED = re.compile(
    r"(?:published|updated|posted|first published|filed)\b[: ]*(?P<d>.+)", re.IGNORECASE
)
_BY_NAME = re.compile(
    r"(?:by|story by|words by|written by|text by|author:?)[ ]+(?P<n>.+)", re.IGNORECASE
)


def header(text: str) -> Header:
    """The headline, byline author, publication date and agency from the top of ``text``.

    The date comes from a "Published: 9 April 2024" line or a dateline that carries a year
    ("SYDNEY, Feb. 10, 2024 (Reuters) -"); the source from the dateline's agency.
    """
    front = _FRONT_MATTER.match(text)
    lines = [line for block in _blocks(text, front.end() if front else 0) for line in block]
    found: dict[str, str | None] = {}
    for index, line in enumerate(lines[:_HEADER_LINES]):
        body = line.body
        if index == 0 and _is_headline(body, [line, *lines[1:2]]):
            found["headline"] = " ".join(body.split())
        elif (by := _BY_NAME.fullmatch(body)) and _BYLINE.fullmatch(body):
            found.setdefault(
                "author",
                re.split(r"\s*(?:[,|\u00b7\u2022;]|\s[-\u2013\u2014]\s)", by["n"])[0].strip()
                or None,
            )
        elif (pub := _PUBLISHED.fullmatch(body)) and len(body.split()) <= MAX_LABEL_WORDS:
            found.setdefault("date", parse_news_date(pub["d"]))
        elif dateline := _DATELINE.match(text, line.start, line.end) or _standalone(line):
            found.setdefault("source", dateline["agency"])
            found.setdefault("date", parse_news_date(dateline["date"] or ""))
            break
    return Header(**{k: v for k, v in found.items() if v})


def _standalone(line: _Line) -> re.Match[str] | None:
    """A dateline alone on its line ("MARLOW BAY, March 4, 2024 (AP) —"), with a date or an
    agency (a bare upper-case line without either is a kicker or a section label)."""
    match = _DATELINE_ONLY.fullmatch(line.body)
    return match if match and (match["date"] or match["agency"]) else None


_DATE_FORMATS = ("%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y", "%Y-%m-%d")


def parse_news_date(value: str) -> str | None:
    """``2024-04-09`` from "April 9, 2024", "9 Apr 2024", "Feb. 10, 2024" or an ISO date."""
    from datetime import datetime

    iso = re.search(r"\d{4}-\d{2}-\d{2}", value)
    cleaned = iso[0] if iso else re.sub(r"[.,]", " ", value).replace("Sept", "Sep")
    words = cleaned.split()[:3]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(" ".join(words), fmt).date().isoformat()
        except ValueError:
            continue
    return None
