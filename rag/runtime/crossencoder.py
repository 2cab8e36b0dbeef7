"""The fine-tuned cross-encoder (``rag.runtime.reranking``) on onnxruntime.

The exported graph gives, per (question, sentence) pair, the head's logit and the log-sum-exp
of the span head's start and end logits over the sentence's tokens. A question's score for a
sentence is ``logit + span_weight * evidence``, where the evidence is the log-probability that
the answer starts, plus that it ends, in this sentence rather than in the question's other
candidates: that normalisation is done here in numpy, per question, so pairs from concurrent
questions can share one forward pass (:class:`MicroBatcher`; identical pairs are scored once).
The same pass gives the span head's start and end logits per token, kept as rows with the
tokens' character offsets for a while (``rag.answering.span``), so the answer span of a sentence
the reranker has just read costs no second pass.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.runtime.batching import MicroBatcher
from rag.runtime.encoder import load_tokenizer, model_inputs
from rag.runtime.pairs import RecentPairs, token_rows

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
        self.recent = RecentPairs()

    def rerank(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0)
        results = self.batcher([(question, s) for s in sentences])
        self.recent.put(question, list(sentences), [tokens for _, tokens in results])
        rows = np.stack([row for row, _ in results]).astype(np.float64)
        logits, span = rows[:, 0], rows[:, 1:]
        if not self.span_weight:
            return logits
        evidence = (span - _logsumexp(span, axis=0)).sum(-1)
        result: np.ndarray = logits + self.span_weight * evidence
        return result

    def token_logits(self, question: str, texts: Sequence[str]) -> list[np.ndarray]:
        """Per text, the span head's ``[char_start, char_end, start_logit, end_logit]`` rows
        of its tokens (``rag.answering.span``); pairs read by a recent ``rerank`` are not read
        again."""
        return self.recent.token_logits(question, list(texts), self._token_logits)

    def _token_logits(self, question: str, texts: list[str]) -> list[np.ndarray]:
        return [tokens for _, tokens in self.batcher([(question, t) for t in texts])]

    def _pairs(self, pairs: list[tuple[str, str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per pair ``[logit, start log-sum-exp, end log-sum-exp]`` and its token rows."""
        encodings = self._tokenizer.encode_batch(pairs)
        logit, span, per_token = self.session.run(list(OUTPUTS), model_inputs(encodings))
        rows = np.column_stack([logit, span])
        return [
            (rows[i], token_rows(np.asarray(e.offsets), e.sequence_ids, per_token[i]))
            for i, e in enumerate(encodings)
        ]
