"""Other names of a country: ISO names, official and common names, codes, former names, peoples.

Contract: :func:`aliases` gives, for a name as a question writes it ("USSR", "Soviet Union",
"U.S.", "Viet Nam"), every name the same country goes by, normalised as grounding normalises
text (lower case, accents folded, periods dropped: "u.s." is "us"); a name that is no country's
gives the empty set. :func:`word_forms` relates a word to its derived forms ("Hindu" ~
"Hinduism" ~ "Hinduist").

Design. The names come from a maintained source, ISO 3166 as packaged by ``pycountry`` (name,
official name, common name; the withdrawn countries of ISO 3166-3 give former
names: "USSR, Union of Soviet Socialist Republics" is both "USSR" and the long form). ISO
carries neither the English short names news writes where they differ from ISO's ("Russia",
"Soviet Union", "Burma", "America") nor peoples' names: ``_COMMON`` adds the former (each line
says whose name it is) and ``rag.runtime.entities.place_forms``'s demonym table the latter; a
group is every name that shares a member with another. ISO codes are left out ("CAN", "AND",
"IT" are words once lower-cased); "US", "UK" and "USA" come from the tables. Loaded on first use.

Word forms: English names of beliefs, doctrines and their followers are derived by suffix
("Hindu" -> "Hinduism", "Buddha" -> "Buddhism", "Marx" -> "Marxist"); :func:`word_forms` strips
or adds one of ``DERIVATIONS`` to a word of at least ``STEM_LETTERS`` letters (spaCy's lemmatizer
gives inflections, not derivations: "Hinduism" stays "Hinduism").
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from rag.runtime.entities import place_forms

# English names ISO 3166 lacks, each joined to an ISO name or code (ISO 3166 short names are
# formal: "Russian Federation", "Viet Nam"; ISO 3166-3 lists "USSR" but not "Soviet Union").
_COMMON = (
    "Russia=Russian Federation",
    "Soviet Union=USSR",  # withdrawn 1992 (ISO 3166-3 SUHH)
    "Burma=Myanmar",  # renamed 1989
    "East Germany=German Democratic Republic",
    "West Germany=Federal Republic of Germany",
    "America=United States=USA=United States of America",
    "Britain=Great Britain=United Kingdom",
    "Holland=Netherlands",
    "Zaire=Democratic Republic of the Congo",  # renamed 1997 (ISO 3166-3 ZRCD)
    "Ivory Coast=Côte d'Ivoire",
    "Czech Republic=Czechia",
    "Persia=Iran",  # renamed 1935
    "Siam=Thailand",  # renamed 1939
    "Ceylon=Sri Lanka",  # renamed 1972
)
# suffixes that derive a belief, doctrine or follower from a name (Hindu -> Hinduism)
DERIVATIONS = ("ism", "isms", "ist", "ists", "ite", "ites", "ic", "ian", "ians")
STEM_LETTERS = 4  # shorter stems relate too many words ("Art" is not "Artist")


def normalise(name: str) -> str:
    """A name as grounding compares words: lower case, accents folded, no periods or "'s"."""
    folded = unicodedata.normalize("NFKD", name.replace("\u2019", "'"))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    folded = re.sub(r"'s\b|'", "", folded.replace(".", ""))
    return " ".join(re.findall(r"[a-z0-9&]+", folded))


def aliases(name: str) -> frozenset[str]:
    """Every normalised name of the country (or people) ``name`` names; empty when none."""
    return _groups().get(normalise(name), frozenset())


def word_forms(word: str, vocabulary: frozenset[str]) -> bool:
    """Whether ``vocabulary`` holds a derived form of ``word`` or the word it derives from."""
    for suffix in DERIVATIONS:
        if len(word) >= STEM_LETTERS and word + suffix in vocabulary:
            return True
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= STEM_LETTERS and stem in vocabulary:
            return True
    return False


@cache
def _groups() -> dict[str, frozenset[str]]:
    """Each normalised name -> the names of its group (groups sharing a name are merged)."""
    sets = [set(names) for names in _iso_names()]
    sets += [{normalise(n) for n in line.split("=")} for line in _COMMON]
    groups: dict[str, set[str]] = {}
    for names in sets:
        names = {n for n in names if n}
        for n in list(names):
            names |= {normalise(f) for f in place_forms(n)}
        merged = set(names)
        for n in names:
            merged |= groups.get(n, set())
        for n in merged:
            groups[n] = merged
    return {n: frozenset(g) for n, g in groups.items()}


def _iso_names() -> list[set[str]]:
    """The names of each ISO 3166-1 country and each withdrawn ISO 3166-3 one."""
    import pycountry

    out: list[set[str]] = []
    for c in pycountry.countries:
        names = {c.name}
        names |= {getattr(c, a) for a in ("official_name", "common_name") if hasattr(c, a)}
        out.append({normalise(n) for n in names | {_uninverted(n) for n in names}})
    for c in pycountry.historic_countries:
        parts = [p for p in c.name.split(", ") if "(" not in p and not p.endswith(" of")]
        out.append({normalise(p) for p in parts})
    return out


def _uninverted(name: str) -> str:
    """ "Korea, Republic of" -> "Republic of Korea" (ISO writes some names inverted)."""
    head, sep, tail = name.partition(", ")
    return f"{tail} {head}" if sep and tail.endswith(" of") else name
