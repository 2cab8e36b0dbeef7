"""Who is speaking: parsing "What did X say (about Y)?" and finding sentences where X speaks.

Whether X says a sentence is read from its parse (``rag.answering.attribution``): X is the subject
of its first speech verb ("Ruiz said", "said Ruiz", "according to Ruiz", "Ruiz, the mayor, said"),
or that subject is "he"/"she" (or "the governor") and stands for X: the nearest earlier person the
sentence or the paragraph before it makes the subject of a verb, or names, is X. A sentence
whose speech verb has another named subject is never X's, however often it names X ("Mayor
Elena Ruiz said Natarajan's resignation was overdue" is Ruiz's). The phrase rules below are the
fallback for sentences whose parse has no speech verb (headline-like fragments).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answering.attribution import Subject, speech_subjects, subjects
from rag.answering.roles import ROLE_NOUNS, role_words

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
    r"(?:\s+(?:about|on|regarding|concerning|of|over|in\s+response\s+to|to|at|in|outside|"
    r"inside|during|after|before|following)\s+(?P<topic>.+?))?"
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
_ROLE_WORD = re.compile(rf"\b(?:{'|'.join(sorted(ROLE_NOUNS))}|chief\s+executive)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SpeakerQuestion:
    speaker: str
    topic: str | None
    # the role the question named the speaker by, normalised ("council", "member"): a subject
    # "the council member" in the speaker's article stands for them (``rag.answering.statements``)
    role: tuple[str, ...] = ()

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


# How surely a sentence is the asked speaker's statement (``speaks``); answers quote a speaker
# from STANDS_FOR up (``rag.answering.statements.SAYS``).
SPEAKS = 1.0  # the speaker, named, is the subject of the speech verb
STANDS_FOR = 0.8  # a pronoun or title standing for the speaker says it
MENTIONED = 0.3  # the speaker is named, not shown saying it
SILENT = 0.0  # the speaker is not in it


def speaks(sentence: str, previous: list[str], speaker: SpeakerQuestion) -> float:
    """``SPEAKS`` when ``speaker`` is the named subject of the sentence's speech verb;
    ``STANDS_FOR`` when that subject is a pronoun or title standing for the speaker (named in
    the sentence or the few ``previous`` ones); ``MENTIONED`` when the speaker is only
    mentioned; else ``SILENT``."""
    has_speech = SPEECH.search(sentence) is not None or _QUOTE.search(sentence) is not None
    named = mentions(sentence, speaker)
    unsure = MENTIONED if named else SILENT
    refers = _PRONOUN_SUBJECT.search(sentence) or _TITLE_SUBJECT.search(sentence)
    refers = refers or _ROLE_WORD.search(sentence)  # "the union's president said"
    if not has_speech or not (named or refers or _names_role(sentence, speaker)):
        return unsure
    said_by = [s for s in speech_subjects(sentence) if s.text.lower() not in _NOT_A_SPEAKER]
    if not said_by:  # no speech verb in the parse: the phrase rules
        return _by_phrases(sentence, previous, speaker, named)
    first = said_by[0]
    if name_spans(first.text, speaker):  # "Ruiz", "The union's president, Carla Mendes"
        return SPEAKS
    if first.kind == "pronoun":
        return STANDS_FOR if _stands_for(previous, speaker) else unsure
    if first.kind != "name" and _is_role(first, speaker):
        return STANDS_FOR if _role_of(first, previous, speaker) else unsure
    return unsure


_NOT_A_SPEAKER = frozenset({"i", "we", "you", "they", "it"})  # voices inside a quotation


def _role_of(subject: Subject, previous: list[str], speaker: SpeakerQuestion) -> bool:
    """A role subject ("the union's president said") stands for the speaker when it is the
    role asked about, or when an earlier sentence names the speaker with that role's noun
    ("Carla Mendes, the union's president, ..."); else it is someone else."""
    if _names_role(subject.text, speaker):
        return True
    head = role_words(subject.text.split(",")[0])[-1:]
    return bool(head) and any(
        mentions(earlier, speaker) and head[0] in role_words(earlier) for earlier in previous
    )


def _stands_for(previous: list[str], speaker: SpeakerQuestion) -> bool:
    """A "he"/"she" opening a sentence stands for the speaker: the nearest earlier sentence
    with a person (a name or a role) as the subject of a verb makes the speaker that subject
    (the subject of its speech verb first: "...," Moreau said. He added ...), or names the
    speaker (or the role asked about) and nobody else as a subject."""
    for earlier in reversed(previous):
        said_first = [*speech_subjects(earlier), *subjects(earlier)]  # its speaker, then others
        people = [s for s in said_first if s.kind == "name" or _is_role(s, speaker)]
        if people:
            first = people[0]
            return bool(name_spans(first.text, speaker) or _names_role(first.text, speaker))
        if mentions(earlier, speaker):
            return True
    return False


def _is_role(subject: Subject, speaker: SpeakerQuestion) -> bool:
    """A subject that is a person by role ("The general manager"): someone, the speaker or
    not (``_names_role``)."""
    head = role_words(subject.text.split(",")[0])[-1:]
    return bool(head and head[0] in ROLE_NOUNS) or _names_role(subject.text, speaker)


def _names_role(text: str, speaker: SpeakerQuestion) -> bool:
    """``text`` names the role the question asked about ("the authority's chief executive")."""
    if not speaker.role:
        return False
    return set(speaker.role[-2:]) <= set(role_words(text))


def _by_phrases(sentence: str, previous: list[str], speaker: SpeakerQuestion, named: bool) -> float:
    """The phrase rules, for a sentence whose parse shows no speech verb."""
    if named:
        return SPEAKS if _attributed(sentence, speaker) else MENTIONED
    for earlier in reversed(previous):
        if mentions(earlier, speaker):
            return STANDS_FOR
        if _names_someone_else(earlier):
            return SILENT
    return SILENT


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
