"""The scorer: a linear ranking model over sentence features, and a calibrated confidence.

Contract: ``Scorer.scores`` ranks a question's candidate sentences (rows of
``features.SENTENCE_SCHEMA``); ``Scorer.confidence`` is the probability that the articles
answer the question, and answers abstain below ``threshold``.

Design. Sentence scores are linear (fitted listwise: the correct sentence should win the
softmax over its question's candidates). When the cross-encoder reranker is on and the linear
scorer is unsure (its two best candidates within ``rerank.skip_margin``), the reranker reads
the ``rerank.depth`` best candidates and their score becomes ``linear + weight * logit``. The
confidence is a small logistic model over question-level features of the best candidates
(``CONFIDENCE_SCHEMA``, plus their reranker logits when it ran: ``RERANK_CONFIDENCE_SCHEMA``);
each model's bias is shifted so that its fitted cut-off is ``threshold`` (0.5).

Everything lives in one JSON file (``Settings.scorer_path``; the shipped one is
``rag/data/scorer.json``, made by ``rag train``). Weights are stored by feature name, with each
schema's digest under ``"schema"``; loading refuses a file whose names or digests differ from
the schemas this code computes (``ModelFileError``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.feature_schema import FeatureSchema, reading_fitted
from rag.answering.features import SENTENCE_SCHEMA
from rag.errors import ModelFileError
from rag.settings import SHIPPED_SCORER

SCORER_FILE = SHIPPED_SCORER  # the shipped file, the default of Settings.scorer_path
# question-level features: the best candidate, then the best five and the whole pool
CONFIDENCE_SCHEMA = FeatureSchema(
    1,
    (
        "top_score",
        "margin",
        "top_lex",
        "top_lex_ctx",
        "top_dense",
        "top_missing_rare",
        "top_entity",
        "top_vs_top5",
        "max_lex",
        "max_dense",
        "max_lex_ctx",
        "top5_articles",
        "top5_missing_rare",
        "max_chunk_dense",
        "max_entity",
    ),
)
# the same, with the reranker's logit of the best candidate and its best logit
RERANK_CONFIDENCE_SCHEMA = FeatureSchema(1, (*CONFIDENCE_SCHEMA.names, "top_cross", "max_cross"))
CONFIDENCE_FEATURES = CONFIDENCE_SCHEMA.names
RERANK_CONFIDENCE_FEATURES = RERANK_CONFIDENCE_SCHEMA.names
ONLY_CANDIDATE_MARGIN = 1.0  # the margin of a question with one candidate: clearly ahead


def confidence_features(
    features: np.ndarray, scores: np.ndarray, articles: np.ndarray, cross: np.ndarray | None = None
) -> np.ndarray:
    """Question-level features (a row of ``CONFIDENCE_SCHEMA``, or of
    ``RERANK_CONFIDENCE_SCHEMA`` with ``cross``) from the candidates' features, scores,
    articles (one id per candidate) and reranker logits."""
    order = np.argsort(-scores, kind="stable")
    top, best5 = order[0], order[:5]

    def col(name: str) -> np.ndarray:
        return np.asarray(features[:, SENTENCE_SCHEMA.column(name)])

    values = {
        "top_score": scores[top],
        "margin": scores[top] - scores[order[1]] if len(order) > 1 else ONLY_CANDIDATE_MARGIN,
        "top_lex": col("lex")[top],
        "top_lex_ctx": col("lex_ctx")[top],
        "top_dense": col("dense")[top],
        "top_missing_rare": col("missing_rare")[top],
        "top_entity": col("entity")[top],
        "top_vs_top5": scores[top] - scores[best5].mean(),
        "max_lex": col("lex").max(),
        "max_dense": col("dense").max(),
        "max_lex_ctx": col("lex_ctx").max(),
        "top5_articles": len(set(articles[best5].tolist())),
        "top5_missing_rare": col("missing_rare")[best5].min(),
        "max_chunk_dense": col("chunk_dense").max(),
        "max_entity": col("entity").max(),
    }
    if cross is None:
        return CONFIDENCE_SCHEMA.vector(values)
    return RERANK_CONFIDENCE_SCHEMA.vector(
        {**values, "top_cross": cross[top], "max_cross": cross.max()}
    )


@dataclass(frozen=True)
class Logistic:
    """A logistic model over one schema's features (weights in column order)."""

    weights: tuple[float, ...]
    bias: float

    def __call__(self, x: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-(x @ np.asarray(self.weights) + self.bias))))

    def shifted(self, cut_off: float, to: float = 0.5) -> Logistic:
        """The same model with its bias moved so that ``cut_off`` becomes ``to``."""

        def logit(p: float) -> float:
            p = min(max(p, 1e-9), 1 - 1e-9)
            return float(np.log(p / (1 - p)))

        return Logistic(self.weights, self.bias - logit(cut_off) + logit(to))

    def to_dict(self, schema: FeatureSchema) -> dict[str, Any]:
        return {"features": schema.named(self.weights), "bias": self.bias}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], schema: FeatureSchema) -> Logistic:
        return cls(schema.ordered(raw["features"]), float(raw["bias"]))


@dataclass(frozen=True)
class RerankBlend:
    """How reranker logits join the linear scores, and the confidence model that uses them."""

    depth: int  # the best candidates by linear score that the reranker reads
    weight: float  # score = linear + weight * logit
    skip_margin: float  # no rereading when the best linear score leads by at least this
    confidence: Logistic  # over RERANK_CONFIDENCE_SCHEMA

    def wanted(self, scores: np.ndarray) -> bool:
        """Whether the linear scorer is unsure enough to ask the reranker."""
        if len(scores) < 2:
            return False
        first, second = np.sort(scores)[-2:][::-1]
        return bool(first - second < self.skip_margin)

    def to_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "weight": self.weight,
            "skip_margin": self.skip_margin,
            "confidence": self.confidence.to_dict(RERANK_CONFIDENCE_SCHEMA),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RerankBlend:
        return cls(
            int(raw["depth"]),
            float(raw["weight"]),
            float(raw["skip_margin"]),
            Logistic.from_dict(raw["confidence"], RERANK_CONFIDENCE_SCHEMA),
        )


@dataclass(frozen=True)
class Scorer:
    """Sentence weights, the confidence models and the cut-off; ``meta`` says how it was fitted."""

    weights: tuple[float, ...]  # in SENTENCE_SCHEMA's column order
    confidence_model: Logistic  # over CONFIDENCE_SCHEMA, used when the reranker did not run
    threshold: float  # answer when the confidence reaches it (both models are shifted to it)
    rerank: RerankBlend | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def scores(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features @ np.asarray(self.weights), dtype=np.float64)

    def confidence(
        self,
        features: np.ndarray,
        scores: np.ndarray,
        articles: np.ndarray,
        cross: np.ndarray | None = None,
    ) -> float:
        if len(scores) == 0:
            return 0.0
        x = confidence_features(features, scores, articles, cross)
        if cross is not None and self.rerank is not None:
            return self.rerank.confidence(x)
        return self.confidence_model(x)

    def to_json(self) -> str:
        return json.dumps(
            {
                "schema": schema_digests(),
                "features": SENTENCE_SCHEMA.named(self.weights),
                "confidence": self.confidence_model.to_dict(CONFIDENCE_SCHEMA),
                "threshold": self.threshold,
                "rerank": self.rerank.to_dict() if self.rerank else None,
                "meta": self.meta,
            },
            indent=2,
        )


def schema_digests() -> dict[str, str]:
    """The digest of each schema a scorer file's weights are keyed by."""
    return {
        "features": SENTENCE_SCHEMA.digest,
        "confidence": CONFIDENCE_SCHEMA.digest,
        "rerank_confidence": RERANK_CONFIDENCE_SCHEMA.digest,
    }


@lru_cache(maxsize=4)
def load_scorer(path: Path = SCORER_FILE) -> Scorer:
    """The scorer in ``path``; a ``ModelFileError`` (one line) when it cannot be read or was
    fitted for other feature names than this code computes."""
    fix = "retrain with `rag train DATASET --out DIR` and set RAG_SCORER_PATH"
    with reading_fitted("scorer", path, fix):
        raw = json.loads(Path(path).read_text("utf-8"))
        found = raw.get("schema") or {}
        stale = [name for name, digest in schema_digests().items() if found.get(name) != digest]
        scorer = Scorer(
            SENTENCE_SCHEMA.ordered(raw["features"]),
            Logistic.from_dict(raw["confidence"], CONFIDENCE_SCHEMA),
            float(raw["threshold"]),
            RerankBlend.from_dict(raw["rerank"]) if raw.get("rerank") else None,
            raw.get("meta", {}),
        )
    if stale:
        raise ModelFileError(
            f"the scorer file {path} was fitted for another feature schema "
            f"({', '.join(stale)}: digest differs); {fix}"
        )
    return scorer
