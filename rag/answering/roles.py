"""Who-is and role questions: "Who is Japan's defense minister?" answered with the name.

Contract: :func:`parse_role_question` recognises "Who is <role>?", "Who is the <role> of X?",
"Who was named <role>?" and "Who serves as <role>?" when the role has a role noun (minister,
president, spokesperson, CEO, ...); "Who is Minoru Kihara?" is not a role question.
:func:`find_role` looks through the candidate sentences, best first, for a person (a PERSON
entity stored at ingest, ``rag.runtime.entities``) named with the role, and returns the sentence and
the name's character span in the article: the answer span of the citation.

Design. News names office holders in three ways, and each is a window of words next to the
name, up to the nearest punctuation: a title before it ("Japanese Defense Minister Minoru
Kihara"), an apposition after it ("Kihara, Japan's defense minister,") or before it ("the
defense minister, Minoru Kihara"), or a naming verb after it ("Kihara was named defense
minister"). A window matches when it holds every word of the role (defence = defense,
spokesman = spokesperson, chief executive = CEO); a match whose window also names the country
or people the question asks about (Japan's = Japanese, ``rag.runtime.entities.place_forms``) beats
one that names it elsewhere in the sentence, which beats one that does not name it at all; a
window that names another country ("Japanese" when Australia's is asked for) does not match.
Without stored entities (``RAG_ENTITIES=false``, or an index built before them) nothing is
found and the question is answered like any other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.models import Citation
from rag.runtime.entities import ANSWER_LABELS, Entity, place_forms, within
from rag.stores.view import View

ROLE_NOUNS = frozenset(
    "minister secretary president premier chancellor spokesperson ambassador governor mayor "
    "senator chief head leader chairman chairwoman chair chairperson ceo director "
    "commissioner king queen emperor pope commander coach captain manager founder editor "
    "judge envoy speaker treasurer adviser advisor prosecutor owner general mp lawmaker "
    "cfo coo principal dean bishop archbishop sheriff negotiator mediator economist analyst "
    "lawyer member councillor councilor councilman councilwoman officer".split()
)
SEARCHED_ROWS = 20  # candidate sentences looked at, best first (the pool's best few chunks)
WINDOW_WORDS = 7  # words of a title or apposition read next to a name
_SYNONYMS = (
    (re.compile(r"\bchief\s+executive(?:\s+officer)?\b", re.I), "ceo"),
    (re.compile(r"\bdefence\b", re.I), "defense"),
    (re.compile(r"\bspokes(?:wo)?man\b", re.I), "spokesperson"),
)
_QUESTION = re.compile(
    r"^\s*who\s*(?:is|was|are|were|'s|\u2019s)\s+(?:currently\s+|now\s+)?"
    r"(?:(?P<verb>named|appointed|elected|chosen|picked|nominated|made)\s+(?:as\s+)?"
    r"|serv(?:es|ed|ing)\s+as\s+)?(?:the\s+|a\s+)?(?:current\s+|new\s+|incumbent\s+)?"
    r"(?P<role>[^?]+?)\s*\?*\s*$",
    re.IGNORECASE,
)
_SERVES = re.compile(
    r"^\s*who\s+(?:serves|served)\s+as\s+(?:the\s+)?(?P<role>[^?]+?)\s*\?*\s*$", re.I
)
# the last "of X" names whose role it is: "the minister of defense of Japan"
_QUALIFIER = re.compile(r"^(?P<head>.+)\s+(?:of|for|in|at)\s+(?:the\s+)?(?P<what>[^,]+)$", re.I)
_POSSESSIVE = re.compile(
    r"^(?P<owner>[^'\u2019]+?)(?:['\u2019]s|(?<=s)['\u2019])\s+(?P<rest>.+)$", re.IGNORECASE
)
_WHEN = re.compile(r"\s+(?:in|during|since|until|by)\s+(?:the\s+)?(?:\d{4}|\d{4}s)\b.*$", re.I)
_FILLER = frozenset({"of", "the", "for", "and", "to", "a", "an", "in", "at"})
_WORD = re.compile(r"[A-Za-z][A-Za-z.\u2019'&-]*")
_BREAK = re.compile(r"[,;:()\"\u201c\u201d\u2014]|\.\s|\s-\s")
_RELATIVE = frozenset({"who", "whom", "whose", "which", "that", "where", "when", "while"})
_NAMED_AFTER = re.compile(
    r"^\s+(?:was|has\s+been|had\s+been|is|will\s+be|became|becomes)\s+"
    r"(?:named|appointed|elected|chosen|picked|nominated|made|sworn\s+in)?\s*(?:as\s+)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RoleQuestion:
    role: tuple[str, ...]  # the role's words, normalised ("defense", "minister")
    place: frozenset[str]  # forms of the country, people or body it belongs to (may be empty)


@dataclass(frozen=True)
class RoleAnswer:
    index: int  # into the reading's candidate rows
    row: int  # the sentence
    start: int  # the name's span in the article: the answer span
    end: int


def _words(text: str) -> list[str]:
    for pattern, replacement in _SYNONYMS:
        text = pattern.sub(replacement, text)
    return [re.sub(r"(?:'s|\u2019s|'|\u2019)$", "", w).lower() for w in _WORD.findall(text)]


def role_words(text: str) -> list[str]:
    """The words of ``text`` as roles compare them: lower-cased, possessives dropped, and
    synonyms made one ("Chief Executive's" -> "ceo")."""
    return _words(text)


def parse_role_question(text: str) -> RoleQuestion | None:
    """The role asked about in "Who is Japan's defense minister?" and the like, else None."""
    match = _SERVES.match(text) or _QUESTION.match(text)
    if not match:
        return None
    phrase = _WHEN.sub("", match.group("role").strip())
    place: set[str] = set()
    tail = _QUALIFIER.match(phrase)
    if tail and ROLE_NOUNS.intersection(_words(tail.group("head"))):
        place |= place_forms(tail.group("what"))
        phrase = tail.group("head")
    owner, phrase = _owner(phrase)
    place |= owner
    role = tuple(w for w in _words(phrase) if w not in _FILLER)
    if not role or not ROLE_NOUNS.intersection(role):
        return None
    return RoleQuestion(role, frozenset(place))


def _owner(phrase: str) -> tuple[frozenset[str], str]:
    """The country or people a role phrase starts with ("Japan's", "the United States'",
    "Japanese"), as its forms, and the rest of the phrase."""
    possessive = _POSSESSIVE.match(phrase)
    if possessive:
        return place_forms(possessive.group("owner")), possessive.group("rest")
    words = phrase.split()
    for n in (2, 1):
        forms = place_forms(" ".join(words[:n]))
        if len(words) > n and len(forms) > 1:
            return forms, " ".join(words[n:])
    return frozenset(), phrase


def find_role(
    q: RoleQuestion, data: View, rows: Sequence[int], limit: int = SEARCHED_ROWS
) -> RoleAnswer | None:
    """The best candidate sentence naming a person in the role, with the name's span."""
    best: tuple[int, int, RoleAnswer] | None = None
    for index, row in enumerate(rows[:limit]):
        article = data.article_of(row)
        start, end = data.sentence_span(row)
        found = named_in(q, article.text, getattr(article, "entities", ()), start, end)
        if found and (best is None or (found[0], -index) > best[:2]):
            best = (found[0], -index, RoleAnswer(index, row, found[1], found[2]))
    return best[2] if best is not None else None


def named_in(
    q: RoleQuestion, text: str, entities: Sequence[Entity], start: int, end: int
) -> tuple[int, int, int] | None:
    """The best person named in the role in ``text[start:end]``: (quality, name start, name
    end), quality 3 (the window names the place asked about), 2 (the passage does) or 1."""
    best: tuple[int, int, int] | None = None
    left = start  # a title or apposition before a name starts after the previous name
    for person in within(entities, start, end, ANSWER_LABELS["who"]):
        quality = _match(q, text[left : person[0]], text[person[1] : end])
        if quality == 1 and names_place(" ".join(_words(text[start:end])), q.place):
            quality = 2
        if quality and (best is None or quality > best[0]):
            best = (quality, person[0], person[1])
        left = person[1]
    return best


def _match(q: RoleQuestion, before: str, after: str) -> int:
    """0 when no window next to the name holds the role; 3 when one also names the place the
    question asks about (or none is asked); 1 otherwise."""
    quality = 0
    for window in _windows(before, after):
        words = _words(window)
        if not set(q.role) <= set(words) or _other_place(q, words):
            continue
        if not q.place or names_place(" ".join(words), q.place):
            return 3
        quality = 1
    return quality


def _other_place(q: RoleQuestion, words: list[str]) -> bool:
    """The window names a country or people other than the one asked about."""
    return bool(q.place) and any(len(place_forms(w)) > 1 and w not in q.place for w in words)


def names_place(words: str, forms: frozenset[str]) -> bool:
    """Whether normalised text (``_words`` joined by spaces) names one of the place forms."""
    return any(re.search(rf"(?<![\w.]){re.escape(f)}(?![\w])", words) for f in forms)


def _windows(before: str, after: str) -> list[str]:
    """What names a person's role around a name: a title just before it, an apposition after
    it or before it, or what a naming verb after it says (each cut at punctuation)."""
    found = []
    title = _BREAK.split(before)[-1].split()
    if title and (_ends_in_role(title) or title[-1][:1].isupper()):
        found.append(" ".join(title[-WINDOW_WORDS:]))
    closes = re.match(r"^(?:'s|\u2019s)?\s*(?:[,.;)]|$)", after) is not None
    if re.search(r",\s*$", before) and closes:
        clause = _BREAK.split(before.rstrip()[:-1])[-1].split()
        if clause and _ends_in_role(clause):
            found.append(" ".join(clause[-WINDOW_WORDS:]))
    if re.match(r"^(?:'s|\u2019s)?\s*,", after):
        clause = _BREAK.split(after.split(",", 1)[1])[0].split()
        if clause and len(clause) <= WINDOW_WORDS and clause[0].lower() not in _RELATIVE:
            found.append(" ".join(clause))
    named = _NAMED_AFTER.match(after)
    if named:
        found.append(" ".join(_BREAK.split(after[named.end() :])[0].split()[:WINDOW_WORDS]))
    return found


def _ends_in_role(words: list[str]) -> bool:
    """The words end in a role noun ("... chief executive" ends in "ceo")."""
    last = _words(" ".join(words[-3:]))[-1:]
    return bool(last) and last[0] in ROLE_NOUNS


def role_answer(question: str, data: View, rows: Sequence[int]) -> RoleAnswer | None:
    """For a role question, the candidate sentence (of ``rows``, best first) naming the person
    in the role, with the name's span; None for other questions or when none names one."""
    q = parse_role_question(question)
    return find_role(q, data, rows) if q is not None else None


def cite_name(citation: Citation, answer: RoleAnswer) -> Citation:
    """The citation of a role answer, with the name as its answer span."""
    return replace(citation, answer_start=answer.start, answer_end=answer.end)
