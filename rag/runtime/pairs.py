"""What a cross-encoder backend returns per (question, text) pair: a :class:`PairReading`, its
score and one row ``[char_start, char_end, start_logit, end_logit]`` per token of the text
(``token_rows``), from one forward pass, so the answer span of a sentence the reranker scored
costs no second pass (``rag.answering.span`` decodes the rows the reading carries).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, eq=False)
class PairReading:
    """One (question, text) pair read by the cross-encoder: its score (higher answers the
    question better; comparable among the pairs of one call only) and its token rows
    (``token_rows``: the span head's logits for each token of ``text``)."""

    text: str
    score: float
    tokens: np.ndarray


def scores_of(readings: Sequence[PairReading]) -> np.ndarray:
    """The scores of ``readings``, in order (float64)."""
    return np.array([r.score for r in readings], dtype=np.float64)


def token_rows(
    offsets: np.ndarray, sequence_ids: Sequence[int | None], logits: np.ndarray
) -> np.ndarray:
    """``[char_start, char_end, start_logit, end_logit]`` (float64) for each token of a pair's
    second text, from the tokenizer's offsets and sequence ids and the head's ``(tokens, 2)``
    logits (special tokens and empty offsets left out)."""
    n = min(len(sequence_ids), len(offsets), len(logits))
    keep = [t for t in range(n) if sequence_ids[t] == 1 and int(offsets[t][1]) > int(offsets[t][0])]
    rows = np.zeros((len(keep), 4), dtype=np.float64)
    if keep:
        rows[:, :2] = np.asarray(offsets, dtype=np.float64)[keep, :2]
        rows[:, 2:] = np.asarray(logits, dtype=np.float64)[keep, :2]
    return rows


class Reranker(Protocol):
    """A cross-encoder: reads (question, sentence) pairs together and gives per pair a score
    (higher answers better) and the span head's token rows, from one pass (the ONNX and torch
    backends; answering and training see it through this one contract)."""

    def rerank(self, question: str, sentences: Sequence[str]) -> Sequence[PairReading]: ...
