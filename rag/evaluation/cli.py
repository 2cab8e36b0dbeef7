"""``rag eval``: evaluate on a dataset and write a report (the work is in the runner).

It only reads: the scorer and reranker come from the settings (``RAG_SCORER_PATH``,
``RAG_RERANKER_PATH``); ``rag train`` makes new ones. Scratch indexes are cached in ``--cache``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from rag import jsonio
from rag.errors import InputError, NotFoundError


def add_eval_parser(sub: Any) -> None:
    from rag.evaluation.datasets import add_dataset_options

    sp = sub.add_parser("eval", help="evaluate retrieval and answers on a dataset")
    sp.add_argument("dataset", type=Path, help="SQuAD .json, BEIR folder, or our .jsonl")
    add_dataset_options(sp, sample=1000)
    sp.add_argument(
        "--split",
        choices=["all", "fit", "report"],
        default="all",
        help="which half of the questions to evaluate (`rag train` fits on 'fit')",
    )
    sp.add_argument("--baselines", action="store_true", help="also run BM25-only and dense-only")
    sp.add_argument("--compare", type=Path, help="an earlier report.json to show deltas against")
    sp.add_argument("--out", type=Path, default=Path("eval-out"), help="report folder")
    sp.add_argument("--cache", type=Path, default=Path(".cache/eval"), help="scratch indexes")
    sp.add_argument(
        "--no-rerank",
        action="store_true",
        help="answer without the cross-encoder reranker (for comparison)",
    )


def cmd_eval(args: argparse.Namespace) -> int:
    from rag import runtime
    from rag.evaluation.datasets import dataset_from_args
    from rag.evaluation.expectations import checks_table
    from rag.evaluation.report import how_sure, table, write_reports
    from rag.evaluation.runner import cached_engine, evaluate, results_as_dicts, summarize
    from rag.settings import load_settings

    compare = _read_compare(args.compare)
    evalset = dataset_from_args(args)
    settings = load_settings(rerank=not args.no_rerank)
    # the backend that serves (RAG_BACKEND): the numbers describe what users get
    engine = cached_engine(evalset, settings, runtime.load_embedder(settings), args.cache)
    threshold = engine.scorer.threshold
    modes = ["hybrid", "bm25", "dense"] if args.baselines else ["hybrid"]
    runs, items = {}, {}
    for mode in modes:
        results = evaluate(engine, evalset, mode=mode, split=args.split)  # type: ignore[arg-type]
        name = "ours" if mode == "hybrid" else f"{mode}-only"
        runs[name] = summarize(results, threshold, evalset.kind)
        items[name] = results_as_dicts(results)
    report = {
        "dataset": str(args.dataset),
        "kind": evalset.kind,
        "split": args.split,
        "command": "rag " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "notes": evalset.notes
        + [
            f"split: {args.split}",
            f"threshold: {threshold:.3f}",
            f"scorer: {engine.scorer.meta.get('fitted_on', '?')}",
        ],
        "runs": runs,
        "items": items,
    }
    write_reports(args.out, report, compare)
    print(table(runs, compare))
    if "news_checks" in runs["ours"]:
        print("\n" + checks_table(runs["ours"]["news_checks"]))
    print("\n" + "\n".join(how_sure(report, compare)))
    print(f"\nreport: {args.out / 'report.md'} and {args.out / 'report.json'}")
    return 0


def _read_compare(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    if not path.is_file():
        raise NotFoundError(f"no such report: {path}")
    try:
        data = jsonio.loads(path.read_text("utf-8"))
    except ValueError:
        raise InputError(f"{path} is not a report.json") from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, dict) or not all(isinstance(r, dict) for r in runs.values()):
        raise InputError(f"{path} is not a report.json")
    return data
