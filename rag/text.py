"""Text utilities: sentence spans with offsets, and word tokens for lexical matching."""

from __future__ import annotations

import re
from functools import lru_cache

from rag.models import Span

# Words that end with a period without ending a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft gen col lt sgt capt cmdr adm gov sen rep rev hon pres
    inc ltd co corp bros vs etc al approx dept est fig vol pp jan feb mar apr jun jul aug
    sep sept oct nov dec e.g i.e u.s u.k u.n a.m p.m""".split()
)
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)")
_NEXT_START = re.compile(r"\s+[\"'\u201c\u2018(\[]*[A-Z0-9]")
_NUMBER_ABBREVIATION = re.compile(r"(?<![\w])No$", re.IGNORECASE)
# A single line break inside a sentence: after a word (no closing punctuation), before a
# lower-case word or a number that is not a list marker ("2." or "2)"), as in hard-wrapped
# text or a formula's subscript ("O\n2 molecules").
_SOFT_BREAK = re.compile(r"(?<=[^\s.!?:;\"'\u201d\u2019)\]])\n(?=[a-z]|\d+(?:[^\d.)]|[.)]\S))")
SPLITTER_VERSION = 3  # recorded in the manifest; bump when sentence boundaries change
_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?")

STOPWORDS = frozenset(
    """a an the and or but if of at by for with about against between into through during before
    after above below to from up down in out on off over under again further then once here there
    when where why how all any both each few more most other some such no nor not only own same so
    than too very s t can will just don should now is are was were be been being have has had
    having do does did doing i me my we our you your he him his she her it its they them their
    what which who whom this that these those am would could shall may might must also as per
    said say says tell told according""".split()
)

# A character that can be part of a word: not a control, space, punctuation or symbol of ASCII and
# Latin-1, nor of Unicode's General Punctuation block or the CJK punctuation at U+3000. Written as
# one plain character class so that it reads the same in Python and in ECMA-262 (the OpenAPI
# schema's dialect, where \\w and \\s are ASCII only): a question without one asks nothing.
WORD_CHAR = "[^\\x00-/:-@\\[-`{-\\xbf\\xd7\\xf7\\u1680\\u2000-\\u206f\\u3000-\\u3003\\ufeff]"
_WORD_CHAR = re.compile(WORD_CHAR)


def has_words(text: str) -> bool:
    """Whether ``text`` holds a character that can be part of a word (``WORD_CHAR``)."""
    return _WORD_CHAR.search(text) is not None


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at ``dot`` closes an abbreviation or an initial, not a sentence."""
    start = dot
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:dot].strip("\"'(\u201c").lower()
    if not word:
        return False
    if word in _ABBREVIATIONS or word.rstrip(".") in _ABBREVIATIONS:
        return True
    # single initials ("J.") and dotted acronyms ("U.S.") other than at a clear sentence end
    return len(word) == 1 and word.isalpha() or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of ``text[start:end]``, as offsets into ``text``, whitespace trimmed.

    Line breaks end a sentence, except a single one that carries on a wrapped line (see
    ``_SOFT_BREAK``); ``.``, ``!`` and ``?`` (with closing quotes) end one when the next word
    starts like a sentence and the word before is not an abbreviation.
    """
    end = len(text) if end is None else end
    spans: list[Span] = []
    for line_start, line_end in _lines(text, start, end):
        cut = line_start
        for match in _BOUNDARY.finditer(text, line_start, line_end):
            nxt = _NEXT_START.match(text, match.end(), line_end)
            dot = match.start()
            if nxt is None or (text[dot] == "." and _is_abbreviation(text, dot)):
                continue
            if (
                _NUMBER_ABBREVIATION.search(text, max(0, dot - 3), dot)
                and text[nxt.end() - 1].isdigit()
            ):
                continue  # "No. 1"
            _append_trimmed(text, cut, match.end(), spans)
            cut = match.end()
        _append_trimmed(text, cut, line_end, spans)
    return spans


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``text[start:end]`` cut at its line breaks, soft ones excepted."""
    lines, cut = [], start
    for match in re.finditer("\n", text[start:end]):
        at = start + match.start()
        if not _SOFT_BREAK.match(text, at, end) or at == start:
            lines.append((cut, at))
            cut = at + 1
    lines.append((cut, end))
    return [(a, b) for a, b in lines if b > a]


def _append_trimmed(text: str, start: int, end: int, spans: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append(Span(start, end))


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """A tiny suffix stripper: enough to match 'elections' with 'election'."""
    for suffix in ("ings", "ing", "ies", "ied", "es", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            return base + "y" if suffix in ("ies", "ied") else base
    return word


def words(text: str) -> list[str]:
    """Lower-cased word tokens (numbers kept)."""
    return [w.lower().replace("\u2019", "'") for w in _WORD.findall(text)]


def content_terms(text: str) -> list[str]:
    """Stemmed, stopword-free tokens used by BM25 and lexical sentence features."""
    return list(_content_terms(text))


@lru_cache(maxsize=50_000)
def _content_terms(text: str) -> tuple[str, ...]:
    out = []
    for w in words(text):
        if w.endswith("'s"):
            w = w[:-2]
        if w in STOPWORDS or len(w) < 2 and not w.isdigit():
            continue
        out.append(stem(w))
    return tuple(out)


def word_key(text: str) -> str:
    """The text's words, lower-cased and space-separated: the same for copies of one sentence
    that differ only in case, spacing or punctuation."""
    return " ".join(w.lower() for w in re.findall(r"\w+", text))
