"""The fine-tuned cross-encoder (``rag.reranking``) on onnxruntime.

The exported graph gives, per (question, sentence) pair, the head's logit and the log-sum-exp
of the span head's start and end logits over the sentence's tokens. A question's score for a
sentence is ``logit + span_weight * evidence``, where the evidence is the log-probability that
the answer starts, plus that it ends, in this sentence rather than in the question's other
candidates: that normalisation is done here in numpy, per question, so pairs from concurrent
questions can share one forward pass (:class:`MicroBatcher`; identical pairs are scored once).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.runtime.batching import MicroBatcher
from rag.runtime.encoder import load_tokenizer, model_inputs

log = logging.getLogger(__name__)

MAX_PAIR_TOKENS = 128  # as in rag.reranking: the window the head was trained on
MAX_BATCH_PAIRS = 64  # pairs per forward pass: 8 questions of 8 candidates


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.exp(x - top).sum(axis=axis))


class OnnxReranker:
    """Scores (question, sentence) pairs: a logit, higher means "answers the question"."""

    def __init__(self, session: Any, model_dir: Path, *, window_s: float = 0.002) -> None:
        self.session = session
        meta = session.get_modelmeta().custom_metadata_map
        self.span_weight = float(meta.get("span_weight", "0"))
        self._tokenizer = load_tokenizer(model_dir, MAX_PAIR_TOKENS)
        self.batcher: MicroBatcher[tuple[str, str], np.ndarray] = MicroBatcher(
            self._pairs, window_s=window_s, max_items=MAX_BATCH_PAIRS, name="reranker"
        )

    def rerank(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0)
        rows = np.stack(self.batcher([(question, s) for s in sentences])).astype(np.float64)
        logits, span = rows[:, 0], rows[:, 1:]
        if not self.span_weight:
            return logits
        evidence = (span - _logsumexp(span, axis=0)).sum(-1)
        result: np.ndarray = logits + self.span_weight * evidence
        return result

    def _pairs(self, pairs: list[tuple[str, str]]) -> list[np.ndarray]:
        """Per pair ``[logit, start log-sum-exp, end log-sum-exp]``."""
        encodings = self._tokenizer.encode_batch(pairs)
        logit, span = self.session.run(["logit", "span_lse"], model_inputs(encodings))
        return list(np.column_stack([logit, span]))
