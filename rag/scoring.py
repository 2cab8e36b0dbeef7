"""The scorer: a linear ranking model over sentence features, and a calibrated confidence.

Sentence scores rank candidates (fitted listwise: the correct sentence should win the
softmax over its question's candidates). The confidence that the articles answer the question
is a small logistic model over the best candidate's features; below ``threshold`` we abstain.
Both live in ``rag/data/scorer.json``; ``rag eval --fit`` refits them on tuning data.
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
CONFIDENCE_FEATURES = ("top_score", "margin", "top_lex", "top_lex_ctx", "top_dense",
                       "top_missing_rare", "top_entity")


def confidence_features(features: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Question-level features from the candidates' features and scores."""
    order = np.argsort(-scores)
    top = features[order[0]]
    margin = scores[order[0]] - scores[order[1]] if len(order) > 1 else 1.0
    names = dict(zip(FEATURES, top, strict=True))
    return np.array([scores[order[0]], margin, names["lex"], names["lex_ctx"], names["dense"],
                     names["missing_rare"], names["entity"]])


@dataclass(frozen=True)
class Scorer:
    weights: tuple[float, ...]  # per FEATURES
    confidence_weights: tuple[float, ...]  # per CONFIDENCE_FEATURES
    confidence_bias: float
    threshold: float
    meta: dict[str, Any] = field(default_factory=dict)

    def scores(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features @ np.asarray(self.weights), dtype=np.float64)

    def confidence(self, features: np.ndarray, scores: np.ndarray) -> float:
        if len(scores) == 0:
            return 0.0
        z = confidence_features(features, scores) @ np.asarray(self.confidence_weights)
        return float(1.0 / (1.0 + np.exp(-(z + self.confidence_bias))))

    def to_json(self) -> str:
        return json.dumps({
            "features": dict(zip(FEATURES, self.weights, strict=True)),
            "confidence": {"features": dict(zip(CONFIDENCE_FEATURES, self.confidence_weights,
                                                strict=True)),
                           "bias": self.confidence_bias},
            "threshold": self.threshold, "meta": self.meta}, indent=2)


@lru_cache(maxsize=4)
def load_scorer(path: Path = SCORER_FILE) -> Scorer:
    raw = json.loads(path.read_text("utf-8"))
    conf = raw["confidence"]
    return Scorer(tuple(float(raw["features"].get(f, 0.0)) for f in FEATURES),
                  tuple(float(conf["features"].get(f, 0.0)) for f in CONFIDENCE_FEATURES),
                  float(conf["bias"]), float(raw["threshold"]), raw.get("meta", {}))
