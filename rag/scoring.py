"""Scoring candidate sentences against a question: features and a small logistic model.

The weights live in ``rag/data/scorer.json``; ``rag eval --fit`` refits them on tuning data.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.speakers import SpeakerQuestion, parse_speaker_question, speaks
from rag.store import IndexData
from rag.text import content_terms

FEATURES = ("dense", "chunk_dense", "lex", "lex_ctx", "bigram", "type_match", "novel",
            "rank", "speaker", "short", "missing_rare")
SCORER_FILE = Path(__file__).parent / "data" / "scorer.json"

_YEAR_OR_DATE = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})\b|\b(January|February|March|April|May|June|July|August|"
    r"September|October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday|century|decade|year|years|ago)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|"
                     r"eleven|twelve|twenty|thirty|hundred|thousand|million|billion|dozen)\b",
                     re.IGNORECASE)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
_PLACE = re.compile(r"\b(?:in|at|near|from|to)\s+(?:the\s+)?[A-Z][a-z]+")


@dataclass(frozen=True)
class Question:
    text: str
    terms: tuple[str, ...]
    kind: str  # when / how_many / who / where / other
    speaker: SpeakerQuestion | None
    weights: dict[str, float] = field(default_factory=dict)  # idf of each term


def analyse(text: str, data: IndexData) -> Question:
    """Terms with their IDF in this index, the expected answer type, and any speaker."""
    terms = tuple(dict.fromkeys(content_terms(text)))
    lowered = text.lower()
    if re.search(r"\bhow (many|much|long|old|far|large|big|tall)\b|\bwhat (number|percent)", lowered):
        kind = "how_many"
    elif re.search(r"\bwhen\b|\bwhat year\b|\bwhich year\b|\bwhat date\b|\bwhat century\b", lowered):
        kind = "when"
    elif re.search(r"\bwho\b|\bwhom\b|\bwhose\b", lowered):
        kind = "who"
    elif re.search(r"\bwhere\b", lowered):
        kind = "where"
    else:
        kind = "other"
    return Question(text, terms, kind, parse_speaker_question(text), _idf(terms, data))


def _idf(terms: tuple[str, ...], data: IndexData) -> dict[str, float]:
    if data.bm25 is None:
        return {t: 1.0 for t in terms}
    vocab = data.bm25.vocab_dict
    indptr = data.bm25.scores["indptr"]
    n = float(data.bm25.scores["num_docs"])
    out = {}
    for t in terms:
        df = float(indptr[vocab[t] + 1] - indptr[vocab[t]]) if t in vocab else 0.0
        out[t] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
    return out


def _coverage(q: Question, terms: set[str]) -> float:
    total = sum(q.weights.values())
    return sum(w for t, w in q.weights.items() if t in terms) / total if total else 0.0


def _type_match(kind: str, sentence: str, question: str) -> float:
    if kind == "when":
        return 1.0 if _YEAR_OR_DATE.search(sentence) else 0.0
    if kind == "how_many":
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if kind in ("who", "where"):
        asked = set(re.findall(r"[A-Z][a-z]+", question))
        pattern = _NAME if kind == "who" else _PLACE
        found = {m.group(0).split()[-1] for m in pattern.finditer(sentence)}
        return 1.0 if found - asked else 0.0
    return 0.5


def sentence_features(
    q: Question, data: IndexData, rows: list[int], chunk_rank: dict[int, int],
    chunk_dense: dict[int, float], sentence_dense: np.ndarray,
) -> np.ndarray:
    """One row of ``FEATURES`` per candidate sentence row."""
    out = np.zeros((len(rows), len(FEATURES)), dtype=np.float64)
    bigrams = set(zip(q.terms, q.terms[1:], strict=False))
    rare = [t for t, w in q.weights.items() if w >= max(q.weights.values(), default=0) * 0.8]
    for i, row in enumerate(rows):
        text = sentence_text(data, row)
        terms = content_terms(text)
        own = set(terms)
        context = own | set(content_terms(_neighbours(data, row)))
        novel = [t for t in terms if t not in q.weights]
        out[i] = (
            float(sentence_dense[i]),
            chunk_dense[row],
            _coverage(q, own),
            _coverage(q, context),
            len(bigrams & set(zip(terms, terms[1:], strict=False))) / len(bigrams)
            if bigrams else 0.0,
            _type_match(q.kind, text, q.text),
            min(len(novel) / 10.0, 1.0),
            1.0 / (1.0 + chunk_rank[row]),
            speaker_score(q, data, row, text),
            1.0 if len(terms) < 4 else 0.0,
            sum(1 for t in rare if t not in context) / len(rare) if rare else 0.0,
        )
    return out


def speaker_score(q: Question, data: IndexData, row: int, text: str) -> float:
    if q.speaker is None:
        return 0.0
    previous = []
    prev = row - 1
    while prev >= 0 and data.sent_doc[prev] == data.sent_doc[row] and len(previous) < 4:
        previous.insert(0, sentence_text(data, prev))
        prev -= 1
    return speaks(text, previous, q.speaker)


def sentence_text(data: IndexData, row: int) -> str:
    article = data.articles[int(data.sent_doc[row])]
    return article.text[int(data.sent_start[row]) : int(data.sent_end[row])]


def _neighbours(data: IndexData, row: int) -> str:
    parts = []
    for other in (row - 1, row + 1):
        if 0 <= other < len(data.sent_doc) and data.sent_doc[other] == data.sent_doc[row]:
            parts.append(sentence_text(data, other))
    return " ".join(parts)


@dataclass(frozen=True)
class Scorer:
    """Logistic model over ``FEATURES``; ``threshold`` is the fitted abstention cut-off."""

    weights: tuple[float, ...]
    bias: float
    threshold: float
    meta: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = features @ np.asarray(self.weights) + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def to_json(self) -> str:
        return json.dumps({"features": FEATURES, "weights": self.weights, "bias": self.bias,
                           "threshold": self.threshold, "meta": self.meta}, indent=2)


@lru_cache(maxsize=4)
def load_scorer(path: Path = SCORER_FILE) -> Scorer:
    raw = json.loads(path.read_text("utf-8"))
    by_name = dict(zip(raw["features"], raw["weights"], strict=True))
    return Scorer(tuple(float(by_name.get(f, 0.0)) for f in FEATURES), float(raw["bias"]),
                  float(raw["threshold"]), raw.get("meta", {}))
