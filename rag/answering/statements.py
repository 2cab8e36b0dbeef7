"""Speaker answers: what one person said, gathered across articles and dated, newest first.

"What did X say (about Y)?" over an archive is rarely one sentence: X spoke on several days
and in several articles. :func:`speaker_statements` takes the candidate sentences that X says
(``rag.answering.speakers.speaks`` >= ``SAYS``); the same quote carried by several articles counts
once (one copy: within a syndicated story its original, else the newest;
``rag.answering.duplicates``). Without a topic it keeps X's ``MAX_STATEMENTS`` newest statements: a
newsroom asking what X said wants X's latest words. With a topic it keeps the statements about it
(the sentence, the one before it, or its article uses a word of the topic), the ``MAX_STATEMENTS``
best scored (the reader's relevance to the whole question). Either way they are shown newest article
first, in article order within one article.

A speaker named by role ("What did the mayor say?") is first resolved to the person the
articles name in that role (:func:`named_speaker`, ``rag.answering.roles``): "Mayor Grace Dunmore".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from rag.answering.duplicates import cites_before, repeated
from rag.answering.features import Question, speaker_score
from rag.answering.quotations import whole_quotation
from rag.answering.roles import ROLE_NOUNS, find_role, parse_role_question, role_words
from rag.answering.speakers import SPEECH, STANDS_FOR, SpeakerQuestion
from rag.models import Citation
from rag.stores.view import View
from rag.text import content_terms, word_key

# a quotation of at least this many words is the statement; a shorter one ("natural
# candidate") is part of a reported clause, which is the statement then
QUOTE_WORDS = 5
MAX_STATEMENTS = 5  # the "up to 5": enough for a week of a minister's remarks
# a pronoun or title resolved to the speaker in the same paragraph is enough to quote them
SAYS = STANDS_FOR


def speaker_statements(
    q: Question, rows: Sequence[int], data: View, limit: int = MAX_STATEMENTS
) -> list[int]:
    """Indexes into ``rows`` (candidate sentences) of the speaker's distinct statements on the
    question's topic, the ``limit`` newest, newest first; empty when there are none."""
    if q.speaker is None:
        return []
    topic = set(content_terms(q.speaker.topic)) if q.speaker.topic else set()
    chosen: dict[str, int] = {}  # normalised text -> index of the copy to cite
    words: dict[int, frozenset[str]] = {}
    for i, row in enumerate(rows):
        text = data.sentence_text(row)
        if speaker_score(q, data, row, text) < SAYS or not _on_topic(topic, data, row, words):
            continue
        keys = list(chosen)
        at = repeated(data, row, [rows[chosen[k]] for k in keys])
        if at is None:
            chosen[word_key(text)] = i
        elif cites_before(data, row, rows[chosen[keys[at]]]):
            chosen[keys[at]] = i  # the same quote: the story's original, or the newer story
    if topic:  # the most relevant (rows come best first), then shown newest first
        return newest_first(sorted(chosen.values())[:limit], rows, data)
    return newest_first(list(chosen.values()), rows, data)[:limit]


def named_speaker(q: Question, data: View, rows: Sequence[int]) -> Question:
    """``q`` with a speaker given by role ("the mayor", "Japan's defense minister") replaced by
    the person the candidate sentences name in that role; unchanged when it names a person or
    no sentence names one."""
    if q.speaker is None or not _by_role(q.speaker.speaker):
        return q
    role = parse_role_question(f"Who is {q.speaker.speaker}?")
    found = find_role(role, data, rows) if role is not None else None
    if role is None or found is None:
        return q
    name = data.article_of(found.row).text[found.start : found.end]
    return replace(q, speaker=SpeakerQuestion(name, q.speaker.topic, role.role))


def _by_role(who: str) -> bool:
    """ "the mayor", "the Water Authority chief executive": lower case, or ending in a role noun
    ("Governor Thomas Hale" is a name)."""
    last = role_words(who)[-1:]
    return not any(w[:1].isupper() for w in who.split()) or (bool(last) and last[0] in ROLE_NOUNS)


def newest_first(indexes: list[int], rows: Sequence[int], data: View) -> list[int]:
    """``indexes`` ordered by their article's date, newest first (undated last), then by the
    sentence's place in its article."""

    def key(i: int) -> tuple[str, int, int]:
        row = rows[i]
        key, ordinal = data.place(row)
        return (_date(data, row), -key, -ordinal)

    return sorted(indexes, key=key, reverse=True)


_QUOTATION = re.compile(r"[\"\u201c](?P<q>[^\"\u201c\u201d]+)[\"\u201d]")


def statement_span(sentence: str) -> tuple[int, int] | None:
    """Where the statement is in a sentence that reports one (offsets into ``sentence``): its
    longest quotation of ``QUOTE_WORDS`` words or more, else the clause after the speech verb
    ("Mao said [Tokyo should earnestly reflect on its history]."), or the words before
    "according to"; None when the sentence has no speech verb or quotation."""
    quotes = [m for m in _QUOTATION.finditer(sentence) if len(m.group("q").split()) >= QUOTE_WORDS]
    if quotes:
        best = max(quotes, key=lambda m: len(m.group("q")))
        return _trimmed(sentence, *best.span("q"))
    verb = SPEECH.search(sentence)
    if verb is None:
        return None
    if verb.group(0).lower() == "according to":
        return _trimmed(sentence, 0, verb.start())
    after = re.match(
        r"(?:\s+(?:that|reporters|journalists|the\s+press|on\s+\w+day))*\s+", sentence[verb.end() :]
    )
    return _trimmed(sentence, verb.end() + (after.end() if after else 0), len(sentence))


def cite_statements(citations: Sequence[Citation], data: View) -> tuple[Citation, ...]:
    """The statements' citations, each widened to the whole quotation its sentence is part of
    (``rag.answering.quotations``) and given the statement as its answer span; a citation inside one
    already given is left out and the rest renumbered."""
    out: list[Citation] = []
    for citation in citations:
        key = data.key_of(citation.doc_id)
        if key is not None:
            text = data.article(key).text
            start, end = whole_quotation(text, citation.start, citation.end)
            citation = replace(citation, start=start, end=end, quote=text[start:end])
        if not any(
            c.doc_id == citation.doc_id and c.start <= citation.start and citation.end <= c.end
            for c in out
        ):
            out.append(cite_statement(replace(citation, n=len(out) + 1)))
    return tuple(out)


def cite_statement(citation: Citation) -> Citation:
    """A statement's citation with the statement as its answer span (when one is found)."""
    span = statement_span(citation.quote)
    if span is None:
        return citation
    start = citation.start + span[0]
    return replace(citation, answer_start=start, answer_end=citation.start + span[1])


def _trimmed(text: str, a: int, b: int) -> tuple[int, int] | None:
    """``[a, b)`` without surrounding spaces and punctuation; None when nothing is left."""
    while a < b and not text[a].isalnum():
        a += 1
    while b > a and not (text[b - 1].isalnum() or text[b - 1] in ")%"):
        b -= 1
    return (a, b) if b > a else None


def _date(data: View, row: int) -> str:
    return data.article_of(row).date or ""


def _on_topic(
    topic: set[str], data: View, row: int, seen: dict[int, frozenset[str]] | None = None
) -> bool:
    """The sentence, the one before it (which often names the subject) or its article shares a
    word with the question's topic; any sentence is on topic when the question names none."""
    if not topic:
        return True
    words = set(content_terms(data.sentence_text(row)))
    previous = data.neighbour(row, -1)
    if previous is not None:
        words |= set(content_terms(data.sentence_text(previous)))
    if words & topic:
        return True
    seen = {} if seen is None else seen  # the words of articles already looked at
    key = data.article_key(row)
    if key not in seen:
        article = data.article(key)
        seen[key] = frozenset(content_terms(f"{article.title}\n{article.text}"))
    return bool(seen[key] & topic)
