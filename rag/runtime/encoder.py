"""all-MiniLM-L6-v2 on onnxruntime: ``tokenizers`` + an exported graph + numpy pooling.

The graph returns token states; sentence vectors are their attention-masked mean, L2-normalised
(what sentence-transformers does for this model), and ``embed_spans`` pools sentence vectors
from the same token states by character offsets. Small calls (queries) go through a
:class:`MicroBatcher`, so concurrent queries share one forward pass; large ones (ingest) run
batch by batch under the model lock, letting queries in between. Texts are sorted by length
before batching, so a batch pads little.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.models import Span
from rag.runtime.batching import MicroBatcher, run_locked
from rag.runtime.embedding import MODEL_NAME, PROGRESS_MIN, pool_spans

log = logging.getLogger(__name__)

SMALL_CALL = 8  # texts per call at most for the shared micro-batches (queries are 1)
DIMENSION = 384


class TokenCounter:
    """The ``tokenize`` the chunker needs: word pieces without special tokens, untruncated."""

    def __init__(self, tokenizer_file: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def tokenize(self, text: str) -> list[str]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).tokens)


def load_tokenizer(model_dir: Path, max_tokens: int) -> Any:
    """The model's tokenizer, truncating at ``max_tokens`` (longest first for pairs)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()  # padded per batch, in numpy
    tokenizer.enable_truncation(max_tokens, strategy="longest_first")
    return tokenizer


def model_inputs(encodings: Sequence[Any]) -> dict[str, np.ndarray]:
    """``input_ids``, ``attention_mask`` and ``token_type_ids``, right-padded with zeros."""
    width = max(len(e.ids) for e in encodings)
    arrays = {
        name: np.zeros((len(encodings), width), dtype=np.int64)
        for name in ("input_ids", "attention_mask", "token_type_ids")
    }
    for row, e in enumerate(encodings):
        n = len(e.ids)
        arrays["input_ids"][row, :n] = e.ids
        arrays["attention_mask"][row, :n] = e.attention_mask
        arrays["token_type_ids"][row, :n] = e.type_ids
    return arrays


def _normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


class OnnxEmbedder:
    """The ``Embedder`` protocol (plus ``embed_spans`` and ``tokenizer``) on onnxruntime."""

    name = MODEL_NAME  # the same model as the torch embedder: indexes are interchangeable
    dimension = DIMENSION

    def __init__(
        self, session: Any, model_dir: Path, *, batch_size: int = 32, window_s: float = 0.002
    ) -> None:
        self.session = session
        config = json.loads((model_dir / "sentence_bert_config.json").read_text("utf-8"))
        self.max_tokens = int(config.get("max_seq_length", 256))
        self._tokenizer = load_tokenizer(model_dir, self.max_tokens)
        self.tokenizer = TokenCounter(model_dir / "tokenizer.json")
        self.batch_size = batch_size
        self.batcher: MicroBatcher[str, np.ndarray] = MicroBatcher(
            self._vectors, window_s=window_s, max_items=batch_size, name="encoder"
        )

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= SMALL_CALL:
            return np.stack(self.batcher(list(texts)))
        vectors, _ = self._in_batches(texts, None, progress)
        return vectors

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]], *, progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One forward pass: chunk vectors, plus span vectors mean-pooled from token states."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        vectors, span_vectors = self._in_batches(texts, spans, progress)
        return vectors, span_vectors

    def _vectors(self, texts: list[str]) -> list[np.ndarray]:
        vectors, _ = self._forward(self._tokenizer.encode_batch(texts), None)
        return list(vectors)

    def _in_batches(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]] | None, progress: bool
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        span_vectors: list[np.ndarray] = [np.zeros((0, self.dimension), np.float32)] * len(texts)
        starts = range(0, len(order), self.batch_size)
        if progress and len(texts) > PROGRESS_MIN:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches")
        for start in starts:
            rows = order[start : start + self.batch_size]
            batch_spans = None if spans is None else [spans[i] for i in rows]
            got, pooled = run_locked(self._forward, [encodings[i] for i in rows], batch_spans)
            vectors[rows] = got
            for i, p in zip(rows, pooled, strict=False):  # no pooled rows without spans
                span_vectors[i] = p
        return vectors, span_vectors

    def _forward(
        self,
        encodings: Sequence[Any],
        spans: Sequence[Sequence[Span]] | None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        inputs = model_inputs(encodings)
        (tokens,) = self.session.run(["tokens"], inputs)
        mask = inputs["attention_mask"][..., None].astype(np.float32)
        vectors = _normalize((tokens * mask).sum(1) / np.maximum(mask.sum(1), 1e-9))
        if spans is None:
            return vectors, []
        pooled = [
            pool_spans(tokens[i], encodings[i].offsets, spans[i], vectors[i])
            for i in range(len(encodings))
        ]
        return vectors, pooled
