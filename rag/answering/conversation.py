"""Follow-up questions: made self-contained from the earlier turns before retrieval.

Contract. :func:`resolve_turn` gives the question to answer and what a pronoun in it was read
as. A complete question ("What did Mayor Calloway say?") is answered as asked: it keeps no
earlier topic. The rewrites:

- "What about X?" / "And X?": after "What did S say (about T)?", X is a new speaker when it is
  a person (a role noun heads it, "the governor", or it is a name and not a place: "What
  about Canada?" is a topic), else a new topic of S; after any other question X replaces its
  last name ("Who is Japan's defense minister?" then "And Australia?");
- "And what did X say?": X's statements on the earlier topic, time phrase included ("And what
  did Hale say?" after "... say before March 6?" is limited to before March 6, as the user
  has not left that frame; a question with its own topic or time keeps its own);
- "he/she/him/his/her" stand for the person of the last turn: the answer of a who-question
  ("Who is the county health officer?" "Dr. Wei Liu"), else the speaker asked about, else a
  person the earlier question names; "it"/"they" for a short earlier answer (or the
  earlier speaker, for "they"); a pronoun after a name in the same question is that name's;
- "When was that?", "Why?" (and "Where?", "How?"): the earlier question asked again with the
  new wh-word, by its parse (``rag.answering.followups``).

A follow-up that needs history and has none, or "he"/"she" with nobody to stand for, is an
``InputError`` naming the problem. Only the last ``HISTORY_TURNS`` turns are read, each
resolved against the ones before it, so a long conversation costs no more than a short one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answering import followups as F
from rag.answering.roles import ROLE_NOUNS
from rag.answering.speakers import SpeakerQuestion, parse_speaker_question
from rag.errors import InputError
from rag.runtime.entities import extract

HISTORY_TURNS = 10  # earlier turns read (each resolved against those before it); older add nothing
ANSWER_CHARS = 2000  # an earlier answer is read up to here (the name a "he" stands for is early)
SHORT_NAME_WORDS = 6  # a who-question's answer this short is the name itself


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str = ""


@dataclass(frozen=True)
class Resolution:
    """The question to answer; ``refers_to``: what a pronoun or "that" in it was read as."""

    question: str
    refers_to: str | None = None


@dataclass(frozen=True)
class _Frame:
    """The last turn, resolved: its question, answer, speaker and tail ("about the bond",
    "before March 6", with its preposition)."""

    question: str
    answer: str
    speaker: SpeakerQuestion | None
    tail: str


_WHAT_ABOUT = re.compile(
    r"^\s*(?:and\s+|but\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$|^\s*and\s+(?P<y>[^?]+?)\s*\?\s*$",
    re.IGNORECASE,
)
_QUESTION_WORD = re.compile(
    r"^(?:what|who|whom|whose|which|when|where|why|how|is|are|was|were|did|does|do|has|have|"
    r"had|can|could|will|would|should)\b",
    re.IGNORECASE,
)
_BARE_WH = re.compile(
    r"^\s*(?:and\s+|so\s+|but\s+)?(?P<wh>when|why|where|how)\b(?:\s+(?:was|is|were|did|does)\s+"
    r"(?:that|this|it)(?:\s+happen(?:ed)?)?|\s+so)?\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_ELLIPTICAL = re.compile(r"^\s*(?:and|also|so|but)\b", re.IGNORECASE)
_TOPIC_WORDS = ("about", "regarding", "concerning", "of", "over", "on")


def resolve(question: str, history: Sequence[Turn]) -> str:
    """The question made self-contained using the most recent turns (unchanged if it is)."""
    return resolve_turn(question, history).question


def resolve_turn(question: str, history: Sequence[Turn]) -> Resolution:
    """:func:`resolve` with what a pronoun was read as (module docstring)."""
    frame: _Frame | None = None
    for turn in history[-HISTORY_TURNS:]:
        try:
            earlier = _resolve(turn.question, frame).question
        except InputError:
            earlier = turn.question  # an earlier turn's own problem is not this question's
        frame = _frame(earlier, turn.answer)
    return _resolve(question, frame)


def _frame(question: str, answer: str) -> _Frame:
    answer = answer[:ANSWER_CHARS]
    speaker = parse_speaker_question(question)
    tail = ""
    if speaker is not None and speaker.topic:
        before = question[: question.rfind(speaker.topic)].split()
        tail = f"{before[-1]} {speaker.topic}" if before else speaker.topic
    return _Frame(question, answer, speaker, tail)


def _resolve(question: str, frame: _Frame | None) -> Resolution:
    bare = _BARE_WH.match(question)
    what_about = _WHAT_ABOUT.match(question)
    if what_about and _QUESTION_WORD.match(what_about.group("y") or ""):
        what_about = None  # "And how many were hurt?" is a question of its own
    current = parse_speaker_question(question)
    if frame is None:
        if bare or what_about:
            raise InputError(
                f"{question!r} follows up an earlier question, and there is none: ask it in full"
            )
        if current is not None and current.speaker.lower() in F.PERSON_PRONOUNS:
            raise InputError(f"who {current.speaker!r} is is not known here: name the person")
        return Resolution(question)
    if bare:
        wh = bare.group("wh").capitalize()
        return Resolution(_ask_again(frame, wh), frame.question)
    if current is not None:
        return _speaker_follow_up(question, current, frame)
    if what_about:
        return Resolution(
            _what_about((what_about.group("x") or what_about.group("y")).strip(), frame)
        )
    return _with_referents(question, frame)


def _ask_again(frame: _Frame, wh: str) -> str:
    if frame.speaker is not None:
        tail = f" {frame.tail}" if frame.tail else ""
        return f"{wh} did {frame.speaker.speaker} say that{tail}?"
    return F.wh_rewrite(frame.question, frame.answer, wh)


def _speaker_follow_up(question: str, current: SpeakerQuestion, frame: _Frame) -> Resolution:
    """ "What did he say?" and "And what did X say?"; a complete speaker question as asked."""
    speaker, refers = current.speaker, None
    if speaker.lower() in F.PERSON_PRONOUNS:
        refers = _person(frame)
        if refers is None:
            raise InputError(f"who {speaker!r} is is not clear from the conversation: name them")
        speaker = refers
    elliptical = _ELLIPTICAL.match(question) is not None
    if refers is None and not (elliptical and current.topic is None):
        return Resolution(question)  # complete: its own speaker, topic and time
    if current.topic:
        before = question[: question.rfind(current.topic)].split()
        tail = f"{before[-1]} {current.topic}"
    else:
        tail = frame.tail if elliptical else ""
    return Resolution(f"What did {speaker} say" + (f" {tail}?" if tail else "?"), refers)


def _what_about(subject: str, frame: _Frame) -> str:
    """ "What about X?": a new speaker, a new topic of the same speaker, or a new name."""
    if frame.speaker is not None:
        if _is_person(subject):
            tail = f" {frame.tail}" if frame.tail else ""
            return f"What did {subject} say{tail}?"
        keep = frame.tail if frame.tail.split(" ", 1)[0].lower() not in _TOPIC_WORDS else ""
        return f"What did {frame.speaker.speaker} say about {subject}" + (
            f" {keep}?" if keep else "?"
        )
    names = list(_NAME.finditer(frame.question[1:]))
    if names and subject[:1].isupper():  # a name for a name: "Japan's" -> "Australia's"
        last = names[-1]
        end = last.end() + 1 - (2 if re.search(r"['\u2019]s$", last.group(0)) else 0)
        return frame.question[: last.start() + 1] + subject + frame.question[end:]
    swapped = F.replace_last_noun(frame.question, subject)  # "Who is the mayor of X?"
    return swapped or f"{frame.question.rstrip(' ?')} {subject}?"


_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")


def _is_person(text: str) -> bool:
    """A role ("the governor") or a name ("Mayor Calloway", "Abernathy") that is not a place
    or a many-word organisation ("Canada", "the Water Authority")."""
    if F.noun_head_is(text, ROLE_NOUNS):
        return True
    names = [w for w in text.split() if w.lower() not in ("the", "of", "and")]
    if not names or not all(w[:1].isupper() for w in names):
        return False
    if any(w.lower().strip(".,") in ROLE_NOUNS for w in names):
        return True  # a title: "Mayor Calloway", "Governor Hale"
    labels = {label for _, _, label in extract([text])[0]}
    if "PERSON" in labels:
        return True
    return not (labels & _PLACES or ("ORG" in labels and len(names) > 1))


_PLACES = frozenset({"GPE", "LOC", "FAC", "NORP", "EVENT"})


def _with_referents(question: str, frame: _Frame) -> Resolution:
    person = _person(frame)
    short = (
        frame.answer.strip(" .") if 0 < len(frame.answer.split()) <= F.SHORT_ANSWER_WORDS else ""
    )
    thing = short if short and short != person and F.noun_phrase(short) else ""
    group = thing if thing and F.plural(thing) else frame.speaker.speaker if frame.speaker else ""
    rewritten, used = F.replace_pronouns(
        question, {"person": person or "", "thing": thing, "group": group}
    )
    return Resolution(rewritten, used)


def _person(frame: _Frame) -> str | None:
    """Who "he"/"she" stands for after ``frame`` (module docstring), or None."""
    answer = frame.answer.strip(" .")
    if re.match(r"^\s*who\b", frame.question, re.IGNORECASE) and answer:
        if len(answer.split()) <= SHORT_NAME_WORDS and F.proper_name(answer):
            return answer
        found = _people(answer)
        if found:
            return found[0]
    if frame.speaker is not None and _is_person(frame.speaker.speaker):
        return frame.speaker.speaker
    found = _people(frame.question)
    return found[-1] if found else None


def _people(text: str) -> list[str]:
    return [text[s:e] for s, e, label in extract([text])[0] if label == "PERSON"]
