"""The fine-tuned cross-encoder (``rag.runtime.reranking``) on onnxruntime.

The exported graph gives, per (question, sentence) pair, the head's logit and the log-sum-exp
of the span head's start and end logits over the sentence's tokens. A question's score for a
sentence is ``logit + span_weight * evidence``, where the evidence is the log-probability that
the answer starts, plus that it ends, in this sentence rather than in the question's other
candidates: that normalisation is done here in numpy, per question, so pairs from concurrent
questions can share one forward pass (:class:`MicroBatcher`; identical pairs are scored once).
The same pass gives the span head's start and end logits per token, returned as rows with the
tokens' character offsets beside each score (:class:`PairReading`), so the answer span of a
sentence the reranker has scored costs no second pass (``rag.answering.span``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.runtime.batching import MicroBatcher
from rag.runtime.encoder import load_tokenizer, model_inputs
from rag.runtime.pairs import PairReading, token_rows

log = logging.getLogger(__name__)

MAX_PAIR_TOKENS = 128  # as in rag.runtime.reranking: the window the head was trained on
MAX_BATCH_PAIRS = 64  # pairs per forward pass: 8 questions of 8 candidates
OUTPUTS = ("logit", "span_lse", "span_logits")  # what the exported graph gives (export.py)


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
        self.batcher: MicroBatcher[tuple[str, str], tuple[np.ndarray, np.ndarray]] = MicroBatcher(
            self._pairs, window_s=window_s, max_items=MAX_BATCH_PAIRS, name="reranker"
        )

    def rerank(self, question: str, sentences: Sequence[str]) -> tuple[PairReading, ...]:
        """Per sentence, its score and the span head's token rows, from one forward pass."""
        if not sentences:
            return ()
        results = self.batcher([(question, s) for s in sentences])
        rows = np.stack([row for row, _ in results]).astype(np.float64)
        logits, span = rows[:, 0], rows[:, 1:]
        scores = logits
        if self.span_weight:
            evidence = (span - _logsumexp(span, axis=0)).sum(-1)
            scores = logits + self.span_weight * evidence
        return tuple(
            PairReading(text, float(score), tokens)
            for text, score, (_, tokens) in zip(sentences, scores, results, strict=True)
        )

    def _pairs(self, pairs: list[tuple[str, str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per pair ``[logit, start log-sum-exp, end log-sum-exp]`` and its token rows."""
        encodings = self._tokenizer.encode_batch(pairs)
        logit, span, per_token = self.session.run(list(OUTPUTS), model_inputs(encodings))
        rows = np.column_stack([logit, span])
        return [
            (rows[i], token_rows(np.asarray(e.offsets), e.sequence_ids, per_token[i]))
            for i, e in enumerate(encodings)
        ]
