"""What a cross-encoder backend returns per (question, text) pair beside its score: one row
``[char_start, char_end, start_logit, end_logit]`` per token of the text (``token_rows``), and
the rows of the pairs it read lately (``RecentPairs``), so the answer span of a cited sentence
costs no second pass (``rag.answering.span`` decodes them).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

RECENT_PAIRS = 256  # rows remembered per reranker: 32 questions of 8 candidates (~0.5 MB)


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


class RecentPairs:
    """The token rows of the (question, text) pairs a reranker read lately (thread-safe LRU)."""

    def __init__(self, size: int = RECENT_PAIRS) -> None:
        self._size = size
        self._rows: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, question: str, texts: Sequence[str], rows: Sequence[np.ndarray]) -> None:
        with self._lock:
            for text, row in zip(texts, rows, strict=True):
                self._rows[(question, text)] = row
                self._rows.move_to_end((question, text))
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)

    def get(self, question: str, text: str) -> np.ndarray | None:
        with self._lock:
            return self._rows.get((question, text))

    def token_logits(
        self,
        question: str,
        texts: Sequence[str],
        compute: Callable[[str, list[str]], list[np.ndarray]],
    ) -> list[np.ndarray]:
        """Rows for every text: remembered ones, and ``compute(question, missing)`` for the
        others (one call)."""
        found = {t: r for t in texts if (r := self.get(question, t)) is not None}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            rows = compute(question, missing)
            self.put(question, missing, rows)
            found.update(zip(missing, rows, strict=True))
        return [found[t] for t in texts]
