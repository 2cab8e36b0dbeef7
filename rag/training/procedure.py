"""The training procedure that ships: cross-fitted blend, then a reranker on the whole fit half.

Contract: ``train_models(engine, evalset, out_dir)`` fits on the 'fit' half of ``evalset``'s
questions (``evaluation.datasets.split_of``; never the 'report' half) and writes
``out_dir/scorer.json`` and ``out_dir/reranker.pt``, which the service reads when
``RAG_SCORER_PATH`` and ``RAG_RERANKER_PATH`` point at them. It writes nothing else.

Steps: (1) collect every fit-half question's candidates as serving scores them; (2) fit the
linear weights and the confidence without the reranker; (3) cross-fit: ``folds`` rerankers each
train on all but one fold and read the one they did not see; the blend, skip margin and
reranked confidence are fitted on those out-of-fold logits; (4) train the reranker that ships
on the whole fit half. ``folds`` + 1 trainings: minutes on a GPU, hours on 2 cores.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rag.engine import Engine
from rag.errors import InputError
from rag.evaluation.datasets import EvalSet, split_of
from rag.training import DEFAULT_EPOCHS, DEFAULT_FOLDS
from rag.training.candidates import collect
from rag.training.cross_fitting import FULL_DEPTH, cross_fitted_logits, train_reranker
from rag.training.scorer_fitting import blend_from_logits, fit_linear

log = logging.getLogger(__name__)

# the files in --out get the shipped files' names, so a folder can replace rag/data/ as is
SCORER_NAME = "scorer.json"
RERANKER_NAME = "reranker.pt"
MAX_FOLDS = 20  # each fold trains a reranker: more is hours of work for no better fit


@dataclass(frozen=True)
class Trained:
    """What ``train_models`` wrote, and the fitted numbers worth printing."""

    scorer_path: Path
    reranker_path: Path
    questions: int
    checks: dict[str, Any]


def check_options(out_dir: Path, epochs: int, folds: int, layers: int = FULL_DEPTH) -> None:
    """Refuse bad options before any work starts (a one-line ``InputError``)."""
    if not 1 <= layers <= FULL_DEPTH:
        raise InputError(f"--layers takes a number of layers from 1 to {FULL_DEPTH}")
    if epochs < 1:
        raise InputError("--epochs takes a number of epochs, 1 or more")
    if not 2 <= folds <= MAX_FOLDS:
        raise InputError(f"--folds takes a number of folds, 2 or more (at most {MAX_FOLDS})")
    package = Path(__file__).resolve().parent.parent
    target = out_dir.resolve()
    if target == package or package in target.parents:
        raise InputError(
            f"--out {out_dir} is inside the installed package; write elsewhere "
            "and point RAG_SCORER_PATH and RAG_RERANKER_PATH at the files"
        )
    if target.exists() and not target.is_dir():
        raise InputError(f"--out {out_dir} is a file, not a folder")


def train_models(
    engine: Engine,
    evalset: EvalSet,
    out_dir: Path,
    *,
    epochs: int = DEFAULT_EPOCHS,
    folds: int = DEFAULT_FOLDS,
    layers: int = FULL_DEPTH,
) -> Trained:
    """Run the shipped procedure on ``evalset``'s fit half; write both files to ``out_dir``.
    ``layers`` below ``FULL_DEPTH`` trains a smaller cross-encoder (faster, less accurate)."""
    check_options(out_dir, epochs, folds, layers)
    items = [i for i in evalset.items if split_of(i.qid) == "fit"]
    groups = [
        g
        for g in (collect(engine, i) for i in tqdm(items, desc="candidates", file=sys.stderr))
        if g is not None
    ]
    if not groups:
        raise InputError("nothing to train on: no fit-half question has candidate sentences")
    linear = fit_linear(groups, evalset.name)
    held, logits = cross_fitted_logits(engine, linear, groups, epochs, folds, layers)
    blend, checks = blend_from_logits(linear, held, logits)
    out_dir.mkdir(parents=True, exist_ok=True)
    reranker_path = train_reranker(
        engine,
        linear,
        groups,
        epochs,
        keep=lambda q: True,
        out=out_dir / RERANKER_NAME,
        depth=layers,
    )
    scorer = replace(
        linear,
        rerank=blend,
        meta={
            **linear.meta,
            "fit_with_reranker": checks,
            "reranker_trained_on": f"the whole fit half (blend fitted on out-of-fold logits of "
            f"{folds} fold rerankers, {epochs} epochs each; {layers} layers)",
        },
    )
    scorer_path = out_dir / SCORER_NAME
    partial = scorer_path.with_suffix(".json.partial")
    partial.write_text(scorer.to_json() + "\n", "utf-8")
    partial.replace(scorer_path)
    log.info("wrote %s and %s", scorer_path, reranker_path)
    return Trained(
        scorer_path,
        reranker_path,
        len(groups),
        {
            "without_reranker": linear.meta["fit_without_reranker"],
            "with_reranker": checks,
            "blend_weight": blend.weight,
            "skip_margin": blend.skip_margin,
        },
    )
