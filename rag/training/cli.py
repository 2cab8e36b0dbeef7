"""``rag train``: run the shipped training procedure and write its files to ``--out``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rag.errors import InputError


def add_train_parser(sub: Any) -> None:
    from rag.evaluation.datasets import add_dataset_options
    from rag.training import DEFAULT_EPOCHS, DEFAULT_FOLDS
    from rag.training.cross_fitting import FULL_DEPTH

    sp = sub.add_parser("train", help="fit the scorer and train the reranker on a dataset")
    sp.add_argument("dataset", type=Path, help="SQuAD .json, or our .jsonl with answers")
    sp.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder for scorer.json and reranker.pt (never the installed package)",
    )
    add_dataset_options(sp, sample=0)
    sp.add_argument(
        "--epochs",
        type=int,
        default=DEFAULT_EPOCHS,
        help="reranker epochs (about 15 minutes each on 2 cores, a minute on a GPU)",
    )
    sp.add_argument(
        "--folds",
        type=int,
        default=DEFAULT_FOLDS,
        help="cross-fitting folds; folds + 1 rerankers are trained",
    )
    sp.add_argument(
        "--layers",
        type=int,
        default=FULL_DEPTH,
        help=f"cross-encoder layers (1-{FULL_DEPTH}); fewer answer faster and less accurately",
    )
    sp.add_argument("--cache", type=Path, default=Path(".cache/eval"), help="scratch indexes")


def cmd_train(args: argparse.Namespace) -> int:
    from rag.evaluation.datasets import dataset_from_args
    from rag.evaluation.runner import cached_engine
    from rag.runtime.embedding import SentenceTransformerEmbedder
    from rag.settings import load_settings
    from rag.training.procedure import check_options, train_models

    check_options(args.out, args.epochs, args.folds, args.layers)  # before the (slow) scratch index
    evalset = dataset_from_args(args)
    if evalset.kind == "beir":
        raise InputError(
            "training needs questions with answers (SQuAD JSON or our JSONL); "
            "a BEIR folder only has relevance judgments"
        )
    settings = load_settings(rerank=False)
    engine = cached_engine(evalset, settings, SentenceTransformerEmbedder(), args.cache)
    trained = train_models(
        engine, evalset, args.out, epochs=args.epochs, folds=args.folds, layers=args.layers
    )
    print(json.dumps(trained.checks), file=sys.stderr)
    print(
        f"trained on {trained.questions} questions; wrote {trained.scorer_path} and "
        f"{trained.reranker_path}\nuse them with RAG_SCORER_PATH={trained.scorer_path} "
        f"RAG_RERANKER_PATH={trained.reranker_path}"
    )
    return 0
