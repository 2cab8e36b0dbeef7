"""What the evaluation report counts: "n/a" for nothing to count, an error for nothing indexed,
a default hold-out that leaves a small SQuAD file mostly indexed, and a coverage curve over
the questions the table's accuracy counts. Fast: no model (the real runs are in
``test_eval_smoke.py``, marked ``model``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rag.cli import commands as cli
from rag.errors import InputError
from rag.evaluation.datasets import load_squad
from rag.evaluation.report import table, write_reports
from rag.evaluation.runner import ItemResult, summarize
from tests.helpers import SQUAD_MINI

RIGHT = ItemResult(
    qid="a", split="report", in_corpus=True, gold_rank=1, ndcg10=1.0, confidence=0.9,
    abstained=False, reason=None, correct_first=True, correct_any=True, words=10,
    latency_ms=5.0, exact_citations=1, citations=1,
)  # fmt: skip


def test_the_default_holdout_leaves_most_of_a_small_squad_file_indexed() -> None:
    evalset = load_squad(SQUAD_MINI)  # 3 articles: one held out, not all of them
    inside = [i for i in evalset.items if i.in_corpus]
    outside = [i for i in evalset.items if not i.in_corpus]
    assert len(evalset.articles) == 2 and inside and outside
    assert evalset.notes[0].startswith("2 articles indexed, 1 held out")


def test_holding_out_every_article_is_an_error_not_a_table_of_zeros(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError, match="--holdout 3 leaves none of the 3 articles"):
        load_squad(SQUAD_MINI, holdout=3)
    out = tmp_path / "out"
    assert cli.main(["eval", str(SQUAD_MINI), "--holdout", "4", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "--holdout 4" in captured.err
    assert "| recall@1" not in captured.out and not out.exists()


def test_a_corpus_with_no_articles_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.txt").write_text("\n")  # a file, but no article in it
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "1", "question": "Who?", "answers": ["x"]}\n')
    args = ["eval", str(questions), "--corpus", str(tmp_path / "empty")]
    assert cli.main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no articles to index" in err and "Traceback" not in err


def test_metrics_with_nothing_to_count_print_n_a() -> None:
    """Only out-of-corpus questions: no accuracy, recall or answer rate to measure."""
    outside = replace(RIGHT, in_corpus=False, gold_rank=None, correct_first=False, citations=0)
    summary = summarize([outside], 0.5, "squad")
    assert summary["answers"]["sentence_accuracy@1"] is None
    assert summary["retrieval"]["recall@5"] is None
    assert summary["abstention"]["answer_rate_in_corpus"] is None
    assert summary["abstention"]["false_answer_rate_out_of_corpus"] == 1.0
    assert summary["citations"]["exactness"] is None
    text = table({"ours": summary})
    assert "| sentence_accuracy@1 | n/a |" in text and "| recall@5 | n/a |" in text
    assert "| false_answer_rate_out_of_corpus | 1.000 |" in text


def test_the_coverage_curve_counts_the_questions_the_accuracy_counts() -> None:
    """A news question with only checks is not a wrong answer on the curve either: at the
    threshold the curve reads the table's answered_accuracy."""
    checks_only = replace(RIGHT, qid="b", correct_first=False, graded=False, has_gold=False)
    wrong = replace(RIGHT, qid="c", correct_first=False, correct_any=False, confidence=0.7)
    low = replace(RIGHT, qid="d", confidence=0.2)  # right, but below the threshold
    summary = summarize([RIGHT, checks_only, checks_only, wrong, low], 0.5, "jsonl")
    point = summary["abstention"]["at_threshold"]
    assert summary["answers"]["answered_accuracy"] == point["accuracy"] == 0.5
    assert point["answer_rate"] == pytest.approx(2 / 3)  # of the three graded questions
    everything = next(p for p in summary["abstention"]["curve"] if p["threshold"] == 0.0)
    assert everything["accuracy"] == pytest.approx(2 / 3)  # the checks-only ones not counted


def test_report_md_carries_the_news_checks_table(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    summary = summarize([RIGHT], 0.5, "jsonl")
    summary["news_checks"] = {
        "kinds": {"quotes": {"passed": 2, "total": 3}},
        "failed": [{"qid": "q1", "kind": "quotes", "detail": "missing 'strike'"}],
    }
    report = {"dataset": "q.jsonl", "command": "rag eval q.jsonl", "runs": {"ours": summary}}
    write_reports(tmp_path, report, None)
    md = (tmp_path / "report.md").read_text()
    assert "## News checks\n\n| check | passed | total |" in md
    assert "| quotes | 2 | 3 |" in md and "| all | 2 | 3 |" in md
    assert "q1 [quotes]: missing 'strike'" in md
