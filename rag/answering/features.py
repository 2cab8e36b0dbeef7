"""Question analysis and the features of candidate sentences that the scorer weighs."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from rag.answering.feature_schema import FeatureSchema
from rag.answering.speakers import SpeakerQuestion, parse_speaker_question, speaks
from rag.stores.view import View
from rag.text import content_terms

# The columns the scorer weighs; ``rag/data/scorer.json`` stores its weights under these names
# with the schema's digest (bump the version when a feature changes meaning).
SENTENCE_SCHEMA = FeatureSchema(
    1,
    (
        "dense",
        "chunk_dense",
        "lex",
        "lex_ctx",
        "bigram",
        "entity",
        "rank",
        "speaker",
        "short",
        "missing_rare",
        "proximity",
        "dense_ctx",
        "when_new",
        "number_new",
        "who_new",
        "where_new",
        "dense_top",
        "lex_top",
        "dense_x_lex",
    ),
)
# the feature that fires when a sentence holds a value of the type the question asks for
_KIND_FEATURES = {
    "when": "when_new",
    "how_many": "number_new",
    "who": "who_new",
    "where": "where_new",
}

_DATE = re.compile(
    r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b|\b(?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday|century|centuries|decade|ago)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|"
    r"dozen|half|percent)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+")
_PLACE = re.compile(r"\b(?:in|at|near|from|to)\s+(?:the\s+)?[A-Z][a-z]+")
_KINDS = (
    ("how_many", r"\bhow (many|much|long|old|far|large|big|tall)\b|\bwhat (number|percent)"),
    ("when", r"\bwhen\b|\bwhat year\b|\bwhich year\b|\bwhat date\b|\bwhat century\b|\bwhat time"),
    ("who", r"\bwho\b|\bwhom\b|\bwhose\b"),
    ("where", r"\bwhere\b"),
)


@dataclass(frozen=True)
class Question:
    text: str
    terms: tuple[str, ...]
    kind: str  # when / how_many / who / where / other
    speaker: SpeakerQuestion | None
    weights: dict[str, float] = field(default_factory=dict)  # IDF of each term in this index
    entities: tuple[str, ...] = ()  # capitalised words, as written


def analyse(text: str, data: View) -> Question:
    """Terms with their IDF in this index, the expected answer type, entities, any speaker."""
    terms = tuple(dict.fromkeys(content_terms(text)))
    lowered = text.lower()
    kind = next((k for k, pattern in _KINDS if re.search(pattern, lowered)), "other")
    entities = tuple(dict.fromkeys(re.findall(r"(?<!^)\b[A-Z][\w'-]+", text.strip())))
    return Question(text, terms, kind, parse_speaker_question(text), _idf(terms, data), entities)


def _idf(terms: tuple[str, ...], data: View) -> dict[str, float]:
    n, dfs = data.term_stats(terms)
    if n == 0:
        return dict.fromkeys(terms, 1.0)
    return {t: math.log(1.0 + (n - dfs[t] + 0.5) / (dfs[t] + 0.5)) for t in terms}


def _coverage(q: Question, terms: set[str]) -> float:
    total = sum(q.weights.values())
    return sum(w for t, w in q.weights.items() if t in terms) / total if total else 0.0


def type_new(q: Question, sentence: str) -> float:
    """1 when the sentence holds a value of the expected type that the question lacks."""
    asked = q.text.lower()
    if q.kind in ("when", "how_many"):
        pattern = _DATE if q.kind == "when" else _NUMBER
        return (
            1.0 if any(m.group(0).lower() not in asked for m in pattern.finditer(sentence)) else 0.0
        )
    if q.kind in ("who", "where"):
        pattern = _NAME if q.kind == "who" else _PLACE
        found = {m.group(0).split()[-1] for m in pattern.finditer(sentence)}
        return 1.0 if {f for f in found if f.lower() not in asked} else 0.0
    return 0.5


class _Sentences:
    """The candidates' texts, terms and neighbours, each read from the view once per
    question (the candidates are runs of consecutive sentences: most neighbours are
    candidates too)."""

    def __init__(self, data: View) -> None:
        self.data = data
        self._text: dict[int, str] = {}
        self._terms: dict[int, list[str]] = {}

    def text(self, row: int) -> str:
        if row not in self._text:
            self._text[row] = self.data.sentence_text(row)
        return self._text[row]

    def terms(self, row: int) -> list[str]:
        if row not in self._terms:
            self._terms[row] = content_terms(self.text(row))
        return self._terms[row]

    def neighbours(self, row: int) -> list[int]:
        data = self.data
        return [other for step in (-1, 1) if (other := data.neighbour(row, step)) is not None]


def sentence_features(
    q: Question,
    data: View,
    rows: list[int],
    chunk_rank: dict[int, int],
    chunk_dense: dict[int, float],
    sentence_dense: np.ndarray,
) -> np.ndarray:
    """One row of ``SENTENCE_SCHEMA`` per candidate sentence row."""
    out = np.zeros((len(rows), len(SENTENCE_SCHEMA)), dtype=np.float64)
    if len(rows) == 0:
        return out
    bigrams = set(zip(q.terms, q.terms[1:], strict=False))
    top_idf = max(q.weights.values(), default=0.0)
    rare = [t for t, w in q.weights.items() if w >= top_idf * 0.8]
    sentences = _Sentences(data)
    asked = set(q.weights)
    table, nears = [], [sentences.neighbours(row) for row in rows]
    for row, near in zip(rows, nears, strict=True):
        text, terms = sentences.text(row), sentences.terms(row)
        own = set(terms)
        context = own.union(*(sentences.terms(r) for r in near))
        # a question bigram needs two of the question's terms in the sentence
        pairs = bigrams if len(asked & own) >= 2 else set()
        table.append(
            (
                _coverage(q, own),
                _coverage(q, context),
                len(pairs & set(zip(terms, terms[1:], strict=False))) / len(bigrams)
                if pairs
                else 0.0,
                _entity(q, text, [sentences.text(r) for r in near]),
                speaker_score(q, data, row, text),
                1.0 if len(terms) < 4 else 0.0,
                sum(1 for t in rare if t not in context) / len(rare) if rare else 0.0,
                _proximity(q, terms),
            )
        )
    values = np.array(table, dtype=np.float64)
    col = SENTENCE_SCHEMA.column
    out[:, [col(name) for name in _ROW_COLUMNS]] = values
    out[:, col("dense")] = sentence_dense
    out[:, col("chunk_dense")] = [chunk_dense[row] for row in rows]
    out[:, col("rank")] = [1.0 / (1.0 + chunk_rank[row]) for row in rows]
    out[:, col("dense_ctx")] = _context_dense(rows, nears, sentence_dense)
    kind_feature = _KIND_FEATURES.get(q.kind)
    if kind_feature is not None:
        out[:, col(kind_feature)] = [type_new(q, sentences.text(row)) for row in rows]
    dense, lex = out[:, col("dense")], out[:, col("lex")]
    out[:, col("dense_top")] = dense >= dense.max() - 1e-9
    out[:, col("lex_top")] = lex >= lex.max() - 1e-9
    out[:, col("dense_x_lex")] = dense * lex
    return out


# the features computed sentence by sentence, in the order ``sentence_features`` fills them
_ROW_COLUMNS = (
    "lex",
    "lex_ctx",
    "bigram",
    "entity",
    "speaker",
    "short",
    "missing_rare",
    "proximity",
)


def _entity(q: Question, text: str, around: list[str]) -> float:
    """The share of the question's entities written in the sentence or its neighbours."""
    if not q.entities:
        return 0.5
    return sum(1 for e in q.entities if e in text or any(e in a for a in around)) / len(q.entities)


def _proximity(q: Question, terms: list[str]) -> float:
    """How tightly the question's terms cluster in the sentence (matched / window length)."""
    positions = [i for i, t in enumerate(terms) if t in q.weights]
    if len(positions) < 2:
        return 0.0
    return len(positions) / (positions[-1] - positions[0] + 1)


def _context_dense(rows: list[int], nears: list[list[int]], dense: np.ndarray) -> np.ndarray:
    """Similarity of each sentence averaged with its neighbours (``nears``, in article order)
    that are candidates too."""
    out = np.array(dense, dtype=np.float64)
    by_row = dict(zip(rows, out.tolist(), strict=True))
    for i, (row, near) in enumerate(zip(rows, nears, strict=True)):
        values = [by_row[row], *(by_row[other] for other in near if other in by_row)]
        out[i] = sum(values) / len(values)
    return out


def speaker_score(q: Question, data: View, row: int, text: str) -> float:
    if q.speaker is None:
        return 0.0
    previous: list[str] = []
    prev = data.neighbour(row, -1)
    while prev is not None and len(previous) < 4:
        previous.insert(0, data.sentence_text(prev))
        prev = data.neighbour(prev, -1)
    return speaks(text, previous, q.speaker)


def sentence_text(data: View, row: int) -> str:
    return data.sentence_text(row)
