"""Evaluation: metric functions on hand-made cases, dataset loaders, one small end-to-end run.

All fast except the end-to-end run, which loads the real model (``model``)."""

import json
from datetime import date
from pathlib import Path

import pytest

from rag.cli import commands as cli
from rag.errors import InputError
from rag.evaluation import metrics as M
from rag.evaluation import significance as S
from rag.evaluation.datasets import load_beir, load_jsonl, load_squad
from rag.runtime.embedding import SentenceTransformerEmbedder
from rag.settings import SHIPPED_RERANKER, SHIPPED_SCORER
from tests.helpers import SQUAD_MINI as MINI


def test_recall_and_mrr_on_known_ranks() -> None:
    ranks = [1, 3, None, 6]
    assert M.recall_at_k(ranks, 1) == 0.25
    assert M.recall_at_k(ranks, 5) == 0.5
    assert M.recall_at_k(ranks, 20) == 0.75
    assert M.mrr_at_k(ranks, 10) == pytest.approx((1 + 1 / 3 + 1 / 6) / 4)
    assert M.mrr_at_k(ranks, 5) == pytest.approx((1 + 1 / 3) / 4)
    assert M.recall_at_k([], 5) == 0.0


def test_ndcg_on_known_rankings() -> None:
    assert M.ndcg_at_k([1, 0, 0], [1]) == 1.0
    assert M.ndcg_at_k([0, 1], [1]) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert M.ndcg_at_k([0, 0], [1]) == 0.0
    assert M.ndcg_at_k([2, 1], [1, 2]) == 1.0
    assert M.ndcg_at_k([1, 2], [1, 2]) < 1.0


def test_answer_matching_is_normalised_and_whole_word() -> None:
    assert M.quote_contains_answer("It was won by the Denver Broncos.", ["Denver Broncos"])
    assert M.quote_contains_answer("In 1946, they won.", ["1946"])
    assert not M.quote_contains_answer("In 19461 they won.", ["1946"])
    assert not M.quote_contains_answer("Nothing here.", ["Broncos"])
    assert M.quote_contains_answer("the  Broncos' win", ["broncos"])


def test_percentile_and_coverage_curve() -> None:
    assert M.percentile([1, 2, 3, 4], 50) == 2.5
    assert M.percentile([5], 95) == 5
    curve = M.coverage_curve([(0.9, True), (0.6, False), (0.2, True)], [0.7, 0.1], [0.0, 0.5, 0.8])
    assert curve[0] == {
        "threshold": 0.0,
        "answer_rate": 1.0,
        "accuracy": 2 / 3,
        "false_answer_rate": 1.0,
    }
    assert curve[1]["answer_rate"] == 2 / 3 and curve[1]["false_answer_rate"] == 0.5
    assert curve[2]["accuracy"] == 1.0 and curve[2]["false_answer_rate"] == 0.0


def test_wilson_interval_on_known_values() -> None:
    lo, hi = S.wilson_interval(911, 1095)  # the report half's accuracy@1 at stop 13
    assert lo == pytest.approx(0.8087, abs=1e-4) and hi == pytest.approx(0.8529, abs=1e-4)
    assert S.wilson_interval(0, 10)[0] == 0.0 and 0.25 < S.wilson_interval(0, 10)[1] < 0.35
    assert S.wilson_interval(10, 10)[1] == 1.0 and S.wilson_interval(10, 10)[0] < 0.75
    narrow, wide = S.wilson_interval(850, 1000), S.wilson_interval(85, 100)
    assert wide[0] < narrow[0] < 0.85 < narrow[1] < wide[1]
    with pytest.raises(ValueError):
        S.wilson_interval(5, 4)


def test_mcnemar_exact_p_values() -> None:
    assert S.mcnemar_p(0, 0) == 1.0
    assert S.mcnemar_p(2, 1) == 1.0  # three changed questions say nothing
    assert S.mcnemar_p(6, 0) == pytest.approx(2 / 64)  # both tails of Binomial(6, 1/2)
    assert S.mcnemar_p(0, 6) == S.mcnemar_p(6, 0)
    assert S.mcnemar_p(110, 20) < 1e-10
    assert S.mcnemar_p(30, 20) > 0.05


def test_paired_flips_match_questions_by_id_and_skip_the_rest() -> None:
    def item(
        qid: str, right: bool, rank: int | None = 1, inside: bool = True, confidence: float = 0.9
    ) -> dict[str, object]:
        return {
            "qid": qid,
            "in_corpus": inside,
            "correct_first": right,
            "gold_rank": rank,
            "abstained": False,
            "confidence": confidence,
        }

    old = [
        item("a", False),
        item("b", True),
        item("c", True, rank=7),
        item("x", False),
        item("o", False, inside=False, confidence=0.2),
    ]
    new = [
        item("a", True),
        item("b", False),
        item("c", True, rank=2),
        item("d", True),
        item("o", False, inside=False, confidence=0.8),
    ]
    acc = S.paired_flips(new, old, S.OUTCOMES["sentence_accuracy@1"])
    assert (acc.shared, acc.gained, acc.lost) == (3, 1, 1)  # "d" and "x" are in one run only
    recall = S.paired_flips(new, old, S.OUTCOMES["recall@5"])
    assert (recall.gained, recall.lost) == (1, 0)
    false = S.paired_flips(new, old, S.OUTCOMES["false_answer_rate_out_of_corpus"])
    assert (false.shared, false.gained, false.lost) == (1, 1, 0)
    # each run is judged at its own threshold
    both_high = S.paired_flips(
        new, old, S.OUTCOMES["false_answer_rate_out_of_corpus"], thresholds=(0.9, 0.1)
    )
    assert (both_high.gained, both_high.lost) == (0, 1)
    # a hand-edited or older report's malformed entries are left out, not a traceback
    broken = [*old, {"qid": ["a"]}, {"qid": "b"}, 3, None, dict(item("a", True), gold_rank="1")]
    assert S.paired_flips(new, broken, S.OUTCOMES["sentence_accuracy@1"]) == acc
    assert S.paired_lines({"items": {"ours": new}}, {"items": {"ours": "nope"}}) == []


def test_squad_loader_maps_answer_offsets_and_holds_out_articles() -> None:
    evalset = load_squad(MINI, holdout=1)
    assert len(evalset.articles) == 2
    texts = {a.doc_id: a.text for a in evalset.articles}
    inside = [i for i in evalset.items if i.in_corpus]
    outside = [i for i in evalset.items if not i.in_corpus]
    assert inside and outside and all(i.doc_id is None for i in outside)
    for item in inside:
        for s, e in item.spans:
            assert texts[item.doc_id][s:e] in item.answers


def test_beir_and_jsonl_loaders(tmp_path: Path) -> None:
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text(
        json.dumps({"_id": "d1", "title": "T", "text": "Walruses are big."}) + "\n"
    )
    (beir / "queries.jsonl").write_text(
        json.dumps({"_id": "q1", "text": "big walrus"})
        + "\n"
        + json.dumps({"_id": "q2", "text": "no qrels"})
        + "\n"
    )
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    evalset = load_beir(beir)
    assert [i.qid for i in evalset.items] == ["q1"] and evalset.items[0].relevant == {"d1": 1}
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Walruses are big.")
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": 1, "question": "How big?", "answers": ["big"], "doc_id": "a.txt"})
        + "\n"
        + json.dumps({"id": 2, "question": "Who?", "unanswerable": True})
        + "\n"
    )
    evalset = load_jsonl(questions, corpus)
    assert [i.in_corpus for i in evalset.items] == [True, False]
    for bad in ("[1]\n", "[" * 100_000 + "\n"):
        questions.write_text(bad)
        with pytest.raises(InputError):
            load_jsonl(questions, corpus)
    for fields in (
        {"question": "x", "answers": 5},
        {"question": None},
        {"question": " "},
        {"question": "x", "answers": [1]},
        {"question": "x", "doc_id": ["a"]},
    ):
        questions.write_text("\n" + json.dumps(fields) + "\n")
        with pytest.raises(InputError, match="q.jsonl:2"):
            load_jsonl(questions, corpus)
    for bad in ("not json", "[1]", json.dumps({"text": "no id"}), "[" * 100_000):
        (beir / "queries.jsonl").write_text(bad + "\n")
        with pytest.raises(InputError, match="queries.jsonl:1"):
            load_beir(beir)


@pytest.mark.model
def test_eval_end_to_end_writes_reports(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    embedder: SentenceTransformerEmbedder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the session's model, instead of loading it once more
    monkeypatch.setattr(
        "rag.runtime.embedding.SentenceTransformerEmbedder", lambda *a, **k: embedder
    )
    out = tmp_path / "out"
    args = [
        "eval",
        str(MINI),
        "--holdout",
        "1",
        "--sample",
        "0",
        "--out",
        str(out),
        "--cache",
        str(tmp_path / "cache"),
        "--baselines",
    ]
    shipped = [p.stat().st_mtime_ns for p in (SHIPPED_SCORER, SHIPPED_RERANKER)]
    assert cli.main(args) == 0
    assert [p.stat().st_mtime_ns for p in (SHIPPED_SCORER, SHIPPED_RERANKER)] == shipped
    report = json.loads((out / "report.json").read_text())
    ours = report["runs"]["ours"]
    assert set(report["runs"]) == {"ours", "bm25-only", "dense-only"}
    assert ours["citations"]["exactness"] == 1.0
    assert ours["questions"]["in_corpus"] > 0 and ours["questions"]["out_of_corpus"] > 0
    assert ours["retrieval"]["recall@20"] >= ours["retrieval"]["recall@5"] > 0.5
    assert ours["answers"]["sentence_accuracy@1"] > 0.3
    assert (out / "coverage_curve.png").stat().st_size > 1000
    assert "| recall@5 |" in (out / "report.md").read_text()
    printed = capsys.readouterr().out
    assert "sentence_accuracy@1" in printed
    assert "95% interval" in printed and "95% interval" in (out / "report.md").read_text()
    k, n = ours["counts"]["sentence_accuracy@1"]
    assert n == ours["questions"]["in_corpus"] and k / n == ours["answers"]["sentence_accuracy@1"]
    assert cli.main([*args, "--compare", str(out / "report.json")]) == 0
    printed = capsys.readouterr().out
    assert "Δ vs compare" in printed
    # the same system on the same questions: nothing changed either way
    assert f"0 questions changed to a right first quote, 0 the other way, of {n}" in printed


def test_compare_refuses_what_is_not_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked before any index is built: a one-line error and exit 2, no traceback."""
    cases = {
        "missing.json": None,
        "text.json": "not json",
        "list.json": "[1, 2]",
        "runs.json": '{"runs": {"ours": 5}}',
        "deep.json": "[" * 100_000,
    }
    for name, text in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        assert cli.main(["eval", str(MINI), "--compare", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and str(path) in err and "Traceback" not in err


def test_jsonl_news_fields_are_read_and_bad_ones_named(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Okafor said the strike would go on.")
    questions = tmp_path / "q.jsonl"
    record = {
        "id": "f",
        "question": "And what did Brandt say?",
        "as_of": "2026-11-27",
        "history": ["What did Okafor say?", {"question": "Why?", "answer": "Because."}],
        "quotes": ["strike"],
        "reason": "low_confidence",
        "time_filter": None,
    }
    questions.write_text(json.dumps(record) + "\n")
    item = load_jsonl(questions, corpus).items[0]
    assert item.as_of == date(2026, 11, 27)
    assert [t.question for t in item.history] == ["What did Okafor say?", "Why?"]
    assert item.expect is not None and item.expect.quotes == ("strike",)
    assert item.expect.reasons == ("low_confidence",)
    assert item.expect.checks_time and item.expect.time_filter is None
    plain = {"id": "p", "question": "Who?", "answers": ["Okafor"]}
    questions.write_text(json.dumps(plain) + "\n")
    assert load_jsonl(questions, corpus).items[0].expect is None  # old files: no news checks
    for bad in (
        {"as_of": "2026-13-01"},
        {"as_of": 20261127},
        {"history": "What did Okafor say?"},
        {"history": [{"answer": "no question"}]},
        {"quotes": "strike"},
        {"order": [""]},
        {"answer_span": 5},
        {"time_filter": {"from": "2026-11-01"}},
        {"time_filter": {"from": None, "to": None, "when": "now"}},
        {"also_in": [1]},
    ):
        questions.write_text("\n" + json.dumps({"question": "x"} | bad) + "\n")
        with pytest.raises(InputError, match="q.jsonl:2") as caught:
            load_jsonl(questions, corpus)
        assert next(iter(bad)) in caught.value.message


def test_questions_that_name_no_answer_or_article_are_not_graded_as_wrong() -> None:
    """A news question with only checks (quotes, a time filter) counts for the answer rate
    and its checks, not as a miss of accuracy or retrieval."""
    from dataclasses import replace

    from rag.evaluation.runner import ItemResult, summarize

    right = ItemResult(
        qid="a", split="report", in_corpus=True, gold_rank=1, ndcg10=1.0, confidence=0.9,
        abstained=False, reason=None, correct_first=True, correct_any=True, words=10,
        latency_ms=5.0, exact_citations=1, citations=1,
    )  # fmt: skip
    checks_only = replace(
        right, qid="b", gold_rank=None, ndcg10=0.0, correct_first=False, correct_any=False,
        graded=False, has_gold=False,
    )  # fmt: skip
    summary = summarize([right, checks_only], 0.5, "jsonl")
    assert summary["answers"]["sentence_accuracy@1"] == 1.0
    assert summary["retrieval"]["recall@5"] == 1.0
    assert summary["abstention"]["answer_rate_in_corpus"] == 1.0
    assert summary["counts"]["sentence_accuracy@1"] == [1, 1]
