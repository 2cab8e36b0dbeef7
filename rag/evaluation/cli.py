"""``rag eval`` argument parsing (the work is in :mod:`rag.evaluation.runner`)."""

from __future__ import annotations

import argparse
from typing import Any


def add_eval_parser(sub: Any) -> None:
    sp = sub.add_parser("eval", help="evaluate retrieval and answers on a dataset")
    sp.add_argument("dataset", help="SQuAD .json, BEIR folder, or our .jsonl")


def cmd_eval(args: argparse.Namespace) -> int:
    raise NotImplementedError
