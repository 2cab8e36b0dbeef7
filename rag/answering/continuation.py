"""Two-sentence answers: quote a sentence with the next one when the next carries the answer on.

Contract: :func:`two_sentence_span` takes the question and the row of the sentence the composer
would quote, and gives the character span ``(start, end)`` of that sentence together with its
neighbour in the same article when the two answer as one unit, else ``None``. The span is exact
(the article's ``text[start:end]`` is the quote: both sentences and what lies between them).

Design. SQuAD's "... the Rhine has frozen over 20 times." / "The most recent case was in early
1987." is the pattern: the question's topic is in one sentence, the answer in the next, which
refers back. Both must hold, decided from structure rather than phrase lists:

- the later sentence refers back (:func:`refers_back`): spaCy's parse gives its subject, which
  is a personal or demonstrative pronoun ("It", "They", "This"), a noun phrase with a
  demonstrative determiner ("This case", "Such systems", morphology ``PronType=Dem``), or a
  definite one with a superlative or ordinal ("The most recent case", "The first one");
- the answer is in one sentence and not the other: for a question with an answer type (when,
  how many, who, where: ``rag.runtime.entities.ANSWER_LABELS``) the quoted sentence holds no
  entity of that type the question lacks and its neighbour holds one; other questions are left
  as they are (nothing tells which sentence answers them).

The later sentence may be the next one (the quoted sentence sets the topic) or the quoted one
itself (it refers back to the previous, which holds the answer).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from rag.answering.features import Question
from rag.runtime.entities import ANSWER_LABELS, within
from rag.stores.view import View

_SUBJECTS = frozenset({"nsubj", "nsubjpass"})
PARSED = 4096  # sentences whose opening is remembered (a pool's best ones recur across questions)
_LOCK = threading.Lock()
_NLP: Any = None


def two_sentence_span(q: Question, data: View, row: int) -> tuple[int, int] | None:
    """The span of ``row``'s sentence and the neighbour that completes its answer, or None."""
    labels = ANSWER_LABELS.get(q.kind)
    if labels is None:
        return None
    if _typed(q, data, row, labels):
        return None
    for first, second in ((row, row + 1), (row - 1, row)):
        other = second if first == row else first
        if not _same_article(data, first, second) or not _typed(q, data, other, labels):
            continue
        if refers_back(data.sentence_text(second)):
            return data.sentence_span(first)[0], data.sentence_span(second)[1]
    return None


def _same_article(data: View, a: int, b: int) -> bool:
    return a >= 0 and data.same_article(a, b) and data.has_sentence(a) and data.has_sentence(b)


def _typed(q: Question, data: View, row: int, labels: frozenset[str]) -> bool:
    """Whether the sentence holds an entity of ``labels`` that the question does not name."""
    article = data.article_of(row)
    start, end = data.sentence_span(row)
    asked = q.text.lower()
    return any(
        article.text[a:b].lower() not in asked
        for a, b, _ in within(article.entities, start, end, labels)
    )


@lru_cache(maxsize=PARSED)
def refers_back(sentence: str) -> bool:
    """Whether the sentence's first subject refers to something before it (see the module)."""
    with _LOCK:
        doc = _pipeline()(sentence)
    subject = next((t for t in doc if t.dep_ in _SUBJECTS), None)
    if subject is None:
        return False
    if subject.tag_ == "PRP" or "Dem" in subject.morph.get("PronType"):
        return True  # "It was ...", "They ...", "This was ..."
    modifiers = [t for t in subject.lefts]
    if any("Dem" in t.morph.get("PronType") for t in modifiers):
        return True  # "This case", "These systems"
    definite = any("Def" in t.morph.get("Definite") for t in modifiers)
    ranked = any(
        t.tag_ in ("JJS", "RBS") or "Ord" in t.morph.get("NumType")
        for t in subject.subtree
        if t.i < subject.i
    )
    return definite and ranked  # "The most recent case", "The first of them"


def _pipeline() -> Any:
    """The tagger and parser, loaded once per process (call with ``_LOCK`` held)."""
    global _NLP
    if _NLP is None:
        from rag.runtime.spacymodel import load_english

        _NLP = load_english(["ner", "lemmatizer"])
    return _NLP
