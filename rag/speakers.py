"""Who is speaking: parsing "What did X say (about Y)?" and finding sentences where X speaks."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEECH_VERBS = (
    r"said|says|say|told|tells|added|adds|stated|states|noted|notes|announced|announces|"
    r"warned|warns|urged|urges|argued|argues|insisted|insists|stressed|stresses|explained|"
    r"explains|claimed|claims|acknowledged|admitted|asserted|declared|remarked|replied|wrote|"
    r"writes|commented|emphasized|emphasised|expressed|voiced|according to|recognizes|believes"
)
SPEECH = re.compile(rf"\b(?:{_SPEECH_VERBS})\b", re.IGNORECASE)
_QUESTION = re.compile(
    r"^\s*(?:and\s+|so\s+)?(?:what|how)\s+(?:did|does|do|has|have|had|was|is)\s+(?P<who>.+?)\s+"
    r"(?:say|said|saying|tell|told|telling|think|thinks|state|stated|claim|claimed|announce|"
    r"announced|respond|responded|comment|commented|reply|replied|argue|argued)\b"
    r"(?:\s+(?:reporters|journalists|the\s+press|parliament|media))?"
    r"(?:\s+(?:about|on|regarding|concerning|of|over|in\s+response\s+to|to)\s+(?P<topic>.+?))?"
    r"\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_PRONOUN_SUBJECT = re.compile(
    r"(?:\b(?:he|she)\s+(?:\w+\s+)?(?:"
    + _SPEECH_VERBS
    + r")\b)|(?:\b(?:"
    + _SPEECH_VERBS
    + r")\s+(?:he|she)\b)",
    re.IGNORECASE,
)
_TITLE_SUBJECT = re.compile(
    r"\bthe\s+(?:prime\s+minister|president|minister|secretary|spokes(?:wo)?man|spokesperson|"
    r"chancellor|premier|ambassador|chief|governor|senator|official|leader|ceo|chairman)\b",
    re.IGNORECASE,
)
_QUOTE = re.compile(r"[\"\u201c\u201d]")


@dataclass(frozen=True)
class SpeakerQuestion:
    speaker: str
    topic: str | None

    @property
    def name_tokens(self) -> list[str]:
        """Tokens that identify the speaker in text: the surname first, then other names."""
        tokens = [t for t in re.findall(r"[A-Za-z][\w'-]+", self.speaker) if t[0].isupper()]
        if not tokens:
            tokens = re.findall(r"[A-Za-z][\w'-]+", self.speaker)
        return [tokens[-1], *tokens[:-1]] if tokens else []


def parse_speaker_question(question: str) -> SpeakerQuestion | None:
    """``SpeakerQuestion`` for "What did X say (about Y)?" style questions, else None."""
    match = _QUESTION.match(question)
    if not match:
        return None
    who = match.group("who").strip(" ,")
    if who.lower() in {"it", "they", "the article", "the report", "the statement"}:
        return None
    topic = match.group("topic")
    return SpeakerQuestion(speaker=who, topic=topic.strip() if topic else None)


_NAME_RUN = re.compile(r"[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")


def name_spans(sentence: str, speaker: SpeakerQuestion) -> list[tuple[int, int]]:
    """Where ``sentence`` names the speaker: runs of capitalised words holding the surname, or
    ending in another of the speaker's names ("Mao said" names Mao Ning: Chinese names put the
    family name first), but not a run that ends in someone else's name ("Anthony Blinken" does
    not name Anthony Albanese)."""
    tokens = speaker.name_tokens
    if not tokens:
        return []
    spans = []
    for run in _NAME_RUN.finditer(sentence):
        words = [re.sub(r"['\u2019]s$", "", w) for w in run.group(0).split()]
        if tokens[0] in words or words[-1] in tokens:
            spans.append(run.span())
    return spans


def mentions(sentence: str, speaker: SpeakerQuestion) -> bool:
    return bool(name_spans(sentence, speaker))


def speaks(sentence: str, previous: list[str], speaker: SpeakerQuestion) -> float:
    """1.0 when ``speaker`` says ``sentence``; 0.8 when a pronoun or title in it refers to the
    speaker named in the same paragraph; 0.3 when the speaker is only mentioned; else 0."""
    has_speech = SPEECH.search(sentence) is not None or _QUOTE.search(sentence) is not None
    if mentions(sentence, speaker):
        return 1.0 if has_speech and _attributed(sentence, speaker) else 0.3
    refers = _PRONOUN_SUBJECT.search(sentence) or (
        _TITLE_SUBJECT.search(sentence) and SPEECH.search(sentence)
    )
    if refers and has_speech:
        for earlier in reversed(previous):
            if mentions(earlier, speaker):
                return 0.8
            if _names_someone_else(earlier):
                return 0.0
    return 0.0


def _attributed(sentence: str, speaker: SpeakerQuestion) -> bool:
    """The speaker is the subject of a speech verb ("Albanese said", "said Albanese",
    "according to Albanese"), not merely mentioned near someone else's statement."""
    verbs = rf"(?:{_SPEECH_VERBS})"
    for start, end in name_spans(sentence, speaker):
        before = rf"(?:'s)?,?(?:\s+[^\s.;]+){{0,12}}?\s+(?<!be\s){verbs}\b"
        after = rf"\b{verbs}\s+(?:[^\s.;]+\s+){{0,5}}?$"
        if re.match(before, sentence[end:]) or re.search(after, sentence[:start]):
            return True
    return False


def _names_someone_else(sentence: str) -> bool:
    """A person-like name followed by a speech verb: the pronoun likely refers to them."""
    return re.search(rf"\b[A-Z][a-z]+\s+(?:{_SPEECH_VERBS})\b", sentence) is not None
