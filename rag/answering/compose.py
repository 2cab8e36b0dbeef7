"""The extractive answer composer: quote the best sentences, cite them exactly, or abstain."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.answering.answerability import Evidence, answer_features, load_answerability
from rag.answering.captions import caption_answer
from rag.answering.continuation import two_sentence_span
from rag.answering.duplicates import cites_before, repeated, story_order
from rag.answering.features import Question, sentence_features, speaker_score
from rag.answering.figures import FIGURES_CONFIDENCE, changed_figures
from rag.answering.grounding import grounded
from rag.answering.roles import cite_name, role_answer
from rag.answering.scoring import Scorer
from rag.answering.statements import SAYS, cite_statements, named_speaker, speaker_statements
from rag.models import Citation
from rag.retrieval import Ranked
from rag.runtime.pairs import PairReading, Reranker, scores_of
from rag.stores.view import View
from rag.text import word_key

# The confidence of an answer made of the asked speaker's statements on the topic: the scorer,
# fitted on SQuAD, has seen few speaker questions and underrates attributed statements
# (docs/experiments.md, "Confidence of speaker answers")
ATTRIBUTED_CONFIDENCE = 0.9
# A who-is answer read from a photo caption (rag.answering.captions): the role's words beside the
# name are the evidence, as attribution is for a speaker answer, but a caption is the last resort:
# just above the fitted cut-off (0.5, rag.answering.scoring) rather than as sure as a sentence
CAPTION_CONFIDENCE = 0.55
EXTRA_MARGIN = 0.25  # a second or third sentence must score within this of the best one
# chunks retrieved before reranking by their best sentence (a deeper pool: docs/experiments.md)
POOL_DEPTH = 20
TITLE_WORDS = 12  # of the article title, put before each sentence the cross-encoder reads


@dataclass(frozen=True)
class Reading:
    """The retrieved pool read sentence by sentence: reranked passages and scored sentences."""

    question: Question
    ranked: Ranked  # the top_k chunks, reranked by their best sentence
    rows: list[int]  # candidate sentence rows, best first
    scores: np.ndarray  # their scores, best first
    confidence: float  # that the articles answer the question
    reranked: bool = False  # whether the cross-encoder read the best candidates
    # what it read: per pair its score and token rows, for the answer span (rag.answering.span)
    pairs: tuple[PairReading, ...] = ()
    # the best sentence's row of ANSWERABILITY_SCHEMA and the probability that it answers
    # (rag.answering.answerability); None without a reranker that has a span head
    evidence: np.ndarray | None = None
    answers: float | None = None


def candidate_rows(
    data: View, ranked: Ranked
) -> tuple[list[int], dict[int, int], dict[int, float]]:
    """Sentence rows overlapping the ranked chunks, with their best chunk rank and similarity."""
    rank: dict[int, int] = {}
    dense: dict[int, float] = {}
    data.load(int(r) for r in ranked.rows)
    for position, (row, sim) in enumerate(zip(ranked.rows, ranked.dense, strict=True)):
        for s in data.chunk_sentences(int(row)):
            if s not in rank:
                rank[s] = position
            dense[s] = max(dense.get(s, -1.0), float(sim))
    return sorted(rank), rank, dense


def pool_features(
    q: Question, data: View, pool: Ranked, query_vector: np.ndarray
) -> tuple[list[int], np.ndarray]:
    """Candidate sentence rows of the pool and their feature matrix."""
    rows, rank, dense = candidate_rows(data, pool)
    if not rows:
        return [], np.zeros((0, 0))
    sims = np.asarray(data.sentence_vectors(rows), dtype=np.float32) @ query_vector
    return rows, sentence_features(q, data, rows, rank, dense, sims)


def read(
    q: Question,
    data: View,
    pool: Ranked,
    query_vector: np.ndarray,
    scorer: Scorer,
    top_k: int,
    reranker: Reranker | None = None,
    *,
    evidence: bool = False,
) -> Reading:
    """Score every sentence of the pool (the reranker, when given and the linear scores are
    close, rescoring the best ones);
    rank chunks by their best sentence (the fused retrieval score breaks ties); keep ``top_k``.
    With an answerability model (``rag.answering.answerability``), or with ``evidence`` (to fit
    one), the reranker's span head reads the best sentence too."""
    rows, features = pool_features(q, data, pool, query_vector.astype(np.float32))
    if not rows:
        return Reading(q, pool, [], np.zeros(0), 0.0)
    scores = scorer.scores(features)
    cross: np.ndarray | None = None
    pairs: tuple[PairReading, ...] = ()
    if reranker is not None and scorer.rerank is not None and scorer.rerank.wanted(scores):
        scores, cross, pairs = rerank_scores(
            q, data, rows, scores, reranker, scorer.rerank.depth, scorer.rerank.weight
        )
    confidence = scorer.confidence(features, scores, data.article_keys(rows), cross)
    score_of = dict(zip(rows, scores.tolist(), strict=True))
    best = {}
    for i, chunk in enumerate(pool.rows):
        best[i] = max(
            (score_of[s] for s in data.chunk_sentences(int(chunk)) if s in score_of), default=-1e9
        )
    order = sorted(best, key=lambda i: (-best[i], -pool.scores[i]))[:top_k]
    ranked = Ranked(pool.rows[order], pool.scores[order], pool.dense[order])
    by_score = copies_in_citation_order(rows, scores, data)
    ordered = [rows[i] for i in by_score]
    model = load_answerability()
    row = None
    if model is not None or evidence:
        best = by_score[0]
        top_cross = None if cross is None else float(cross[best])
        row = _evidence(
            q,
            data,
            ordered[0],
            features[best],
            scores[by_score],
            confidence,
            top_cross,
            reranker,
            pairs,
        )
    answers = model(row) if model is not None and row is not None else None
    return Reading(
        q,
        ranked,
        ordered,
        -np.sort(-scores),
        confidence,
        cross is not None,
        pairs,
        evidence=row,
        answers=answers,
    )


def _evidence(
    q: Question,
    data: View,
    row: int,
    features: np.ndarray,
    scores: np.ndarray,
    confidence: float,
    cross: float | None,
    reranker: Reranker | None,
    pairs: tuple[PairReading, ...] = (),
) -> np.ndarray | None:
    """The best sentence's row of ``ANSWERABILITY_SCHEMA`` (None without a reranker): its
    reranker score (read now when the reranker skipped the question) and the span head's rows,
    from the pass that scored it when there was one."""
    if reranker is None:
        return None
    text = reranker_text(data, row)
    sentence = data.sentence_text(row)
    read = next((p for p in pairs if p.text == text), None)
    if read is None:
        read = reranker.rerank(q.text, [text])[0]
    if cross is None:
        cross = float(read.score)
    tokens = read.tokens
    tokens = tokens[tokens[:, 0] >= len(text) - len(sentence)] if len(tokens) else tokens
    article = data.article_of(row).text
    evidence = Evidence(cross, tokens)
    return answer_features(q, sentence, article, features, scores, confidence, evidence)


def copies_in_citation_order(rows: list[int], scores: np.ndarray, data: View) -> np.ndarray:
    """Positions of ``rows``, best score first, where copies of one sentence (the same words
    in several articles: a story reported again or syndicated) count as a tie: the copy cited
    first (``rag.answering.duplicates.story_order``: the newest story, within a story its original)
    takes the best copy's place, the next one the next copy's place, and so on."""
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    places: dict[str, list[int]] = {}
    for place, i in enumerate(order):
        places.setdefault(word_key(data.sentence_text(rows[i])), []).append(place)
    out = list(order)
    for group in places.values():
        if len(group) > 1:
            members = [order[p] for p in group]
            cited = story_order([data.article_of(rows[i]) for i in members])
            for place, at in zip(group, cited, strict=True):
                out[place] = members[at]
    return np.array(out, dtype=np.int64)


def rerank_scores(
    q: Question,
    data: View,
    rows: list[int],
    scores: np.ndarray,
    reranker: Reranker,
    depth: int,
    weight: float,
) -> tuple[np.ndarray, np.ndarray, tuple[PairReading, ...]]:
    """Blend the reranker's logits into the ``depth`` best linear scores.

    Candidates it did not read get the lowest logit it gave, so they keep their linear order
    below the ones it read. Returns the blended scores, the logits of every candidate and what
    the reranker read (carried to the answer span)."""
    top = np.argsort(-scores, kind="stable")[:depth]
    pairs = tuple(reranker.rerank(q.text, [reranker_text(data, rows[i]) for i in top]))
    logits = scores_of(pairs)
    cross = np.full(len(rows), float(logits.min()))
    cross[top] = logits
    return scores + weight * cross, cross, pairs


def reranker_text(data: View, row: int) -> str:
    """What the cross-encoder reads for a sentence: the start of its article's title, then the
    sentence (the title tells it who "he" or "the company" in the sentence is)."""
    return pair_text(data.article_of(row).title, data.sentence_text(row))


def pair_text(title: str, sentence: str) -> str:
    """The start of ``title`` (``TITLE_WORDS``), a colon, then ``sentence``, which always
    ends the text (``rag.answering.span`` finds it there)."""
    prefix = " ".join(title.split()[:TITLE_WORDS])
    return f"{prefix}: {sentence}" if prefix else sentence


@dataclass(frozen=True)
class Composition:
    citations: tuple[Citation, ...]
    answer: str
    confidence: float
    abstained: bool
    reason: str | None
    closest: tuple[Citation, ...] = ()  # shown beside an abstention, never as the answer


def compose(reading: Reading, data: View, threshold: float, max_sentences: int = 3) -> Composition:
    """The answer as quotes with ``[n]`` markers, or an abstention with its reason.

    Steps: abstain when nothing was found, when the speaker asked about says nothing, when the
    best sentence's article lacks a name the question asks about (``rag.answering.grounding``), or
    when the confidence is below ``threshold`` (at least ``ATTRIBUTED_CONFIDENCE`` when the speaker
    asked about has statements on the topic, ``rag.answering.statements``, or ``FIGURES_CONFIDENCE``
    when a count is reported on different days, ``rag.answering.figures``; otherwise, with a
    span head to read the best sentence, the probability that it answers,
    ``rag.answering.answerability``, and the reason ``not_stated`` when the scorer alone found the
    articles on topic); then quote the speaker's
    statements, or for a who-is question the sentence naming the person (``rag.answering.roles``),
    or the reports of the count newest first, or else the best sentences (:func:`choose`), and
    cite each exactly."""
    q, rows, confidence = reading.question, reading.rows, reading.confidence
    if not rows:
        return Composition((), "", 0.0, True, "no_relevant_passage")
    q = named_speaker(q, data, rows)  # "the mayor" -> the person named as mayor
    if q.speaker is not None and not _speaker_quoted(q, data, rows[:10]):
        return Composition((), "", confidence, True, "speaker_not_quoted")
    if not grounded(q.text, data.article_of(rows[0])):  # rag.answering.grounding
        return Composition((), "", confidence, True, "entity_not_found")
    statements = speaker_statements(q, rows, data) if q.speaker is not None else []
    if statements:  # the speaker's own words on the topic: attribution is the evidence
        confidence = max(confidence, ATTRIBUTED_CONFIDENCE)
    figures = changed_figures(q.text, rows, data) if q.speaker is None else None
    if figures:  # one count reported on different days (rag.answering.figures): each answers
        confidence = max(confidence, FIGURES_CONFIDENCE)
    on_topic = confidence >= threshold  # the scorer's: the articles are about the question
    if reading.answers is not None and not statements and not figures:
        confidence = reading.answers  # that the best sentence answers (rag.answering.answerability)
    if confidence < threshold:
        return _from_caption(q, data, rows, confidence) or Composition(
            (), "", confidence, True, "not_stated" if on_topic else "low_confidence"
        )
    # "Who is Japan's defense minister?" (rag.answering.roles)
    role = role_answer(q.text, data, rows)
    if role is None and (caption := _from_caption(q, data, rows, confidence)) is not None:
        return caption
    if role is not None:
        chosen = [role.index]
    else:
        chosen = statements or figures or choose(reading, data, max_sentences)
    shares = np.exp(reading.scores - reading.scores[0])
    shares = shares / shares.sum()
    unit = None if role or statements or figures else two_sentence_span(q, data, rows[chosen[0]])
    if unit is not None:  # the best sentence and its neighbour (rag.answering.continuation)
        chosen = [chosen[0], *(i for i in chosen[1:] if not _inside(data, rows[i], unit))]
    citations = tuple(
        _citation(n, data, rows[i], float(shares[i]), unit if n == 1 else None)
        for n, i in enumerate(chosen, start=1)
    )
    if role is not None:
        citations = (cite_name(citations[0], role),)
    elif statements:  # the span of a statement is what was said (rag.answering.statements)
        citations = cite_statements(citations, data)
    answer = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Composition(citations, answer, confidence, False, None)


def choose(reading: Reading, data: View, max_sentences: int) -> list[int]:
    """Indexes into ``reading.rows`` of the sentences to quote, best first: the best sentence
    and up to ``max_sentences - 1`` more within ``EXTRA_MARGIN`` of it, each sentence once
    however many articles carry it, from the copy cited first (``rag.answering.duplicates``)."""
    scores, rows = reading.scores, reading.rows
    chosen = [0]
    for i in range(1, len(rows)):
        if len(chosen) >= max_sentences or scores[i] < scores[0] - EXTRA_MARGIN:
            break
        at = repeated(data, rows[i], [rows[j] for j in chosen])
        if at is None:
            chosen.append(i)
        elif cites_before(data, rows[i], rows[chosen[at]]):  # the story's original instead
            chosen[at] = i
    return chosen


def _from_caption(
    q: Question, data: View, rows: list[int], confidence: float
) -> Composition | None:
    """A who-is answer from a photo caption (``rag.answering.captions``), when no sentence names
    one, with at least ``CAPTION_CONFIDENCE``; ``from_caption`` labels its citation."""
    citation = caption_answer(q.text, data, rows) if q.speaker is None else None
    if citation is None:
        return None
    confidence = max(confidence, CAPTION_CONFIDENCE)
    return Composition((citation,), f"{citation.quote} [1]", confidence, False, None)


def _speaker_quoted(q: Question, data: View, rows: list[int]) -> bool:
    """Some top candidate is said by the speaker the question asks about."""
    return any(speaker_score(q, data, r, data.sentence_text(r)) >= SAYS for r in rows)


def _inside(data: View, row: int, span: tuple[int, int]) -> bool:
    start, end = data.sentence_span(row)
    return span[0] <= start and end <= span[1]


def _citation(
    n: int, data: View, row: int, score: float, span: tuple[int, int] | None = None
) -> Citation:
    """The citation of ``row``'s sentence (or of ``span`` of its article: a two-sentence unit)."""
    article = data.article_of(row)
    start, end = span or data.sentence_span(row)
    return Citation(
        n=n,
        doc_id=article.doc_id,
        title=article.title,
        url=article.url,
        date=article.date,
        start=start,
        end=end,
        quote=article.text[start:end],
        score=round(score, 4),
        source=article.source,
    )
