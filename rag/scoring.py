"""The scorer: a linear ranking model over sentence features, and a calibrated confidence.

Sentence scores rank candidates (fitted listwise: the correct sentence should win the
softmax over its question's candidates). When the cross-encoder reranker is on and the linear
scorer is unsure (its two best candidates within ``rerank.skip_margin``), the reranker reads
the ``rerank.depth`` best candidates and their score becomes ``linear + weight * logit``.
The confidence that the articles answer the question is a small logistic model over the best
candidates' features (and their reranker logits when it ran); each model's bias is shifted so
that its fitted cut-off is ``threshold`` (0.5), and below it we abstain.
All of it lives in ``rag/data/scorer.json``; ``rag eval --fit`` refits it on tuning data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.features import FEATURES

SCORER_FILE = Path(__file__).parent / "data" / "scorer.json"
CONFIDENCE_FEATURES = (
    "top_score", "margin", "top_lex", "top_lex_ctx", "top_dense", "top_missing_rare",
    "top_entity",  # the best candidate
    "top_vs_top5", "max_lex", "max_dense", "max_lex_ctx", "top5_articles",
    "top5_missing_rare", "max_chunk_dense", "max_entity",  # the best few and the whole pool
)
RERANK_CONFIDENCE_FEATURES = (*CONFIDENCE_FEATURES, "top_cross", "max_cross")
_COLUMN = {name: i for i, name in enumerate(FEATURES)}


def confidence_features(features: np.ndarray, scores: np.ndarray, articles: np.ndarray,
                        cross: np.ndarray | None = None) -> np.ndarray:
    """Question-level features from the candidates' features, scores, articles (one id per
    candidate) and reranker logits."""
    order = np.argsort(-scores, kind="stable")
    top, best5 = features[order[0]], order[:5]
    margin = scores[order[0]] - scores[order[1]] if len(order) > 1 else 1.0

    def col(name: str) -> np.ndarray:
        return np.asarray(features[:, _COLUMN[name]])

    values = [scores[order[0]], margin, top[_COLUMN["lex"]], top[_COLUMN["lex_ctx"]],
              top[_COLUMN["dense"]], top[_COLUMN["missing_rare"]], top[_COLUMN["entity"]],
              scores[order[0]] - scores[best5].mean(), col("lex").max(), col("dense").max(),
              col("lex_ctx").max(), len(set(articles[best5].tolist())),
              col("missing_rare")[best5].min(), col("chunk_dense").max(), col("entity").max()]
    if cross is not None:
        values += [cross[order[0]], cross.max()]
    return np.array(values, dtype=np.float64)


@dataclass(frozen=True)
class Logistic:
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

    def to_dict(self, names: tuple[str, ...]) -> dict[str, Any]:
        return {"features": dict(zip(names, self.weights, strict=True)), "bias": self.bias}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], names: tuple[str, ...]) -> Logistic:
        return cls(tuple(float(raw["features"].get(f, 0.0)) for f in names), float(raw["bias"]))


@dataclass(frozen=True)
class RerankBlend:
    """How reranker logits join the linear scores, and the confidence model that uses them."""

    depth: int  # the best candidates by linear score that the reranker reads
    weight: float  # score = linear + weight * logit
    skip_margin: float  # no rereading when the best linear score leads by at least this
    confidence: Logistic  # over RERANK_CONFIDENCE_FEATURES

    def wanted(self, scores: np.ndarray) -> bool:
        """Whether the linear scorer is unsure enough to ask the reranker."""
        if len(scores) < 2:
            return False
        first, second = np.sort(scores)[-2:][::-1]
        return bool(first - second < self.skip_margin)

    def to_dict(self) -> dict[str, Any]:
        return {"depth": self.depth, "weight": self.weight, "skip_margin": self.skip_margin,
                "confidence": self.confidence.to_dict(RERANK_CONFIDENCE_FEATURES)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RerankBlend:
        return cls(int(raw["depth"]), float(raw["weight"]), float(raw["skip_margin"]),
                   Logistic.from_dict(raw["confidence"], RERANK_CONFIDENCE_FEATURES))


@dataclass(frozen=True)
class Scorer:
    weights: tuple[float, ...]  # per FEATURES
    confidence_model: Logistic  # over CONFIDENCE_FEATURES, used when the reranker did not run
    threshold: float  # answer when the confidence reaches it (both models are shifted to it)
    rerank: RerankBlend | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def scores(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features @ np.asarray(self.weights), dtype=np.float64)

    def confidence(self, features: np.ndarray, scores: np.ndarray, articles: np.ndarray,
                   cross: np.ndarray | None = None) -> float:
        if len(scores) == 0:
            return 0.0
        x = confidence_features(features, scores, articles, cross)
        if cross is not None and self.rerank is not None:
            return self.rerank.confidence(x)
        return self.confidence_model(x)

    def to_json(self) -> str:
        return json.dumps({
            "features": dict(zip(FEATURES, self.weights, strict=True)),
            "confidence": self.confidence_model.to_dict(CONFIDENCE_FEATURES),
            "threshold": self.threshold,
            "rerank": self.rerank.to_dict() if self.rerank else None,
            "meta": self.meta}, indent=2)


@lru_cache(maxsize=4)
def load_scorer(path: Path = SCORER_FILE) -> Scorer:
    raw = json.loads(path.read_text("utf-8"))
    return Scorer(tuple(float(raw["features"].get(f, 0.0)) for f in FEATURES),
                  Logistic.from_dict(raw["confidence"], CONFIDENCE_FEATURES),
                  float(raw["threshold"]),
                  RerankBlend.from_dict(raw["rerank"]) if raw.get("rerank") else None,
                  raw.get("meta", {}))
