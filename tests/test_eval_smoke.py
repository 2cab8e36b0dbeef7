"""The README's evaluation commands give real figures: the SQuAD smoke run measures something,
and the news set's report.md shows its checks with a curve that counts what the table counts.

Marked ``model``: both run the real models (a few seconds each once they are loaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import commands as cli
from tests.helpers import ROOT, SQUAD_MINI

pytestmark = pytest.mark.model
NEWS = ROOT / "tests" / "news" / "story"


def _eval(tmp_path: Path, *args: str) -> tuple[dict, str]:
    out = tmp_path / "out"
    assert cli.main(["eval", *args, "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    return json.loads((out / "report.json").read_text()), (out / "report.md").read_text()


def test_the_squad_smoke_run_reports_non_zero_figures(tmp_path: Path) -> None:
    """``rag eval tests/data/squad-mini.json`` as the README gives it: no flags."""
    report, md = _eval(tmp_path, str(SQUAD_MINI))
    ours = report["runs"]["ours"]
    assert ours["questions"]["in_corpus"] > 0 and ours["questions"]["out_of_corpus"] > 0
    assert ours["retrieval"]["recall@5"] > 0.5 and ours["retrieval"]["mrr@10"] > 0.5
    assert ours["answers"]["sentence_accuracy@1"] > 0.5
    assert ours["answers"]["span_f1"] > 0.3
    assert ours["abstention"]["answer_rate_in_corpus"] > 0.5
    assert ours["abstention"]["false_answer_rate_out_of_corpus"] is not None
    assert "| sentence_accuracy@1 | 0.000 |" not in md and "| recall@5 | 0.000 |" not in md


def test_the_news_report_shows_its_checks_and_a_curve_that_agrees_with_the_table(
    tmp_path: Path,
) -> None:
    report, md = _eval(tmp_path, str(NEWS / "questions.jsonl"), "--corpus", str(NEWS / "articles"))
    ours = report["runs"]["ours"]
    kinds = ours["news_checks"]["kinds"]
    assert "## News checks" in md and f"| quotes | {kinds['quotes']['passed']} |" in md
    total = sum(k["total"] for k in kinds.values())
    assert f"| all | {sum(k['passed'] for k in kinds.values())} | {total} |" in md
    # the curve counts the questions the accuracy counts (in the corpus, naming answers):
    # at the run's threshold it reads the table's answered accuracy, and where every one of
    # them not refused is answered, the share of those that are right
    graded = [i for i in report["items"]["ours"] if i["in_corpus"] and i["graded"]]
    assert 0 < len(graded) < ours["questions"]["in_corpus"]  # some carry only checks
    point = ours["abstention"]["at_threshold"]
    assert point["accuracy"] == pytest.approx(ours["answers"]["answered_accuracy"])
    given = [i for i in graded if not i["abstained"]]
    lowest = min(ours["abstention"]["curve"], key=lambda p: p["threshold"])
    assert lowest["answer_rate"] == pytest.approx(len(given) / len(graded))
    assert lowest["accuracy"] == pytest.approx(sum(i["correct_first"] for i in given) / len(given))
