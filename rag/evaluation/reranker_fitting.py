"""Training the reranker on fit-half questions, and cross-fitting it.

``train_reranker`` trains on the in-corpus questions a predicate keeps and writes the file.
``cross_fitted_logits`` trains one reranker per fold on the other folds and reads each
question with the reranker that did not see it, so that the blend and the confidence model can
be fitted on every fit-half question instead of the blend part alone (one in five).

Measured (``rag eval ... --fit --fit-reranker 2 --cross-fit 5``'s procedure, the trainings on
a GPU): out-of-fold sentence accuracy@1 over all 2,746 in-corpus fit-half questions was 0.824
with the top 4 layers trained (0.836 with all 6, now shipped), against 0.848 on fold 0 (the
blend part) alone: the blend part is an easy fifth, so figures fitted or checked on it alone
were optimistic. A correct sentence is among the linear top 8 for 0.959 of those questions, so
the cross-encoder picks it in 86% of the cases it could (87% with all 6 layers). Tried on those
out-of-fold logits and not kept: a listwise combiner of the linear score, the logit, their gaps
to the best and the ranks (cross-validated within the fit half) scored 0.8248 against 0.8241
for the single blend weight.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.answering import reranker_text
from rag.engine import Engine
from rag.errors import InputError
from rag.evaluation.fitting import TRAINED_LAYERS, Candidates, cross_logits, fold_of
from rag.scoring import Scorer


def train_reranker(engine: Engine, scorer: Scorer, groups: list[Candidates], epochs: int,
                   keep: Callable[[str], bool], out: Path | None = None,
                   trained_layers: int = TRAINED_LAYERS) -> Path:
    """Fine-tune a reranker on the in-corpus questions whose id ``keep`` accepts; write it to
    ``out`` (by default the shipped file, replaced atomically)."""
    import torch

    from rag.evaluation.reranker_training import train, training_group
    from rag.reranking import RERANKER_FILE, PairModel

    data = engine.snapshot()
    pairs = []
    for g in groups:
        if keep(g.qid) and g.in_corpus and g.labels.any():
            order = np.argsort(-scorer.scores(g.features), kind="stable")
            pairs.append(training_group(g.question.text,
                                        [reranker_text(data, g.rows[i]) for i in order],
                                        [bool(g.labels[i]) for i in order], g.answers))
    if not pairs:
        raise InputError("nothing to train the reranker on: no in-corpus fit-half question "
                         "it may use has a candidate sentence holding its answer")
    embedder = engine.embedder
    model = PairModel(embedder.model[0].auto_model, trained_layers)  # type: ignore[attr-defined]
    losses = train(model, embedder.tokenizer, pairs, epochs=epochs)  # type: ignore[attr-defined]
    out = out or RERANKER_FILE
    partial = out.with_suffix(".pt.partial")
    torch.save(model.trained_state(), partial)
    partial.replace(out)  # atomic: readers see the old file or the new one
    print(f"trained a reranker on {len(pairs)} questions, loss per epoch "
          + ", ".join(f"{x:.3f}" for x in losses) + f"; wrote {out}", file=sys.stderr)
    return out


def cross_fitted_logits(engine: Engine, scorer: Scorer, groups: list[Candidates], epochs: int,
                        folds: int) -> tuple[list[Candidates], list[np.ndarray]]:
    """Every question of ``groups`` with its reranker logits, each read by a reranker trained
    on the other folds' questions only (fold files live in a scratch folder)."""
    from rag.reranking import CrossEncoderReranker

    if folds < 2:
        raise InputError("cross-fitting needs 2 folds or more")
    if epochs < 1:
        raise InputError("cross-fitting trains rerankers: give --fit-reranker EPOCHS")
    held: list[Candidates] = []
    logits: list[np.ndarray] = []
    data = engine.snapshot()
    with tempfile.TemporaryDirectory(prefix="rag-folds-") as scratch:
        for k in range(folds):
            path = train_reranker(engine, scorer, groups, epochs,
                                  keep=lambda q, k=k: fold_of(q, folds) != k,  # type: ignore[misc]
                                  out=Path(scratch) / f"fold{k}.pt")
            reranker = CrossEncoderReranker(engine.embedder, path)
            for g in groups:
                if fold_of(g.qid, folds) == k:
                    held.append(g)
                    logits.append(cross_logits(reranker, data, g, scorer)[1])
    return held, logits
