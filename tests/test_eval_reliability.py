"""The eval report's reliability table: answers binned by confidence beside their accuracy."""

from __future__ import annotations

from rag.evaluation.report import reliability, reliability_table


def _item(confidence: float, right: bool, *, in_corpus: bool = True, abstained: bool = False):  # type: ignore[no-untyped-def]
    return {
        "confidence": confidence,
        "correct_first": right,
        "in_corpus": in_corpus,
        "graded": in_corpus,
        "abstained": abstained,
    }


def test_each_bin_shows_how_often_its_answers_were_right() -> None:
    items = [_item(0.95, True)] * 9 + [_item(0.92, False)]
    items += [_item(0.55, True), _item(0.52, False, in_corpus=False)]  # an unanswerable one
    items += [_item(0.99, False, abstained=True)]  # not an answer: left out
    bins = {b["bin"]: b for b in reliability(items)}
    assert set(bins) == {"0.5-0.6", "0.9-1.0"}
    assert bins["0.9-1.0"]["answers"] == 10 and bins["0.9-1.0"]["accuracy"] == 0.9
    assert bins["0.5-0.6"]["accuracy"] == 0.5


def test_the_table_reports_the_calibration_error() -> None:
    calibrated = [_item(0.75, True)] * 3 + [_item(0.75, False)]
    assert "error: 0.000 over 4 answers" in reliability_table(reliability(calibrated))
    overconfident = [_item(0.95, False)] * 4
    assert "error: 0.950" in reliability_table(reliability(overconfident))
