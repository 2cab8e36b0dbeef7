"""Who-is answers from photo captions, the last resort.

Captions are never quoted as answers (``rag.newsparts``), yet an article sometimes names an
office holder only there: "Combined photo shows ... British Defense Secretary Grant Shapps and
...". When a who-is or role question ("Who is the British defence secretary?") finds no
sentence naming the person in the role, :func:`caption_answer` reads the captions of the
candidate articles, best first, with the same windows as sentences
(``rag.answering.roles.named_in``) and returns the caption as the citation, labelled
``from_caption=True`` so a reader can tell a caption from the article's prose, with the name as its
answer span.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.answering.roles import SEARCHED_ROWS, named_in, parse_role_question
from rag.models import Citation
from rag.newsparts import captions
from rag.stores.view import View


def caption_answer(question: str, data: View, rows: Sequence[int]) -> Citation | None:
    """The caption of a candidate article naming a person in the role ``question`` asks
    about, as citation [1] (best match, then best-ranked article); None for other questions
    or when no caption names one."""
    q = parse_role_question(question)
    if q is None:
        return None
    best: tuple[int, int, Citation] | None = None
    keys = list(dict.fromkeys(data.article_key(row) for row in rows[:SEARCHED_ROWS]))
    for rank, key in enumerate(keys):
        article = data.article(key)
        entities = getattr(article, "entities", ())
        for span in captions(article.text):
            found = named_in(q, article.text, entities, span.start, span.end)
            if found is None or (best is not None and (found[0], -rank) <= best[:2]):
                continue
            citation = Citation(
                n=1,
                doc_id=article.doc_id,
                title=article.title,
                url=article.url,
                date=article.date,
                start=span.start,
                end=span.end,
                quote=article.text[span.start : span.end],
                score=1.0,
                source=article.source,
                answer_start=found[1],
                answer_end=found[2],
                from_caption=True,
            )
            best = (found[0], -rank, citation)
    return best[2] if best is not None else None
