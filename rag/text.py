"""Text utilities: sentence spans with offsets, and word tokens for lexical matching."""

from __future__ import annotations

import re
from functools import lru_cache

from rag.models import Span

# When a period after an abbreviation ends a sentence follows pySBD's English rules (its
# "prepositive" and "number" abbreviations, and its sentence starters), on top of this module's
# fast line-by-line splitter: pySBD 0.3.4 itself takes some 300 times as long on SQuAD's
# articles (about 2,500 against 4 to 8 ms per 1,000 sentences) and cuts at "c. 1,300,000".
# Titles, saints and introducers that come before a name or an example: never end a sentence
# ("Trinity-St. Paul's", "Dr. Who", "(a.k.a. The Mutants)").
_NEVER_FINAL = frozenset(
    """mr mrs ms messrs mssrs mme mlle dr drs prof rev hon msgr fr st sts ste gen col lt
    maj brig capt cmdr adm sgt cpl pvt det insp supt gov sen sens rep reps pres cf
    viz vs e.g i.e a.k.a""".split()
)
# Abbreviations only before a number or an era ("No. 1", "ca. 22,000", "ca. AD 400", "Vol. XIV",
# "Ps. 31:5"); a word otherwise ("No. The answer ...", "... in Los Angeles, CA. The ...").
_NUMBER_ABBREVIATIONS = frozenset("no nos nr ca approx vol vols pp art ch ps pt op".split())
# Other abbreviations (and single initials, dotted acronyms): they end a sentence only when the
# next word is one that usually starts one ("... in the U.S. The ...", "Saturn V. It ...").
_ABBREVIATIONS = frozenset(
    """sr jr inc ltd co corp bros etc al dept est fig figs mt ft pharm ph.d univ assn ave blvd
    jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n a.m p.m""".split()
)
# pySBD's English sentence starters, with the openers of news and reference prose added; not
# surnames ("Thomas More"), since the word after an initial is usually one.
_SENTENCE_STARTERS = frozenset(
    """A An As At After Also Although Being Both But By Despite During Each Even For From
    Following He Her His How However I If In Instead It Its Later Many Meanwhile Millions
    Moreover Most On One Our She Since Some Such That The Their Then There These They This
    Those Thus Today Under Until We What When Where While Who Why With Yet""".split()
)
# Names spelled with "!" (pySBD's list and a few of news): the mark does not end a sentence.
# An all-capital word before "!" is taken for a name too ("EAT! Vancouver", "E! News").
_EXCLAMATION_NAMES = frozenset("yahoo yum jeopardy oklahoma wham mia".split())
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)")
_NEXT_START = re.compile(r"\s+[\"'\u201c\u2018(\[]*[A-Z0-9]")
_ACRONYM = re.compile(r"(?:[a-z]\.)+[a-z]")  # "u.s", "s.w.a.t" (the final period is the mark)
_NUMBER = re.compile(r"\d|[IVXLC]{2,}\b|[VX]\b|(?:AD|BCE?|CE)\b")  # 12, XIV, V, AD
_CLOSERS = "\"'\u201d\u2019)]"
_KEY_WORD = re.compile(r"\w+")  # the words of ``word_key``
_NEXT_WORD = re.compile(r"[^\W\d_]+(?![\w.-])")
# A single line break inside a sentence: after a word (no closing punctuation), before a
# lower-case word or a number that is not a list marker ("2." or "2)"), as in hard-wrapped
# text or a formula's subscript ("O\n2 molecules").
_SOFT_BREAK = re.compile(r"(?<=[^\s.!?:;\"'\u201d\u2019)\]])\n(?=[a-z]|\d+(?:[^\d.)]|[.)]\S))")
SPLITTER_VERSION = 4  # recorded in the manifest; bump when sentence boundaries change
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


# A character that is not white space as Python's ``str.isspace`` sees it (what ``strip``
# removes, the ASCII separators \x1c-\x1f among it), as one class that reads the same in ECMA-262:
# an article's text must hold one, and the OpenAPI schema says so with this pattern.
NON_SPACE = r"[^\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_NON_SPACE = re.compile(NON_SPACE)


def has_text(text: str) -> bool:
    """Whether ``text`` holds a character other than white space (``NON_SPACE``)."""
    return _NON_SPACE.search(text) is not None


def has_words(text: str) -> bool:
    """Whether ``text`` holds a character that can be part of a word (``WORD_CHAR``)."""
    return _WORD_CHAR.search(text) is not None


def _mark_continues(text: str, mark: int, next_char: int) -> bool:
    """True when the ``.`` or ``!`` at ``mark`` closes an abbreviation, an initial or a name,
    not a sentence; ``text[next_char]`` is the first letter or digit after it."""
    if text[mark] == "?" or text[mark + 1] in _CLOSERS:
        return False  # a closing quote or bracket after the mark: '... Mr."' ends a sentence
    word = _word_before(text, mark)
    if text[mark] == "!":
        return word.lower() in _EXCLAMATION_NAMES or word.isalpha() and word.isupper()
    key = word.lower()
    if key in _NEVER_FINAL:
        return True
    if key in _NUMBER_ABBREVIATIONS:
        return _NUMBER.match(text, next_char) is not None
    if not (key in _ABBREVIATIONS or len(key) == 1 and key.isalpha() or _ACRONYM.fullmatch(key)):
        return False
    after = _NEXT_WORD.match(text, next_char)
    return after is None or after.group() not in _SENTENCE_STARTERS


def _word_before(text: str, mark: int) -> str:
    """The word that the mark at ``mark`` closes, without opening quotes or brackets and
    without what a hyphen joins it to ("Trinity-St." gives "St")."""
    words = text[max(0, mark - 64) : mark].split()  # 64: longer than any abbreviation
    word = words[-1].lstrip("\"'(\u201c\u2018[") if words and not text[mark - 1].isspace() else ""
    return word.rsplit("-", 1)[-1] if "-" in word[:-1] else word


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of ``text[start:end]``, as offsets into ``text``, whitespace trimmed.

    Line breaks end a sentence, except a single one that carries on a wrapped line (see
    ``_SOFT_BREAK``); ``.``, ``!`` and ``?`` (with closing quotes) end one when the next word
    starts like a sentence (a capital or a digit) and the mark does not close an abbreviation,
    an initial or a name (``_mark_continues``).
    """
    end = len(text) if end is None else end
    spans: list[Span] = []
    for line_start, line_end in _lines(text, start, end):
        cut = line_start
        for match in _BOUNDARY.finditer(text, line_start, line_end):
            nxt = _NEXT_START.match(text, match.end(), line_end)
            if nxt is None or _mark_continues(text, match.start(), nxt.end() - 1):
                continue
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
    for token in _WORD.findall(text):
        term = _TERMS.get(token)
        if term is None:
            if len(_TERMS) >= _TERMS_MAX:
                _TERMS.clear()
            term = _TERMS[token] = _term(token)
        if term:
            out.append(term)
    return tuple(out)


# each token as written -> its term ("" for a stopword): one lookup per word of a new text
_TERMS: dict[str, str] = {}
_TERMS_MAX = 200_000  # distinct tokens kept (tens of MB at most); cleared, not evicted, when full


def _term(token: str) -> str:
    """The term of one ``_WORD`` token: lower case, no possessive, stemmed; "" if not one."""
    w = token.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if w in STOPWORDS or len(w) < 2 and not w.isdigit():
        return ""
    return stem(w)


def word_key(text: str) -> str:
    """The text's words, lower-cased and space-separated: the same for copies of one sentence
    that differ only in case, spacing or punctuation."""
    return " ".join(w.lower() for w in _KEY_WORD.findall(text))
