"""Syndicated and near-duplicate articles: one story, many copies.

At ingest every article gets a MinHash signature (datasketch, fixed seed) of the word shingles
of its *body*: the quotable sentences (``rag.newsparts``), so headlines, datelines, bylines,
captions and link lists, which outlets rewrite, do not count. The signature is cut into LSH
bands; a band key is a 64-bit hash of one band, and the store indexes articles by band key.
A new article is compared with the stored articles and the earlier articles of its ingest that
share a band key with it; it joins the story group of the most similar one when their
estimated *containment* (shared shingles over the smaller article's shingles) reaches
``SAME_STORY``, so a copy cut to 40% of the story still groups. It never merges two groups.

Grouping is decided by the process that writes: two processes ingesting copies of one story at
the same moment do not see each other's uncommitted articles and may leave them in separate
groups (re-ingesting one of them later, or ``rag ingest --rebuild``, groups them). Articles
stored before signatures existed are never candidates until they are ingested again.

Answers use the groups, fetched once per question for every article its answer can show
(:func:`stories_of`, carried as :class:`Stories`): a cited article lists its group's other
members (``also_in``), search passages keep one copy of a story, and :func:`repeats_story` lets
the composer skip a sentence that repeats a story it already quotes. Which copy is cited
(:func:`story_order`): within one story the original, the copy the others credit (a reprint's
author or dateline names the original's source: the wire's own copy), else the earliest dated,
because that is the source a reader trusts and the reprints are listed beside it; copies of a
sentence in different stories (a later article repeating it) go to the newest story. Changing
``NUM_PERM``, ``SEED``, ``SHINGLE_WORDS`` or the band layout makes stored signatures
incomparable: rebuild the index after such a change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from rag.models import Article, Citation, Copy, Passage
from rag.newsparts import quotable
from rag.stores.base import ArticleRecord, PreparedArticle, Store
from rag.stores.view import View
from rag.text import split_sentences

NUM_PERM = 128  # why: the estimate's error (~1/sqrt(128)) is well inside SAME_STORY's margins
SEED = 20240409  # why: fixed, so signatures from every process and run compare
# why 3: longer shingles miss heavily edited copies (docs/experiments.md, "Near-duplicates")
SHINGLE_WORDS = 3
MIN_SHINGLES = 30  # why: shorter bodies (briefs, captions-only pages) share sentences by chance
LSH_THRESHOLD = 0.2  # why: below the Jaccard of a copy cut short, so such copies are candidates
# why 0.7: between different stories that share background paragraphs and edited, re-headlined
# or cut copies of one story (docs/experiments.md, "Near-duplicates")
SAME_STORY = 0.7
SAME_SENTENCE = 0.8  # why: word-set overlap of a sentence lightly edited between two copies
CREDIT_CHARS = 400  # why: a reprint credits the wire in its byline or dateline, at the top

_WORD = re.compile(r"\w+")


# -- signatures ------------------------------------------------------------------------------
def body_words(article: Article) -> list[str]:
    """The lower-cased words of the article's quotable sentences, in order."""
    text = article.text
    spans = quotable(text, split_sentences(text))
    return [w for s in spans for w in _WORD.findall(text[s.start : s.end].lower())]


def shingles(words: Sequence[str], k: int = SHINGLE_WORDS) -> list[bytes]:
    """The distinct runs of ``k`` consecutive words."""
    return list(
        dict.fromkeys(" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1))
    )


def signature(article: Article, k: int = SHINGLE_WORDS) -> bytes:
    """The shingle count and ``NUM_PERM`` MinHash values (little-endian uint32); empty when the
    body has fewer than ``MIN_SHINGLES`` shingles (never grouped)."""
    from datasketch import MinHash

    found = shingles(body_words(article), k)
    if len(found) < MIN_SHINGLES:
        return b""
    m = MinHash(num_perm=NUM_PERM, seed=SEED)
    m.update_batch(found)
    return np.concatenate([[len(found)], m.hashvalues]).astype("<u4").tobytes()


@lru_cache(maxsize=1)
def band_layout() -> tuple[int, int]:
    """(bands, rows per band): datasketch's optimum for ``LSH_THRESHOLD`` and ``NUM_PERM``
    with false positives and negatives weighted alike."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    return int(lsh.b), int(lsh.r)


def band_keys(sig: bytes) -> tuple[int, ...]:
    """One signed 64-bit key per band (the band's number and values, hashed)."""
    if not sig:
        return ()
    values = np.frombuffer(sig, "<u4")[1:]
    bands, rows = band_layout()
    return tuple(
        int.from_bytes(
            hashlib.blake2b(
                bytes([i]) + values[i * rows : (i + 1) * rows].tobytes(), digest_size=8
            ).digest(),
            "little",
            signed=True,
        )
        for i in range(bands)
    )


def containment(a: bytes, b: bytes) -> float:
    """Estimated share of the smaller article's shingles found in the other (0..1)."""
    if not a or not b:
        return 0.0
    va, vb = np.frombuffer(a, "<u4"), np.frombuffer(b, "<u4")
    jaccard = float(np.mean(va[1:] == vb[1:]))
    shared = jaccard * (int(va[0]) + int(vb[0])) / (1.0 + jaccard)
    return min(1.0, shared / min(int(va[0]), int(vb[0])))


# -- grouping at ingest -------------------------------------------------------------------------
def assign_groups(
    store: Store, batch: Sequence[PreparedArticle], threshold: float = SAME_STORY
) -> list[PreparedArticle]:
    """``batch`` with signatures, band keys and story groups: each article joins the group of
    the most similar stored or earlier article of the batch sharing a band key with it, when
    their containment reaches ``threshold``; otherwise it is alone (``group_id`` None)."""
    signed = [_signed(p) for p in batch]
    ids = {p.article.doc_id for p in signed}
    keys = {k for p in signed for k in p.band_keys}
    stored = store.reader().duplicate_candidates(keys) if keys and store.info() else []
    seen = [  # (doc_id, group, signature, band keys): stored copies not replaced now
        (c.doc_id, c.group_id, c.signature, set(band_keys(c.signature)))
        for c in stored
        if c.doc_id not in ids
    ]
    out = []
    for p in signed:
        mine = set(p.band_keys)
        best, group = threshold, None
        for doc_id, their_group, sig, their_keys in seen:
            if doc_id != p.article.doc_id and mine & their_keys:
                score = containment(p.signature, sig)
                if score >= best:
                    best, group = score, their_group
        p = replace(p, group_id=group)
        out.append(p)
        if p.signature:
            seen.append((p.article.doc_id, group or p.article.doc_id, p.signature, mine))
    return out


def _signed(p: PreparedArticle) -> PreparedArticle:
    sig = signature(p.article)
    return replace(p, signature=sig, band_keys=band_keys(sig))


# -- answers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stories:
    """The other articles of the story of each article a question's answer can show, by
    doc_id (:func:`stories_of`)."""

    copies: Mapping[str, tuple[Copy, ...]]

    def of(self, doc_id: str) -> tuple[Copy, ...]:
        """The other articles of ``doc_id``'s story (none when it was not asked for)."""
        return self.copies.get(doc_id, ())


def stories_of(data: View, *handles: Iterable[int]) -> Stories:
    """The story groups of the articles of ``handles`` (sentence or chunk handles: the
    passages, the candidates the answer quotes from), fetched in one round trip (once per
    question); articles gone since the search are left out."""
    wanted = [int(h) for hs in handles for h in hs]
    data.load(wanted)
    keys = sorted({data.article_key(h) for h in wanted})
    articles = [data.article(k) for k in keys if data.has_doc(k)]
    groups = data.group_members(a.group_id for a in articles)
    return Stories(
        {a.doc_id: tuple(c for c in groups[a.group_id] if c.doc_id != a.doc_id) for a in articles}
    )


def with_copies(stories: Stories, citations: Sequence[Citation]) -> tuple[Citation, ...]:
    """Each citation with the other articles of its story (``also_in``)."""
    return tuple(replace(c, also_in=stories.of(c.doc_id)) for c in citations)


def collapse_passages(data: View, passages: Sequence[Passage], stories: Stories) -> list[Passage]:
    """One article per story: of a story's copies among ``passages``, the passages of the copy
    cited first (:func:`story_order`) fill the places of the story's best passages, in order,
    and the other copies' passages are dropped; the kept ones list the other copies
    (``also_in``, from ``stories``)."""
    keys = {p.doc_id: k for p in passages if (k := data.key_of(p.doc_id)) is not None}
    by_story: dict[str, list[Passage]] = {}  # group -> its passages, best first
    for p in passages:
        if p.doc_id in keys:
            by_story.setdefault(data.article(keys[p.doc_id]).group_id, []).append(p)
    kept: dict[str, list[Passage]] = {}  # group -> the cited copy's passages, not yet placed
    for group, story in by_story.items():
        docs = list(dict.fromkeys(p.doc_id for p in story))
        cited = docs[story_order([data.article(keys[d]) for d in docs])[0]]
        kept[group] = [p for p in story if p.doc_id == cited]
    out = []
    for p in passages:
        if p.doc_id not in keys:
            out.append(p)
        elif queue := kept[data.article(keys[p.doc_id]).group_id]:
            placed = queue.pop(0)
            out.append(replace(placed, also_in=stories.of(placed.doc_id)))
    return out


def story_order(articles: Sequence[ArticleRecord]) -> list[int]:
    """Positions of ``articles`` (copies of one sentence or passage) in the order they are
    cited: stories newest first (by their newest copy here), and within one story the
    original first (the copy the others credit, else the earliest dated; undated last);
    ties keep their order."""
    stories: dict[str, list[int]] = {}
    for i, a in enumerate(articles):
        stories.setdefault(a.group_id or a.doc_id, []).append(i)
    newest = {g: max(articles[i].date or "" for i in m) for g, m in stories.items()}

    def within(i: int) -> tuple[bool, bool, str]:
        a = articles[i]
        credited = any(_credits(articles[j], a) for j in stories[a.group_id or a.doc_id])
        return (not credited, a.date is None, a.date or "")

    ordered = sorted(stories, key=lambda g: newest[g], reverse=True)
    return [i for g in ordered for i in sorted(stories[g], key=within)]


def _credits(copy: ArticleRecord, original: ArticleRecord) -> bool:
    """Whether ``copy`` names ``original``'s outlet as its author or in its dateline."""
    if copy.doc_id == original.doc_id or not original.source:
        return False
    source = original.source.casefold()
    opening = copy.text[:CREDIT_CHARS].casefold()
    return (copy.author or "").casefold() == source or f"({source})" in opening


def cites_before(data: View, row: int, other: int) -> bool:
    """Whether sentence ``row`` is cited rather than ``other``, a copy of it
    (:func:`story_order`)."""
    return story_order([data.article_of(other), data.article_of(row)])[0] == 1


def repeated(data: View, row: int, chosen: Sequence[int]) -> int | None:
    """The position in ``chosen`` of the sentence that sentence ``row`` repeats: the same
    words anywhere, or nearly the same words (``SAME_SENTENCE``) in another copy of the same
    story; None when it repeats none."""
    words = _WORD.findall(data.sentence_text(row).lower())
    group = data.article_of(row).group_id
    for at, other in enumerate(chosen):
        theirs = _WORD.findall(data.sentence_text(other).lower())
        if words == theirs:
            return at
        if data.article_of(other).group_id == group and _overlap(words, theirs) >= SAME_SENTENCE:
            return at
    return None


def repeats_story(data: View, row: int, chosen: Sequence[int]) -> bool:
    """Whether sentence ``row`` repeats a chosen sentence (:func:`repeated`)."""
    return repeated(data, row, chosen) is not None


def _overlap(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / max(len(sa | sb), 1)
