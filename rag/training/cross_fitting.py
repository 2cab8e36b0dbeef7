"""Training rerankers on fit-half questions, and reading each question out of fold.

Contract: ``train_reranker`` trains on the in-corpus questions a predicate keeps and writes
the weights to a given file (atomically). ``cross_fitted_logits`` trains one reranker per fold
on the other folds (in a scratch folder) and returns every question with the logits of the
reranker that did not see it, so that the blend and the confidence can be fitted on every
fit-half question instead of a held-out part.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.answering.compose import rerank_scores, reranker_text
from rag.answering.scoring import Scorer
from rag.engine import Engine
from rag.errors import InputError
from rag.runtime.pairs import Reranker
from rag.stores.view import View
from rag.training.candidates import Candidates, fold_of
from rag.training.scorer_fitting import RERANK_DEPTH

log = logging.getLogger(__name__)

TRAINED_LAYERS = 6  # all of MiniLM's six layers are fine-tuned copies (4 scored lower)
FULL_DEPTH = 6  # MiniLM's layers: the shipped cross-encoder reads with all of them


def cross_logits(reranker: Reranker, data: View, g: Candidates, scorer: Scorer) -> np.ndarray:
    """The reranker logit of each of ``g``'s candidates, as ``answering.read`` makes them."""
    return rerank_scores(
        g.question, data, g.rows, scorer.scores(g.features), reranker, RERANK_DEPTH, 0.0
    )[1]


def train_reranker(
    engine: Engine,
    scorer: Scorer,
    groups: list[Candidates],
    epochs: int,
    keep: Callable[[str], bool],
    out: Path,
    depth: int = FULL_DEPTH,
) -> Path:
    """Fine-tune a reranker of ``depth`` layers (all of them trained copies, up to
    ``TRAINED_LAYERS``) on the in-corpus questions whose id ``keep`` accepts; write it to
    ``out`` (replaced atomically: readers see the old file or the new one)."""
    import torch

    from rag.runtime.reranking import PairModel
    from rag.training import reranker_training

    data = engine.snapshot()
    pairs = []
    for g in groups:
        if keep(g.qid) and g.in_corpus and g.labels.any():
            order = np.argsort(-scorer.scores(g.features), kind="stable")
            pairs.append(
                reranker_training.training_group(
                    g.question.text,
                    [reranker_text(data, g.rows[i]) for i in order],
                    [bool(g.labels[i]) for i in order],
                    g.answers,
                )
            )
    if not pairs:
        raise InputError(
            "nothing to train the reranker on: no in-corpus fit-half question "
            "it may use has a candidate sentence holding its answer"
        )
    embedder = engine.embedder
    bert = embedder.model[0].auto_model  # type: ignore[attr-defined]
    model = PairModel(bert, min(TRAINED_LAYERS, depth), depth)
    losses = reranker_training.train(
        model,
        embedder.tokenizer,  # type: ignore[attr-defined]
        pairs,
        epochs=epochs,
    )
    partial = out.with_suffix(".pt.partial")
    torch.save(model.trained_state(), partial)
    partial.replace(out)
    log.info(
        "trained a reranker on %d questions, loss per epoch %s; wrote %s",
        len(pairs),
        ", ".join(f"{x:.3f}" for x in losses),
        out,
    )
    return out


def cross_fitted_logits(
    engine: Engine,
    scorer: Scorer,
    groups: list[Candidates],
    epochs: int,
    folds: int,
    depth: int = FULL_DEPTH,
) -> tuple[list[Candidates], list[np.ndarray]]:
    """Every question of ``groups`` with its reranker logits, each read by a reranker trained
    on the other folds' questions only (fold files live in a scratch folder)."""
    from rag.runtime.reranking import CrossEncoderReranker

    if folds < 2:
        raise InputError("cross-fitting needs 2 folds or more")
    if epochs < 1:
        raise InputError("training a reranker takes 1 epoch or more")
    held: list[Candidates] = []
    logits: list[np.ndarray] = []
    data = engine.snapshot()
    with tempfile.TemporaryDirectory(prefix="rag-folds-") as scratch:
        for k in range(folds):
            path = train_reranker(
                engine,
                scorer,
                groups,
                epochs,
                keep=lambda q, k=k: fold_of(q, folds) != k,  # type: ignore[misc]
                out=Path(scratch) / f"fold{k}.pt",
                depth=depth,
            )
            reranker = CrossEncoderReranker(engine.embedder, path)
            for g in groups:
                if fold_of(g.qid, folds) == k:
                    held.append(g)
                    logits.append(cross_logits(reranker, data, g, scorer))
    return held, logits
