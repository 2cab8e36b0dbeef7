"""Who says a sentence: the subjects of its speech verbs, read from a dependency parse.

"Mayor Elena Ruiz said she welcomed the investigation" is Ruiz's statement even when the
sentence before it named Dr. Liu: the subject of "said" is Ruiz, and "she" is the subject of
"welcomed", not of the speech verb. A phrase list cannot tell those apart; spaCy's parse can.
:func:`speech_subjects` gives, for each speech verb of a sentence ("said", "told", "says",
"according to"), its subject as written: a name with its appositions ("Carla Mendes, the
union's president"), a pronoun ("she") or another phrase ("the governor"). :func:`subjects`
gives the subjects of every verb (who the sentence is about, for resolving a later "he").

Design. en_core_web_sm's tagger and parser (the pinned wheel, loaded offline on first use,
once per process; NER and the lemmatizer are left out) read one sentence at a few
milliseconds; results are cached by sentence text, and ``rag.answering.speakers`` parses only
sentences that name the speaker asked about or open with a pronoun or title. A subject is its head
noun's phrase up to the head (so "Carla Mendes, who drove with Abernathy," is Mendes alone)
plus any apposition of it. Calls are serialised: a spaCy pipeline is not documented as safe to
share between threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# speech verbs as written (the forms rag.answering.speakers.SPEECH knows; "according to" apart)
SPEECH_WORDS = frozenset(
    "said says say told tells added adds stated states noted notes announced announces warned "
    "warns urged urges argued argues insisted insists stressed stresses explained explains "
    "claimed claims acknowledged admitted asserted declared remarked replied wrote writes "
    "commented emphasized emphasised recalled recalls conceded concedes".split()
)
PRONOUNS = frozenset({"he", "she", "they", "i", "we"})
PARSED_SENTENCES = 4096  # sentences whose parse is remembered (a few archives' candidates)
_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})

_LOCK = threading.Lock()
_NLP: Any = None


@dataclass(frozen=True)
class Subject:
    """Who a verb's subject is, as written: ``text`` (with appositions), and ``kind``:
    "name" (a proper noun heads it), "pronoun" or "other" ("the governor", "the authority")."""

    text: str
    kind: str
    verb: str


def _pipeline() -> Any:
    """The tagger and parser, loaded once per process (call with ``_LOCK`` held)."""
    global _NLP
    if _NLP is None:
        from rag.runtime.spacymodel import load_english

        _NLP = load_english(["ner", "lemmatizer"])
    return _NLP


@lru_cache(maxsize=PARSED_SENTENCES)
def _parsed(sentence: str) -> tuple[tuple[Subject, ...], tuple[Subject, ...]]:
    """(speech verb subjects, every verb's subjects) of one sentence, in order."""
    with _LOCK:
        doc = _pipeline()(sentence)
    speech: list[Subject] = []
    every: list[Subject] = []
    for token in doc:
        if token.dep_ in _SUBJECT_DEPS:
            found = _subject(doc, token, token.head.text)
            every.append(found)
            if token.head.lower_ in SPEECH_WORDS:
                speech.append(found)
        elif token.lower_ in SPEECH_WORDS and token.dep_ == "conj":
            shared = _shared_subject(token)  # "Carver welcomed the offer and said ..."
            if shared is not None:
                speech.append(_subject(doc, shared, token.text))
        elif token.lower_ == "according":
            for to in token.children:
                speech.extend(
                    _subject(doc, obj, "according to") for obj in to.children if obj.dep_ == "pobj"
                )
    return tuple(speech), tuple(every)


def _shared_subject(verb: Any) -> Any:
    """The subject a verb joined by "and" shares with the verb before it, if it has none."""
    if any(child.dep_ in _SUBJECT_DEPS for child in verb.children):
        return None  # its own subject is listed already
    while verb.dep_ == "conj" and verb.head is not verb:
        verb = verb.head
        subject = next((c for c in verb.children if c.dep_ in _SUBJECT_DEPS), None)
        if subject is not None:
            return subject
    return None


def _subject(doc: Any, head: Any, verb: str) -> Subject:
    """The phrase of a subject's head noun up to the head, with its appositions."""
    text = doc[head.left_edge.i : head.i + 1].text
    for child in head.children:
        if child.dep_ == "appos":
            text += ", " + doc[child.left_edge.i : child.right_edge.i + 1].text
    if head.lower_ in PRONOUNS:
        kind = "pronoun"
    elif head.pos_ == "PROPN" or (head.text[:1].isupper() and not head.is_sent_start):
        kind = "name"
    else:
        kind = "other"
    return Subject(text, kind, verb)


def speech_subjects(sentence: str) -> tuple[Subject, ...]:
    """The subject of each speech verb of ``sentence`` ("said", "according to" ...), in order."""
    return _parsed(sentence)[0]


def subjects(sentence: str) -> tuple[Subject, ...]:
    """The subject of every verb of ``sentence``, in order."""
    return _parsed(sentence)[1]
