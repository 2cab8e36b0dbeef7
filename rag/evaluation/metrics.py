"""Metric functions: retrieval ranks, answer correctness, abstention curves, latency."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

PUNCTUATION = frozenset(string.punctuation)  # what the official SQuAD script deletes


def recall_at_k(gold_ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose first gold item is within the top ``k`` (ranks start at 1)."""
    if not gold_ranks:
        return 0.0
    return sum(1 for r in gold_ranks if r is not None and r <= k) / len(gold_ranks)


def mrr_at_k(gold_ranks: Sequence[int | None], k: int = 10) -> float:
    if not gold_ranks:
        return 0.0
    return sum(1.0 / r for r in gold_ranks if r is not None and r <= k) / len(gold_ranks)


def ndcg_at_k(relevances: Sequence[float], ideal: Sequence[float], k: int = 10) -> float:
    """nDCG of one ranking, in [0, 1]: ``relevances`` in ranked order, ``ideal`` all gold grades.

    Each gold grade is earned once: a ranked item only gains when an equal grade is still
    unclaimed in ``ideal``. Without that, two overlapping passages that both hold the one gold
    answer would both count, and the ranking would score above the ideal one (nDCG > 1).
    """

    def dcg(values: Sequence[float]) -> float:
        return sum(v / math.log2(i + 2) for i, v in enumerate(values[:k]))

    unclaimed = list(ideal)
    gains = []
    for value in relevances[:k]:
        if value > 0 and value in unclaimed:
            unclaimed.remove(value)
            gains.append(value)
        else:
            gains.append(0.0)
    best = dcg(sorted(ideal, reverse=True))
    return dcg(gains) / best if best > 0 else 0.0


def normalize(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse spaces (SQuAD's normalisation)."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_normalize(text: str) -> str:
    """The official SQuAD v1.1 answer normalisation: lower-case, delete punctuation
    (``string.punctuation``), drop the articles a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD exact match: 1.0 when the normalised prediction equals some normalised answer."""
    norm = squad_normalize(prediction)
    return float(any(norm == squad_normalize(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD F1: the best, over the answers, of the harmonic mean of token precision and
    recall between the normalised prediction and the answer (tokens counted as a bag)."""
    predicted = squad_normalize(prediction).split()
    best = 0.0
    for answer in answers:
        gold = squad_normalize(answer).split()
        same = sum((Counter(predicted) & Counter(gold)).values())
        if same:
            precision, recall = same / len(predicted), same / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def quote_contains_answer(quote: str, answers: Sequence[str]) -> bool:
    norm = f" {normalize(quote)} "
    return any(normalize(a) and f" {normalize(a)} " in norm for a in answers)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def coverage_curve(
    inside: Sequence[tuple[float, bool]],
    outside: Sequence[float],
    thresholds: Sequence[float],
) -> list[dict[str, float | None]]:
    """For each threshold: the answer rate and accuracy on in-corpus questions
    (``(confidence, correct)`` pairs) and the false-answer rate on out-of-corpus ones; a rate
    with nothing to count (no question answered, none out of corpus) is None."""
    curve: list[dict[str, float | None]] = []
    for t in thresholds:
        answered = [ok for conf, ok in inside if conf >= t]
        curve.append(
            {
                "threshold": round(t, 4),
                "answer_rate": len(answered) / len(inside) if inside else None,
                "accuracy": sum(answered) / len(answered) if answered else None,
                "false_answer_rate": (
                    sum(1 for c in outside if c >= t) / len(outside) if outside else None
                ),
            }
        )
    return curve
