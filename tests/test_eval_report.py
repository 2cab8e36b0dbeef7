"""The evaluation report's numbers and plots: nDCG within [0, 1], units, the threshold mark."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rag.evaluation import metrics as M
from rag.evaluation.report import table, write_reports


def test_ndcg_never_exceeds_one_when_several_passages_hold_the_one_gold_answer() -> None:
    # overlapping chunks: the first three passages all contain the single gold span
    assert M.ndcg_at_k([1.0, 1.0, 1.0, 0.0], [1.0]) == 1.0
    assert M.ndcg_at_k([0.0, 1.0, 1.0], [1.0]) == pytest.approx(1 / 1.5849625, rel=1e-6)


def test_ndcg_stays_within_zero_and_one_on_random_rankings() -> None:
    rng = random.Random(0)
    for _ in range(2000):
        ideal = [float(rng.choice([1, 2])) for _ in range(rng.randint(1, 4))]
        ranking = [float(rng.choice([0, 0, 1, 2])) for _ in range(rng.randint(0, 15))]
        assert 0.0 <= M.ndcg_at_k(ranking, ideal, 10) <= 1.0 + 1e-12


def test_ndcg_of_the_ideal_ranking_is_one() -> None:
    assert M.ndcg_at_k([2.0, 1.0, 0.0], [1.0, 2.0]) == pytest.approx(1.0)


def _run(threshold: float = 0.4) -> dict:
    curve = [
        {
            "threshold": t,
            "answer_rate": 1 - t,
            "accuracy": 0.8 + t / 10,
            "false_answer_rate": (1 - t) / 4,
        }
        for t in (0.0, 0.2, 0.4, 0.6, 0.8)
    ]
    return {
        "retrieval": {
            "recall@1": 0.5,
            "recall@5": 0.9,
            "recall@20": 0.95,
            "mrr@10": 0.6,
            "ndcg@10": 0.7,
        },
        "answers": {"sentence_accuracy@1": 0.8, "mean_answer_words": 31.0},
        "abstention": {
            "threshold": threshold,
            "answer_rate_in_corpus": 0.6,
            "false_answer_rate_out_of_corpus": 0.1,
            "curve": curve,
        },
        "latency_ms": {"p50": 41.0, "p95": 90.0},
    }


def test_table_names_the_units_of_latency_and_answer_length() -> None:
    text = table({"ours": _run()})
    assert "| latency p50 (ms) | 41.000 |" in text
    assert "| latency p95 (ms) | 90.000 |" in text
    assert "mean_answer_words (words)" in text


def test_report_records_the_command_and_marks_the_threshold(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report = {
        "dataset": "d.json",
        "command": "rag eval d.json --sample 10",
        "runs": {"ours": _run()},
        "notes": [],
    }
    write_reports(tmp_path, report, None)
    md = (tmp_path / "report.md").read_text()
    assert "Command: `rag eval d.json --sample 10`" in md
    assert (tmp_path / "coverage_curve.png").stat().st_size > 1000
    assert (tmp_path / "recall_at_k.png").stat().st_size > 1000
