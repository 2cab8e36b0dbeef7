"""Grounding: a confident answer must come from an article that names what the question names.

Contract: :func:`key_terms` finds the names a question is about: runs of capitalised words
("Tesla Model 3", "Super Bowl 50", "Lima", "Ohio") with the number written right after them.
:func:`missing_terms` gives the key terms that none of some texts contains. The composer
abstains with reason ``entity_not_found`` when the article of the sentence it would quote
lacks one (:func:`grounded`): "How much does a Tesla Model 3 cost?" over an article about
Nikola Tesla is not answered from his laboratory fire.

Design. Questions are capitalised at their start, and often name things otherwise than the
text does, so the test is lenient where it can be and strict where it matters:

- the first word never counts, nor question and function words, nor two-letter capitals
  ("TV", "US": often spelt out), nor a four-digit year, nor a month in a time phrase ("in
  May 2024": the question's date, which ``rag.time.filter`` applies to publication dates);
- a run is cut at punctuation, at "and" and after a possessive ("Tesla's AC motor": Tesla);
- each word of a run must be in the text, as a word, in any place: "Victoria and Albert
  Museum" and "US President" are found where the words are written apart; a word is also
  found in its singular or plural, possessive, a country as its people's name and back
  (Japan ~ Japanese, ``rag.runtime.entities.place_forms``), and, from five letters on, misspelt
  (``difflib`` ratio ``TYPO_RATIO``: "Melanchhon" is Melanchthon), and an acronym is found
  written out ("WWI" in "World War I");
- a number attached to a run must follow its word, at most after other numbers of a list
  ("Super Bowl XXIV" in "Super Bowls XXI and XXIV"): that is what tells a Tesla Model 3 from
  Nikola Tesla, in whose article "Tesla" and "model" both appear.

Lower-case words are not key terms: the scorer already weighs how much of the question's
wording a sentence covers (``rag.answering.features``). The choice of these rules and the
measurement on SQuAD are in docs/experiments.md ("Grounding").
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rag.answering.aliases import aliases, normalise, word_forms
from rag.runtime.entities import place_forms
from rag.stores.base import ArticleRecord
from rag.time.phrases import without_dates

# Capitalised words that open questions or requests, and function words: not names.
_NOT_NAMES = frozenset(
    """what which who whom whose when where why how did does do is are was were can could
    would will should shall has have had in on at of for from by to during after before since
    as according name list give tell describe explain besides other along about if under
    the a an and or but with without there this that these those it its i""".split()
)
_CONNECTORS = frozenset({"of", "the", "de", "du", "la", "le", "von", "van", "der", "da"})
_QUESTION_TOKEN = re.compile(r"[^\W_]+(?:[.&'\u2019][^\W_]+)*['\u2019]?")
_TEXT_TOKEN = re.compile(r"[a-z0-9]+(?:[.&'][a-z0-9]+)*")
_ROMAN = re.compile(r"^(?=[IVXLC]{2,}$)C{0,3}(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})$")
# numbers and "and"s allowed between a run's word and its number ("Bowls XXI and XXIV")
NUMBER_GAP = 3
TYPO_RATIO = 0.8  # difflib similarity at which a missing word of 5+ letters counts as found
TYPO_MIN_LETTERS = 5  # shorter words are not matched loosely (V&A is not VHA)


@dataclass(frozen=True)
class KeyTerm:
    text: str  # as written in the question
    words: tuple[str, ...]  # normalised name words, each of which must be in the text
    numbers: tuple[tuple[str, str], ...]  # (normalised word, number written after it)


def key_terms(question: str) -> tuple[KeyTerm, ...]:
    """The names the question is about, in order, without repeats (a month in a time phrase,
    "in May 2024", is a date: ``rag.time.phrases.without_dates``)."""
    question = without_dates(question)
    runs: list[list[str]] = []
    current: list[str] = []
    last_end = 0
    for i, m in enumerate(_QUESTION_TOKEN.finditer(question)):
        token, gap = m.group(0), question[last_end : m.start()]
        last_end = m.end()
        if current and (gap.strip() or current[-1].endswith(("'", "\u2019", "'s", "\u2019s"))):
            runs.append(current)
            current = []
        joins = current and (_is_number(token) or token.lower() in _CONNECTORS)
        if (i > 0 and _is_name(token)) or joins:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    terms = [_term(run) for run in runs]
    unique = {t.text: t for t in terms if t.words}
    return tuple(unique.values())


def _is_name(token: str) -> bool:
    bare = _bare(token)
    if not bare[:1].isupper() or bare.lower() in _NOT_NAMES or _is_number(bare):
        return False
    return not (bare.isupper() and len(bare) <= 2)


def _is_number(token: str) -> bool:
    return (token.isdigit() and len(token) != 4) or _ROMAN.match(token) is not None


def _bare(token: str) -> str:
    return re.sub(r"(?:['\u2019]s|['\u2019])$", "", token)


def _term(run: list[str]) -> KeyTerm:
    while run and (run[-1].lower() in _CONNECTORS):
        run = run[:-1]
    words: list[str] = []
    numbers: list[tuple[str, str]] = []
    for token in run:
        if token.lower() in _CONNECTORS:
            continue
        if _is_number(token) and words:
            numbers.append((words[-1], token.lower()))
        elif not _is_number(token):
            words.append(_word(_bare(token)))
    return KeyTerm(_bare(" ".join(run)), tuple(dict.fromkeys(words)), tuple(numbers))


def _word(token: str) -> str:
    """A word as text tokens are normalised: lower case, accents folded, no periods."""
    return re.sub(r"(?:'s|')$", "", _fold(token)).replace(".", "")


@dataclass(frozen=True)
class _Vocabulary:
    words: frozenset[str]
    text: str  # the tokens joined by single spaces, for numbers after words


@lru_cache(maxsize=64)
def _vocabulary(text: str) -> _Vocabulary:
    folded = _fold(text)
    # a token never ends in a bare apostrophe (``_TEXT_TOKEN``): only a possessive "'s" goes
    tokens = [
        (t[:-2] if t.endswith("'s") else t).replace(".", "") for t in _TEXT_TOKEN.findall(folded)
    ]
    return _Vocabulary(frozenset(tokens), " " + " ".join(tokens) + " ")


def _fold(text: str) -> str:
    """Lower case with accents and curly apostrophes folded (ASCII text only lower-cased)."""
    if text.isascii():
        return text.lower()
    folded = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    for mark in [c for c in set(folded) if unicodedata.combining(c)]:  # a few distinct ones
        folded = folded.replace(mark, "")
    return folded.lower()


def _has_word(vocab: _Vocabulary, word: str) -> bool:
    forms = {word, word + "s", word + "es", *(f.replace(".", "") for f in place_forms(word))}
    if word.endswith("s"):
        forms |= {word[:-1], word[:-2] if word.endswith("es") else word}
    if forms & vocab.words or _initials(vocab, word) or word_forms(word, vocab.words):
        return True
    if len(word) < TYPO_MIN_LETTERS:
        return False
    near = [w for w in vocab.words if w[:1] == word[:1] and abs(len(w) - len(word)) <= 2]
    return bool(difflib.get_close_matches(word, near, n=1, cutoff=TYPO_RATIO))


def _initials(vocab: _Vocabulary, word: str) -> bool:
    """An acronym written out: "wwi" in "world war i"."""
    if not (3 <= len(word) <= 6 and word.isalpha()):
        return False
    pattern = "".join(rf" {re.escape(c)}\S*" for c in word) + " "
    return re.search(pattern, vocab.text) is not None


def _has_number(vocab: _Vocabulary, word: str, number: str) -> bool:
    between = rf"(?: (?:and|or|&|\d\S*|[ivxlc]+)){{0,{NUMBER_GAP}}}"  # other numbers of a list
    pattern = rf" {re.escape(word)}(?:e?s)?{between} {re.escape(number)} "
    return re.search(pattern, vocab.text) is not None


def contains(text: str, term: KeyTerm) -> bool:
    """Whether ``text`` names ``term``: each of its words, and each number after its word; or,
    for a country, any of its names (``rag.answering.aliases``: "USSR" in "the Soviet Union")."""
    vocab = _vocabulary(text)
    if all(_has_word(vocab, w) for w in term.words) and all(
        _has_number(vocab, w, n) for w, n in term.numbers
    ):
        return True
    return not term.numbers and any(f" {a} " in vocab.text for a in aliases(term.text))


def missing_terms(question: str, texts: Iterable[str]) -> list[KeyTerm]:
    """The question's key terms that none of ``texts`` contains."""
    texts = list(texts)
    return [t for t in key_terms(question) if not any(contains(x, t) for x in texts)]


def grounded(question: str, article: ArticleRecord) -> bool:
    """Whether the article (its title or text) names every key term of the question, a person
    by full name or, where the article calls them by surname only, by that (:func:`same_person`)."""
    missing = missing_terms(question, [article.title, article.text])
    return all(same_person(term, article) for term in missing)


def same_person(term: KeyTerm, article: ArticleRecord) -> bool:
    """Whether ``term`` ("Ruth Abernathy") is a person the article names by surname only: its
    person entities ending in the surname are that surname alone or words of the term, and
    there is one ("Abernathy said"; not where the article names a "John Abernathy")."""
    if len(term.words) < 2 or term.numbers:
        return False
    surname = term.words[-1]
    mentions = [
        normalise(article.text[start:end]).split()
        for start, end, label in article.entities
        if label == "PERSON"
    ]
    mentions = [m for m in mentions if m and m[-1] == surname]
    return bool(mentions) and all(set(m) <= set(term.words) for m in mentions)
