"""Follow-up questions: resolve pronouns and elided parts from earlier turns before retrieval."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.speakers import parse_speaker_question


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str = ""


_WHAT_ABOUT = re.compile(
    r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$|^\s*and\s+(?P<y>[^?]+?)\s*\?\s*$",
    re.IGNORECASE,
)
_PRONOUNS = re.compile(r"\b(he|she|him|her|his|hers)\b", re.IGNORECASE)
_ENTITY = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")


def resolve(question: str, history: Sequence[Turn]) -> str:
    """The question made self-contained using the most recent turns (unchanged if it is)."""
    previous = _last_resolved(history)
    if previous is None:
        return question
    prev_speaker = parse_speaker_question(previous)
    current = parse_speaker_question(question)
    if current is not None and prev_speaker is not None:
        speaker = _replace_pronoun(current.speaker, prev_speaker.speaker)
        topic = current.topic or prev_speaker.topic
        return f"What did {speaker} say" + (f" about {topic}?" if topic else "?")
    what_about = _WHAT_ABOUT.match(question)
    if what_about and current is None:
        subject = (what_about.group("x") or what_about.group("y") or "").strip()
        return _substitute(previous, subject)
    if prev_speaker is not None and _PRONOUNS.search(question):
        return _replace_pronoun(question, prev_speaker.speaker)
    person = _last_entity(previous)
    if person and _PRONOUNS.search(question):
        return _replace_pronoun(question, person)
    return question


def _last_resolved(history: Sequence[Turn]) -> str | None:
    """The latest earlier question, itself resolved against the turns before it."""
    if not history:
        return None
    return resolve(history[-1].question, history[:-1])


def _substitute(previous: str, subject: str) -> str:
    """Swap the previous question's topic (or its last named entity) for ``subject``."""
    speaker = parse_speaker_question(previous)
    if speaker is not None:
        return f"What did {speaker.speaker} say about {subject}?"
    entities = list(_ENTITY.finditer(previous[1:]))
    if entities:
        last = entities[-1]
        return previous[: last.start() + 1] + subject + previous[last.end() + 1 :]
    return f"{previous.rstrip(' ?')} {subject}?"


def _replace_pronoun(text: str, name: str) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(1).lower()
        return f"{name}'s" if word in ("his", "hers") else name

    return _PRONOUNS.sub(swap, text)


def _last_entity(question: str) -> str | None:
    entities = [m.group(0) for m in _ENTITY.finditer(question[1:])]
    return entities[-1] if entities else None
