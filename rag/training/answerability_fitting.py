"""Fitting the answerability model (``rag.answering.answerability``) on the fit half.

Contract: :func:`collect` reads every fit-half question of a dataset through the engine (the
reranker on) and returns the best sentence's ``ANSWERABILITY_SCHEMA`` row with its label, 1 when
that sentence is in the gold article and holds a gold answer; :func:`fit` fits a logistic model to
them and returns it unshifted, so that its output is a calibrated probability. Nothing here reads
the 'report' half.

Run: ``python -m rag.training.answerability_fitting DATASET.json --out FILE`` (the shipped
``rag/data/answerability.json`` was fitted on the SQuAD v2.0 tuning file, ``--sample 2200``,
whose unanswerable questions are over indexed articles).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.answerability import Answerability
from rag.answering.compose import POOL_DEPTH, read
from rag.answering.features import analyse
from rag.answering.scoring import Logistic
from rag.engine import Engine
from rag.evaluation import metrics as M
from rag.evaluation.datasets import EvalSet, split_of
from rag.models import NO_FILTERS
from rag.retrieval import retrieve

L2_C = 1.0  # sklearn's inverse regularisation: the features are few and the questions many
DEPTH = 20  # retrieved passages, as in `rag eval`
TARGET_ANSWER_RATE = 0.95  # of answerable questions: the scorer's (scorer_fitting) target


def collect(
    engine: Engine, evalset: EvalSet, spans: list[dict[str, Any]] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Feature rows, labels, whether each question is answerable in the articles, and question
    ids of the fit-half questions the reranker read;
    ``spans`` (when given) gets, for each right best sentence, its text, the span head's token
    rows and the gold answers (to fit span decoding on)."""
    rows, labels, answerable, qids = [], [], [], []
    data = engine._checked_snapshot()
    for item in evalset.items:
        if split_of(item.qid) != "fit":
            continue
        vector = engine.embedder.embed([item.question])[0]
        pool = retrieve(data, item.question, vector, POOL_DEPTH, NO_FILTERS, "hybrid")
        q = analyse(item.question, data)
        reading = read(q, data, pool, vector, engine.scorer, DEPTH, engine.reranker, evidence=True)
        if reading.evidence is None or not reading.rows:
            continue
        top = reading.rows[0]
        right = (
            item.in_corpus
            and data.article_of(top).doc_id == item.doc_id
            and M.quote_contains_answer(data.sentence_text(top), item.answers)
        )
        if right and spans is not None:
            spans.append(_span_record(engine, data, reading, item.answers))
        rows.append(reading.evidence)
        labels.append(1 if right else 0)
        answerable.append(item.in_corpus)
        qids.append(item.qid)
    return np.asarray(rows), np.asarray(labels), np.asarray(answerable, dtype=bool), qids


def _span_record(
    engine: Engine, data: Any, reading: Any, answers: tuple[str, ...]
) -> dict[str, Any]:
    from rag.answering.compose import reranker_text

    text = reranker_text(data, reading.rows[0])
    sentence = data.sentence_text(reading.rows[0])
    reranker = engine.reranker
    assert reranker is not None  # fitting needs the span head
    tokens = reranker.rerank(reading.question.text, [text])[0].tokens
    return {
        "question": reading.question.text,
        "kind": reading.question.kind,
        "sentence": sentence,
        "skip": len(text) - len(sentence),
        "tokens": tokens,
        "answers": answers,
    }


def fit(
    x: np.ndarray, y: np.ndarray, answerable: np.ndarray, meta: dict[str, Any]
) -> Answerability:
    """A logistic model of the label on standardised features, stored in raw units, its bias
    shifted so that 0.5 is the cut-off that answers ``TARGET_ANSWER_RATE`` of the answerable
    questions (out-of-fold probabilities; see the module docstring for what that shift means)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale
    model = LogisticRegression(C=L2_C, max_iter=2000)
    held = cross_val_predict(model, z, y, cv=5, method="predict_proba")[:, 1]
    model.fit(z, y)
    weights = model.coef_[0] / scale
    bias = float(model.intercept_[0] - (model.coef_[0] * mean / scale).sum())
    cut = float(np.quantile(held[answerable], 1 - TARGET_ANSWER_RATE))
    given = held >= cut
    meta = {
        **meta,
        "questions": int(len(y)),
        "positive": int(y.sum()),
        "cv_auroc": round(float(roc_auc_score(y, held)), 4),
        "cut_off": round(cut, 4),
        "fit_answer_rate_answerable": round(float(given[answerable].mean()), 4),
        "fit_answer_rate_unanswerable": round(float(given[~answerable].mean()), 4),
    }
    calibrated = Logistic(tuple(float(w) for w in weights), bias)
    return Answerability(calibrated.shifted(cut), meta)


def main(argv: list[str] | None = None) -> int:
    from rag import runtime
    from rag.evaluation.datasets import load_squad
    from rag.evaluation.runner import cached_engine
    from rag.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=2200)
    parser.add_argument("--cache", type=Path, default=Path(".cache/eval"))
    parser.add_argument("--dump", type=Path, help="also write the rows and labels (.npz)")
    parser.add_argument("--rows", type=Path, help="fit on rows an earlier --dump wrote")
    args = parser.parse_args(argv)
    if args.rows:  # refit only (the rows were read with the same code and data)
        saved = np.load(args.rows)
        model = fit(
            saved["x"],
            saved["y"],
            saved["answerable"],
            {"fitted_on": f"{args.dataset.name} fit half (rows of --dump)"},
        )
        args.out.write_text(model.to_json() + "\n", "utf-8")
        print(json.dumps(model.meta), file=sys.stderr)
        return 0
    evalset = load_squad(args.dataset, sample=args.sample)
    settings = load_settings(rerank=True)
    engine = cached_engine(evalset, settings, runtime.load_embedder(settings), args.cache)
    spans: list[dict[str, Any]] = []
    x, y, answerable, qids = collect(engine, evalset, spans)
    if args.dump:
        import pickle

        np.savez(args.dump, x=x, y=y, answerable=answerable, qids=np.asarray(qids))
        args.dump.with_suffix(".spans.pkl").write_bytes(pickle.dumps(spans))
    model = fit(
        x, y, answerable, {"fitted_on": f"{args.dataset.name} fit half, sample {args.sample}"}
    )
    args.out.write_text(model.to_json() + "\n", "utf-8")
    print(json.dumps(model.meta), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
