"""Fitting the sentence scorer's weights and abstention threshold on the 'fit' half."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rag.answering import POOL_DEPTH, candidate_rows
from rag.engine import Engine
from rag.evaluation.datasets import EvalItem, EvalSet, split_of
from rag.evaluation.metrics import percentile, quote_contains_answer
from rag.retrieval import retrieve
from rag.scoring import SCORER_FILE, Scorer, analyse, load_scorer, sentence_features, sentence_text

TARGET_ANSWER_RATE = 0.96  # leave a margin over the 95% target for the report half


def _features(engine: Engine, item: EvalItem) -> tuple[np.ndarray, np.ndarray]:
    data = engine.snapshot()
    vector = engine.embedder.embed([item.question])[0]
    ranked = retrieve(data, item.question, vector, POOL_DEPTH)
    rows, rank, dense = candidate_rows(data, ranked)
    if not rows:
        return np.zeros((0, 0)), np.zeros(0)
    sims = np.asarray(data.sentence_vectors[rows], dtype=np.float32) @ vector
    x = sentence_features(analyse(item.question, data), data, rows, rank, dense, sims)
    y = np.array([
        item.in_corpus and data.articles[int(data.sent_doc[r])].doc_id == item.doc_id
        and quote_contains_answer(sentence_text(data, r), item.answers) for r in rows
    ], dtype=float)
    return x, y


def fit_scorer(engine: Engine, evalset: EvalSet, out: Path = SCORER_FILE) -> str:
    """Fit logistic weights on candidate sentences, pick the threshold, write ``out``."""
    from sklearn.linear_model import LogisticRegression

    items = [i for i in evalset.items if split_of(i.qid) == "fit"]
    xs, ys, groups = [], [], []
    for item in tqdm(items, desc="features", file=sys.stderr):
        x, y = _features(engine, item)
        if len(y):
            xs.append(x)
            ys.append(y)
            groups.append((item.in_corpus, len(y)))
    x_all, y_all = np.vstack(xs), np.concatenate(ys)
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight=None).fit(x_all, y_all)
    weights = tuple(float(w) for w in model.coef_[0])
    bias = float(model.intercept_[0])
    draft = Scorer(weights, bias, 0.0)
    inside, outside = [], []
    for (in_corpus, _), x in zip(groups, xs, strict=True):
        (inside if in_corpus else outside).append(float(draft.probabilities(x).max()))
    threshold = percentile(inside, (1 - TARGET_ANSWER_RATE) * 100)
    far = sum(1 for c in outside if c >= threshold) / len(outside) if outside else 0.0
    scorer = Scorer(weights, bias, round(threshold, 4), {
        "fitted_on": f"{evalset.name}, 'fit' half of the questions ({len(items)} questions, "
                     f"{len(y_all)} candidate sentences)",
        "fit_answer_rate": TARGET_ANSWER_RATE, "fit_false_answer_rate": round(far, 4)})
    out.write_text(scorer.to_json() + "\n", "utf-8")
    load_scorer.cache_clear()
    engine.scorer = load_scorer(out)
    return (f"fitted scorer on {len(items)} questions: threshold {threshold:.3f}, "
            f"false-answer rate on the fit half {far:.3f}; wrote {out}")
