"""Answerability: whether the chosen sentence answers the question, not only whether the
articles are on its topic.

Contract: :func:`assess` gives, for a reading's best sentence, the probability that quoting it
answers the question (``Answerability.model`` over ``ANSWERABILITY_SCHEMA``), or None when no
cross-encoder with a span head is there to read it (``RAG_RERANK=false``, the hash embedder):
then the scorer's confidence stands alone. ``rag.answering.compose`` uses the probability as the
answer's ``confidence`` and abstains below the cut-off with the reason ``not_stated`` when the
scorer found the articles on topic (its own confidence reached the cut-off), ``low_confidence``
otherwise.

Design. SQuAD v2.0 holds questions over the same articles that the articles cannot answer; the
scorer's confidence, fitted to tell on-topic from off-topic, separates those poorly. What does
separate them is read off the best sentence itself: the reranker's logit for it, how strongly the
span head points at one span in it (its best start + end logit, the log-sum-exps of its start and
end logits, as the head's "evidence"), whether it holds a value of the type the question asks for
(a date for "when", a number for "how many", a name for "who": ``features.type_new``), and the
scorer's confidence and margin, and whether the question names a rare word or a number that the
article never uses. A logistic model over these, fitted on the fit half of the SQuAD v2.0 tuning
file with the label "the best sentence is in the gold article and holds a gold answer"
(:mod:`rag.training.answerability_fitting`), is a calibrated probability for that file's mix of
questions (a third answerable, over a third unanswerable over indexed articles). Its bias is then
shifted, as the scorer's models are, so that 0.5 is the cut-off that still answers 95% of the
answerable questions there: the stored probability is calibrated for questions whose prior odds of
being answerable are ``(1 - cut_off) / cut_off`` times those of that mix (``meta["cut_off"]``),
i.e. for traffic that is mostly answerable, as readers' questions about their news are. The fitted
parameters live in JSON (``rag/data/answerability.json``) so that serving needs numpy only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.feature_schema import FeatureSchema, SchemaMismatch, reading_fitted
from rag.answering.features import SENTENCE_SCHEMA, Question, type_new
from rag.answering.scoring import Logistic
from rag.text import content_terms

ANSWERABILITY_FILE = Path(__file__).resolve().parent.parent / "data" / "answerability.json"
ANSWERABILITY_SCHEMA = FeatureSchema(
    1,
    (
        "confidence_logit",
        "margin",
        "cross",
        "span_best",
        "span_start_lse",
        "span_end_lse",
        "span_tokens",
        "type_new",
        "kind_other",
        "lex",
        "missing_rare",
        "entity",
        "article_missing",
        "article_missing_rare",
        "article_missing_number",
    ),
)
RARE_SHARE = 0.8  # a term at least this share of the question's top IDF is one of its rarest
MAX_SPAN_TOKENS = 10  # as rag.answering.span.MAX_ANSWER_TOKENS: the spans the head is read for
CLIP_LOGIT = 9.0  # a confidence of 0 or 1 read as a finite logit


@dataclass(frozen=True)
class Evidence:
    """What the reranker read in the best sentence: its logit and its span head's token rows
    (``[char_start, char_end, start_logit, end_logit]``, the sentence's own tokens only)."""

    cross: float
    tokens: np.ndarray


@dataclass(frozen=True)
class Answerability:
    """The fitted model (a calibrated probability) and how it was fitted."""

    model: Logistic
    meta: dict[str, Any] = field(default_factory=dict)

    def __call__(self, x: np.ndarray) -> float:
        return self.model(x)

    def to_json(self) -> str:
        return json.dumps(
            {
                "schema": ANSWERABILITY_SCHEMA.digest,
                "model": self.model.to_dict(ANSWERABILITY_SCHEMA),
                "meta": self.meta,
            },
            indent=2,
        )


def answer_features(
    q: Question,
    sentence: str,
    article: str,
    features: np.ndarray,
    scores: np.ndarray,
    confidence: float,
    evidence: Evidence,
) -> np.ndarray:
    """A row of ``ANSWERABILITY_SCHEMA`` for the best sentence (``sentence``, in ``article``'s
    text, whose row of ``SENTENCE_SCHEMA`` is ``features``; ``scores`` are all candidates'
    scores, best first)."""
    p = min(max(confidence, 1e-4), 1 - 1e-4)
    start, end = evidence.tokens[:, 2], evidence.tokens[:, 3]
    best, length = _best_pair(start, end)

    def col(name: str) -> float:
        return float(features[SENTENCE_SCHEMA.column(name)])

    return ANSWERABILITY_SCHEMA.vector(
        {
            "confidence_logit": float(np.clip(np.log(p / (1 - p)), -CLIP_LOGIT, CLIP_LOGIT)),
            "margin": float(scores[0] - scores[1]) if len(scores) > 1 else 1.0,
            "cross": evidence.cross,
            "span_best": best,
            "span_start_lse": _lse(start),
            "span_end_lse": _lse(end),
            "span_tokens": float(length),
            "type_new": type_new(q, sentence),
            "kind_other": 1.0 if q.kind == "other" else 0.0,
            "lex": col("lex"),
            "missing_rare": col("missing_rare"),
            "entity": col("entity"),
            **_article_missing(q, article),
        }
    )


def _article_missing(q: Question, article: str) -> dict[str, float]:
    """What the question asks about that its best sentence's article never mentions: the
    IDF-weighted share of its terms, whether one of its rarest terms is missing (a question made
    unanswerable by a changed word), and whether a number it names is missing."""
    words = set(content_terms(article))
    total = sum(q.weights.values())
    missing = [t for t in q.terms if t not in words]
    top = max(q.weights.values(), default=0.0)
    numbers = re.findall(r"\d[\d,.]*\d|\d", q.text)
    return {
        "article_missing": sum(q.weights.get(t, 0.0) for t in missing) / total if total else 0.0,
        "article_missing_rare": 1.0
        if any(q.weights.get(t, 0.0) >= RARE_SHARE * top for t in missing)
        else 0.0,
        "article_missing_number": 1.0 if any(n not in article for n in numbers) else 0.0,
    }


def _lse(x: np.ndarray) -> float:
    if not len(x):
        return 0.0
    top = float(x.max())
    return top + float(np.log(np.exp(x - top).sum()))


def _best_pair(start: np.ndarray, end: np.ndarray) -> tuple[float, int]:
    """The best start + end logit of a span of at most ``MAX_SPAN_TOKENS`` tokens, and its
    length in tokens (0 and 0 for a sentence with no token)."""
    n = len(start)
    if not n:
        return 0.0, 0
    scores = start[:, None] + end[None, :]
    first, last = np.indices((n, n))
    scores[(last < first) | (last - first >= MAX_SPAN_TOKENS)] = -np.inf
    a, b = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[a, b]), int(b - a + 1)


@lru_cache(maxsize=4)
def load_answerability(path: Path = ANSWERABILITY_FILE) -> Answerability | None:
    """The model in ``path``; None when there is no such file (answers then keep the scorer's
    confidence); a ``ModelFileError`` when it cannot be read or was fitted for other features."""
    if not Path(path).exists():
        return None
    fix = "refit with `python -m rag.training.answerability_fitting` or delete the file"
    with reading_fitted("answerability", path, fix):
        raw = json.loads(Path(path).read_text("utf-8"))
        if raw.get("schema") != ANSWERABILITY_SCHEMA.digest:
            raise SchemaMismatch("digest differs")
        return Answerability(
            Logistic.from_dict(raw["model"], ANSWERABILITY_SCHEMA), raw.get("meta", {})
        )
