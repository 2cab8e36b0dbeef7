"""A bench corpus of distinct text: copies of the SQuAD articles with words and numbers changed.

Plain copies (``bench.common.copies``) repeat every paragraph, so the cross-encoder is asked
about the same sentences again and again and its recent-pairs memory answers most of them: a
large index of copies makes reranking look about six times cheaper than it is. Here each copy
changes, per copy, every digit and about one word in four (``WORD_SHARE``) to another word of
the same length from the articles' own vocabulary, keeping capitals. Lengths never change, so
every stored offset (chunks, sentences, named entities) stays valid and nothing is embedded
again: the vectors are the original ones with Gaussian noise, as for plain copies. Texts,
titles, BM25 terms and cross-encoder pairs differ from copy to copy (the query benchmark
counts the distinct pairs per question to show it).
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

import numpy as np

from bench.common import _perturb
from rag.stores.base import PreparedArticle
from rag.text import content_terms

WORD_SHARE = 0.25  # words changed per copy: few sentences of 4+ words survive unchanged
_WORD = re.compile(r"[A-Za-z]+|[0-9]")


def vocabulary(base: list[PreparedArticle]) -> dict[int, list[str]]:
    """Lower-case words of the base articles by length (sorted, so runs are repeatable)."""
    words: dict[int, set[str]] = {}
    for p in base:
        for w in re.findall(r"[a-z]+", p.article.text):
            words.setdefault(len(w), set()).add(w)
    return {n: sorted(ws) for n, ws in words.items()}


def changed(text: str, words: dict[int, list[str]], rng: random.Random) -> str:
    """``text`` with every digit and about ``WORD_SHARE`` of its words replaced, same length."""

    def swap(m: re.Match[str]) -> str:
        w = m.group(0)
        if w.isdigit():
            return str(rng.randrange(10))
        if rng.random() >= WORD_SHARE or len(words.get(len(w), ())) < 2:
            return w
        new = rng.choice(words[len(w)])
        return new.capitalize() if w[0].isupper() else new

    return _WORD.sub(swap, text)


def distinct_copies(
    base: list[PreparedArticle], chunks: int, start: int = 0, noise: float = 0.02
) -> list[PreparedArticle]:
    """About ``chunks`` chunks of changed copies of ``base`` under new ids (copy numbers from
    ``start``); copy ``start`` of each article is the article itself, unchanged."""
    words = vocabulary(base)
    rng, vec_rng = random.Random(start), np.random.default_rng(start)
    out: list[PreparedArticle] = []
    total, copy = 0, start
    while total < chunks:
        for p in base:
            if total >= chunks:
                break
            a = p.article
            text = a.text if copy == 0 else changed(a.text, words, rng)
            title = a.title if copy == 0 else changed(a.title, words, rng)
            article = replace(a, doc_id=f"{a.doc_id}~{copy}", text=text, title=title)
            spans = zip(p.chunk_start, p.chunk_end, strict=True)
            out.append(
                replace(
                    p,
                    article=article,
                    chunk_vectors=_perturb(p.chunk_vectors, noise * (copy > 0), vec_rng),
                    sentence_vectors=_perturb(p.sentence_vectors, noise * (copy > 0), vec_rng),
                    chunk_terms=tuple(tuple(content_terms(text[s:e])) for s, e in spans),
                )
            )
            total += len(p.chunk_start)
        copy += 1
    return out
