"""Fitting the scorer: sentence weights, the reranker blend, the confidence models, the cut-off.

Contract: ``fit_linear`` fits what does not need the reranker; ``blend_from_logits`` fits the
blend, the skip margin and the reranked confidence from logits that a reranker gave questions
it did not train on (``cross_fitting``). Nothing here reads the 'report' half.

Design. Sentence weights are listwise (minus the log of the softmax mass on each question's
correct candidates), L2-regularised, fitted with L-BFGS. A confidence model is a class-balanced
logistic regression over question-level features (``scoring.CONFIDENCE_SCHEMA``), labelled by
whether the question's article is indexed. The cut-off is the one that meets the answer-rate and
false-answer-rate targets with the most room; each confidence model's bias is then shifted so
that its cut-off is 0.5 (``Scorer.threshold``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from scipy.optimize import minimize

from rag.answering.features import SENTENCE_SCHEMA
from rag.answering.scoring import Logistic, RerankBlend, Scorer, confidence_features
from rag.errors import InputError
from rag.training.candidates import Candidates

TARGET_ANSWER_RATE = 0.95  # of in-corpus questions, at least (the service's quality target)
TARGET_FALSE_ANSWER_RATE = 0.05  # of out-of-corpus questions, at most (the same)
L2 = 1e-4  # keeps rarely firing features' weights finite; small enough not to bias the rest
RERANK_DEPTH = 8  # candidates the reranker reads per question: what it was trained to read
# blend weights tried; a grid, because accuracy@1 is a step function of the weight
BLEND_WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
# skip margins tried, smallest first: the reranker costs ~120 ms, so skip it when it can
SKIP_MARGINS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, float("inf"))
SKIP_TOLERANCE = 0.003  # accuracy@1 that skipping the reranker may cost (3 in 1,000 questions)
# Not fitted, because tuning data like SQuAD has (almost) no such questions: the speaker
# feature only fires on "What did X say?" questions, which news readers ask a lot.
FIXED_WEIGHTS = {"speaker": 4.0}


def fit_weights(groups: list[Candidates], l2: float = L2) -> np.ndarray:
    """Listwise weights: minimise -log(softmax mass on the correct candidates)."""
    usable = [g for g in groups if g.labels.any()]
    if not usable:
        raise InputError(
            "nothing to fit: no fit-half question has a candidate sentence "
            "holding its answer (training needs SQuAD or JSONL with answers)"
        )

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for g in usable:
            z = g.features @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            pos = g.labels > 0
            mass = p[pos].sum()
            total -= np.log(mass + 1e-12)
            grad += p @ g.features - (p[pos] / mass) @ g.features[pos]
        n = len(usable)
        return total / n + l2 * float(w @ w), grad / n + 2 * l2 * w

    start = np.zeros(usable[0].features.shape[1])
    return np.asarray(minimize(loss, start, jac=True, method="L-BFGS-B").x)


def fit_logistic(x: np.ndarray, y: np.ndarray) -> Logistic:
    """Class-balanced logistic regression (in- and out-of-corpus questions weigh the same)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced").fit(x, y)
    return Logistic(tuple(model.coef_[0].tolist()), float(model.intercept_[0]))


def choose_threshold(confidences: list[tuple[bool, float]]) -> tuple[float, float, float]:
    """The cut-off that meets both targets with the most room: the largest
    min(answer rate - TARGET_ANSWER_RATE, TARGET_FALSE_ANSWER_RATE - false-answer rate).
    Returns it with the answer rate (in corpus) and false-answer rate (out of corpus)."""
    inside = np.array([c for ok, c in confidences if ok])
    outside = np.array([c for ok, c in confidences if not ok])
    best: tuple[float, float, float, float] | None = None
    for t in np.unique([c for _, c in confidences if np.isfinite(c)]):
        rate = float((inside >= t).mean()) if len(inside) else 0.0
        far = float((outside >= t).mean()) if len(outside) else 0.0
        room = min(rate - TARGET_ANSWER_RATE, TARGET_FALSE_ANSWER_RATE - far)
        if best is None or room > best[0]:
            best = (room, float(t), rate, far)
    if best is None:
        return 0.5, 0.0, 0.0
    return best[1], best[2], best[3]


def _without_fixed(g: Candidates) -> Candidates:
    features = g.features.copy()
    for name in FIXED_WEIGHTS:
        features[:, SENTENCE_SCHEMA.column(name)] = 0.0
    return replace(g, features=features)


def fit_linear(groups: list[Candidates], name: str) -> Scorer:
    """Sentence weights, the confidence without the reranker, and its cut-off."""
    weights = fit_weights([_without_fixed(g) for g in groups])
    for feature, value in FIXED_WEIGHTS.items():
        weights[SENTENCE_SCHEMA.column(feature)] = value
    x = np.array(
        [confidence_features(g.features, g.features @ weights, g.articles) for g in groups]
    )
    confidence = fit_logistic(x, np.array([g.in_corpus for g in groups], dtype=int))
    cut_off, rate, far = choose_threshold(
        [(g.in_corpus, confidence(row)) for g, row in zip(groups, x, strict=True)]
    )
    return Scorer(
        tuple(weights.tolist()),
        confidence.shifted(cut_off),
        0.5,
        None,
        {
            "fitted_on": f"{name}, 'fit' half ({len(groups)} questions)",
            "targets": {
                "answer_rate": TARGET_ANSWER_RATE,
                "false_answer_rate": TARGET_FALSE_ANSWER_RATE,
            },
            "fixed_weights": FIXED_WEIGHTS,
            "fit_without_reranker": {
                "answer_rate": round(rate, 4),
                "false_answer_rate": round(far, 4),
            },
        },
    )


def blend_from_logits(
    scorer: Scorer,
    held: list[Candidates],
    logits: list[np.ndarray],
) -> tuple[RerankBlend, dict[str, Any]]:
    """Blend weight and skip margin (sentence accuracy@1), confidence model and cut-off, from
    each held-out question's reranker logits (by a reranker that did not train on it)."""
    linear = [scorer.scores(g.features) for g in held]

    def accuracy(weight: float, margin: float) -> float:
        blend = RerankBlend(RERANK_DEPTH, weight, margin, scorer.confidence_model)
        hits = [
            g.labels[int(np.argmax(s + weight * c if blend.wanted(s) else s))]
            for g, s, c in zip(held, linear, logits, strict=True)
            if g.in_corpus
        ]
        return float(np.mean(hits)) if hits else 0.0

    weight = max(BLEND_WEIGHTS, key=lambda w: accuracy(w, float("inf")))
    full = accuracy(weight, float("inf"))
    margin = next(m for m in SKIP_MARGINS if accuracy(weight, m) >= full - SKIP_TOLERANCE)
    x = np.array(
        [
            confidence_features(g.features, s + weight * c, g.articles, c)
            for g, s, c in zip(held, linear, logits, strict=True)
        ]
    )
    confidence = fit_logistic(x, np.array([g.in_corpus for g in held], dtype=int))
    blend = RerankBlend(RERANK_DEPTH, weight, margin, confidence)
    # the cut-off is chosen over what the cascade does: questions it does not rerank keep the
    # linear confidence, answered or not whatever this cut-off is
    effective = [
        (
            g.in_corpus,
            confidence(row)
            if blend.wanted(s)
            else (
                np.inf
                if scorer.confidence(g.features, s, g.articles) >= scorer.threshold
                else -np.inf
            ),
        )
        for g, s, row in zip(held, linear, x, strict=True)
    ]
    cut_off, rate, far = choose_threshold(effective)
    rereads = float(np.mean([blend.wanted(s) for s in linear]))
    return (
        RerankBlend(RERANK_DEPTH, weight, margin, confidence.shifted(cut_off)),
        {
            "accuracy@1": round(accuracy(weight, margin), 4),
            "answer_rate": round(rate, 4),
            "false_answer_rate": round(far, 4),
            "reranked_share": round(rereads, 4),
            "questions": len(held),
        },
    )
