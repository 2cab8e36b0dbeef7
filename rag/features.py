"""Question analysis and the features of candidate sentences that the scorer weighs."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from rag.speakers import SpeakerQuestion, parse_speaker_question, speaks
from rag.store import IndexData
from rag.text import content_terms

FEATURES = ("dense", "chunk_dense", "lex", "lex_ctx", "bigram", "entity", "rank", "speaker",
            "short", "missing_rare", "proximity", "dense_ctx", "when_new", "number_new",
            "who_new", "where_new", "dense_top", "lex_top", "dense_x_lex")
_KIND_COLUMNS = {"when": 12, "how_many": 13, "who": 14, "where": 15}
# Tried and not kept: the number of the sentence's content words the question lacks (a
# sentence that only restates the question has none) and a cause cue ("because", "due to")
# for "why" questions; refitted on the fit half's train part, blend-part accuracy@1 0.758 ->
# 0.752 alone, 0.852 -> 0.852 with the reranker.

_DATE = re.compile(
    r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b|\b(?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday|century|centuries|decade|ago)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
                     r"eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|"
                     r"dozen|half|percent)\b", re.IGNORECASE)
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


def analyse(text: str, data: IndexData) -> Question:
    """Terms with their IDF in this index, the expected answer type, entities, any speaker."""
    terms = tuple(dict.fromkeys(content_terms(text)))
    lowered = text.lower()
    kind = next((k for k, pattern in _KINDS if re.search(pattern, lowered)), "other")
    entities = tuple(dict.fromkeys(re.findall(r"(?<!^)\b[A-Z][\w'-]+", text.strip())))
    return Question(text, terms, kind, parse_speaker_question(text), _idf(terms, data),
                    entities)


def _idf(terms: tuple[str, ...], data: IndexData) -> dict[str, float]:
    if data.bm25 is None:
        return dict.fromkeys(terms, 1.0)
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


def _type_new(q: Question, sentence: str) -> float:
    """1 when the sentence holds a value of the expected type that the question lacks."""
    asked = q.text.lower()
    if q.kind in ("when", "how_many"):
        pattern = _DATE if q.kind == "when" else _NUMBER
        return 1.0 if any(m.group(0).lower() not in asked for m in pattern.finditer(sentence)) \
            else 0.0
    if q.kind in ("who", "where"):
        pattern = _NAME if q.kind == "who" else _PLACE
        found = {m.group(0).split()[-1] for m in pattern.finditer(sentence)}
        return 1.0 if {f for f in found if f.lower() not in asked} else 0.0
    return 0.5


def sentence_features(
    q: Question, data: IndexData, rows: list[int], chunk_rank: dict[int, int],
    chunk_dense: dict[int, float], sentence_dense: np.ndarray,
) -> np.ndarray:
    """One row of ``FEATURES`` per candidate sentence row."""
    out = np.zeros((len(rows), len(FEATURES)), dtype=np.float64)
    bigrams = set(zip(q.terms, q.terms[1:], strict=False))
    top_idf = max(q.weights.values(), default=0.0)
    rare = [t for t, w in q.weights.items() if w >= top_idf * 0.8]
    ctx_dense = _context_dense(data, rows, sentence_dense)
    kind_column = _KIND_COLUMNS.get(q.kind)
    for i, row in enumerate(rows):
        text = sentence_text(data, row)
        terms = content_terms(text)
        around = _neighbours(data, row)
        context = set(terms).union(*(content_terms(sentence_text(data, r))
                                     for r in _neighbour_rows(data, row)))
        out[i, :12] = (
            float(sentence_dense[i]),
            chunk_dense[row],
            _coverage(q, set(terms)),
            _coverage(q, context),
            len(bigrams & set(zip(terms, terms[1:], strict=False))) / len(bigrams)
            if bigrams else 0.0,
            sum(1 for e in q.entities if e in text or e in around) / len(q.entities)
            if q.entities else 0.5,
            1.0 / (1.0 + chunk_rank[row]),
            speaker_score(q, data, row, text),
            1.0 if len(terms) < 4 else 0.0,
            sum(1 for t in rare if t not in context) / len(rare) if rare else 0.0,
            _proximity(q, terms),
            ctx_dense[i],
        )
        if kind_column is not None:
            out[i, kind_column] = _type_new(q, text)
    if len(rows):
        out[:, 16] = out[:, 0] >= out[:, 0].max() - 1e-9
        out[:, 17] = out[:, 2] >= out[:, 2].max() - 1e-9
        out[:, 18] = out[:, 0] * out[:, 2]
    return out


def _proximity(q: Question, terms: list[str]) -> float:
    """How tightly the question's terms cluster in the sentence (matched / window length)."""
    positions = [i for i, t in enumerate(terms) if t in q.weights]
    if len(positions) < 2:
        return 0.0
    return len(positions) / (positions[-1] - positions[0] + 1)


def _context_dense(data: IndexData, rows: list[int], dense: np.ndarray) -> np.ndarray:
    """Similarity of each sentence averaged with its neighbours in the same article."""
    out = np.array(dense, dtype=np.float64)
    by_row = dict(zip(rows, out.tolist(), strict=True))
    for i, row in enumerate(rows):
        values = [by_row[row]]
        for other in (row - 1, row + 1):
            if other in by_row and data.sent_doc[other] == data.sent_doc[row]:
                values.append(by_row[other])
        out[i] = sum(values) / len(values)
    return out


def speaker_score(q: Question, data: IndexData, row: int, text: str) -> float:
    if q.speaker is None:
        return 0.0
    previous: list[str] = []
    prev = row - 1
    while prev >= 0 and data.sent_doc[prev] == data.sent_doc[row] and len(previous) < 4:
        previous.insert(0, sentence_text(data, prev))
        prev -= 1
    return speaks(text, previous, q.speaker)


def sentence_text(data: IndexData, row: int) -> str:
    article = data.articles[int(data.sent_doc[row])]
    return article.text[int(data.sent_start[row]) : int(data.sent_end[row])]


def _neighbour_rows(data: IndexData, row: int) -> list[int]:
    return [other for other in (row - 1, row + 1)
            if 0 <= other < len(data.sent_doc) and data.sent_doc[other] == data.sent_doc[row]]


def _neighbours(data: IndexData, row: int) -> str:
    return " ".join(sentence_text(data, other) for other in _neighbour_rows(data, row))
