"""The distinct-text bench corpus: every copy is different text with the same offsets, and a
stored article's entities are decoded only when read (the question path reads few)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from bench.distinct import distinct_copies
from rag.stores.base import ArticleRecord
from rag.stores.local import LocalStore
from rag.stores.sql import record_from_row
from rag.stores.view import View
from rag.text import content_terms
from tests.store_conformance import INFO, LONG, OTTER, WALRUS, prepared


def test_distinct_copies_are_different_texts_with_the_same_spans() -> None:
    base = prepared(WALRUS, OTTER, LONG)
    base[0] = replace(base[0], entities=((0, 8, "NORP"),))
    chunks = sum(len(p.chunk_start) for p in base)
    out = distinct_copies(base, 6 * chunks)
    assert len({p.article.doc_id for p in out}) == len(out) == 6 * len(base)
    sentences = [
        p.article.text[s:e] for p in out for s, e in zip(p.sent_start, p.sent_end, strict=True)
    ]
    # the first copy is the articles themselves; the rest change about one word in four, so
    # (nearly) every copy is a new text, and most sentences even of these short repetitive ones
    assert out[0].article.text == WALRUS.text
    assert len({p.article.text for p in out}) > 0.9 * len(out)
    assert len(set(sentences)) > 0.65 * len(sentences)
    for p, original in zip(out, base * 6, strict=True):
        assert len(p.article.text) == len(original.article.text)
        assert p.entities == original.entities and p.sent_end.tolist() == original.sent_end.tolist()
        first = p.article.text[int(p.chunk_start[0]) : int(p.chunk_end[0])]
        assert p.chunk_terms[0] == tuple(content_terms(first))


def test_entities_are_decoded_on_first_read_only() -> None:
    row = ["d", "t", "Ann met Bob.", None, None, None, "h", "now", None, 1, '[[0,3,"PERSON"]]', "d"]
    record = record_from_row(row)
    assert "entities" not in record.__dict__  # nothing decoded yet
    assert record.entities == ((0, 3, "PERSON"),)
    assert record == record_from_row(row) and record_from_row([*row[:10], None, "d"]).entities == ()
    assert ArticleRecord("d", "t", "x", None, None, None, "h", "now").entities == ()


def test_a_stored_articles_entities_survive_the_lazy_read(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "index")
    [walrus] = prepared(WALRUS)
    store.write(INFO, [replace(walrus, entities=((0, 8, "NORP"), (16, 22, "LOC")))])
    view = View(store.reader())
    [key] = view.reader.live_keys()  # type: ignore[attr-defined]
    article = view.article(key)
    assert json.loads(article.entities_json) == [[0, 8, "NORP"], [16, 22, "LOC"]]
    assert article.entities == ((0, 8, "NORP"), (16, 22, "LOC"))
    store.close()
