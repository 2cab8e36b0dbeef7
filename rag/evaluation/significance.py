"""How sure a number is: confidence intervals for rates, and paired before/after comparisons.

A rate measured on about a thousand questions moves by a point or two between equally good
systems, so a report gives each headline rate a 95% Wilson interval, and ``--compare`` counts,
question by question, how many a change got right that it got wrong before and the reverse,
with an exact McNemar test on those two counts (the questions both runs got right or both got
wrong say nothing about the difference).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Z_95 = 1.959964  # the normal quantile of a two-sided 95% interval
Item = dict[str, Any]


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for ``successes`` out of ``n`` (``(0, 1)`` when n is 0)."""
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)  # exact at the ends, not 1 - 1e-16
    return lo, hi


def mcnemar_p(gained: int, lost: int) -> float:
    """Exact two-sided McNemar p-value: how likely a split this uneven of the ``gained + lost``
    questions that changed is, if the change were as likely to lose a question as to win one."""
    if gained < 0 or lost < 0:
        raise ValueError("counts must not be negative")
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(gained, lost) + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class Flips:
    """Questions both runs were judged on, and how many changed each way."""

    shared: int
    gained: int  # right now, wrong before
    lost: int  # wrong now, right before

    @property
    def p_value(self) -> float:
        return mcnemar_p(self.gained, self.lost)


# outcome per item; None where the item does not count (an out-of-corpus question has no
# right quote). ``threshold`` is the run's own abstention threshold.
Outcome = Callable[[Item, float], bool | None]


def _answered(item: Item, threshold: float) -> bool:
    return not item["abstained"] and item["confidence"] >= threshold


# what "yes" means for each outcome, for the report's wording
MEANING = {
    "sentence_accuracy@1": "a right first quote",
    "recall@5": "the gold passage in the top 5",
    "answer_rate_in_corpus": "answered",
    "false_answer_rate_out_of_corpus": "answered",
}
OUTCOMES: dict[str, Outcome] = {
    "sentence_accuracy@1": lambda i, t: bool(i["correct_first"]) if _graded(i) else None,
    "recall@5": lambda i, t: (
        (i["gold_rank"] is not None and i["gold_rank"] <= 5) if _graded(i, "has_gold") else None
    ),
    "answer_rate_in_corpus": lambda i, t: _answered(i, t) if i["in_corpus"] else None,
    "false_answer_rate_out_of_corpus": lambda i, t: None if i["in_corpus"] else _answered(i, t),
}


def _graded(item: Item, flag: str = "graded") -> bool:
    """In the corpus and naming what is right: answers (``graded``) or a gold article
    (``has_gold``); reports from before these flags existed name both for every question."""
    return bool(item["in_corpus"]) and bool(item.get(flag, True))


def counts(
    items: Sequence[Item], threshold: float, names: Sequence[str] = tuple(OUTCOMES)
) -> dict[str, list[int]]:
    """Each named rate as [numerator, denominator] over one run's per-question results."""
    out = {}
    for name in names:
        judged = [o for o in (OUTCOMES[name](i, threshold) for i in items) if o is not None]
        out[name] = [sum(judged), len(judged)]
    return out


FIELDS = frozenset({"qid", "in_corpus", "correct_first", "gold_rank", "abstained", "confidence"})


def _well_formed(items: Sequence[Any]) -> list[Item]:
    """The per-question results that carry every field the outcomes read (a hand-edited or
    older report may hold others; they are left out rather than failing the comparison)."""
    return [
        i
        for i in items
        if isinstance(i, dict)
        and FIELDS.issubset(i)
        and isinstance(i["qid"], str)
        and isinstance(i["confidence"], int | float)
        and (i["gold_rank"] is None or isinstance(i["gold_rank"], int))
    ]


def paired_flips(
    new: Sequence[Item],
    old: Sequence[Item],
    outcome: Outcome,
    thresholds: tuple[float, float] = (0.5, 0.5),
) -> Flips:
    """Compare two runs' per-question results, matched by question id."""
    before = {i["qid"]: i for i in _well_formed(old)}
    shared = gained = lost = 0
    for item in _well_formed(new):
        prior = before.get(item["qid"])
        if prior is None:
            continue
        now, then = outcome(item, thresholds[0]), outcome(prior, thresholds[1])
        if now is None or then is None:
            continue
        shared += 1
        gained += now and not then
        lost += then and not now
    return Flips(shared, gained, lost)


def paired_lines(new: dict[str, Any], old: dict[str, Any], run: str = "ours") -> list[str]:
    """One line per headline rate: questions gained and lost against ``old``, and the p-value;
    empty when the reports share no questions (or ``old`` has no per-question results)."""
    new_items, old_items = _items(new, run), _items(old, run)
    if not new_items or not old_items:
        return []
    thresholds = (_threshold(new, run), _threshold(old, run))
    lines = []
    for name, outcome in OUTCOMES.items():
        f = paired_flips(new_items, old_items, outcome, thresholds)
        if f.shared:
            p = f"= {f.p_value:.2f}" if f.p_value >= 0.01 else "< 0.01"
            lines.append(
                f"- {name}: {f.gained} questions changed to {MEANING[name]}, {f.lost} "
                f"the other way, of {f.shared} in both runs (exact McNemar p {p})"
            )
    return lines


def _items(report: dict[str, Any], run: str) -> list[Any]:
    items = report.get("items")
    found = items.get(run) if isinstance(items, dict) else None
    return found if isinstance(found, list) else []


def _threshold(report: dict[str, Any], run: str) -> float:
    runs = report.get("runs")
    summary = runs.get(run) if isinstance(runs, dict) else None
    abstention = summary.get("abstention") if isinstance(summary, dict) else None
    value = abstention.get("threshold") if isinstance(abstention, dict) else None
    return float(value) if isinstance(value, int | float) else 0.5


def interval_lines(summary: dict[str, Any]) -> list[str]:
    """The headline rates of one run with their 95% intervals and counts ("n/a" for a rate
    with no question to count)."""
    lines = []
    for name, (k, n) in summary.get("counts", {}).items():
        if n == 0:
            lines.append(f"- {name}: n/a (no question to count)")
            continue
        lo, hi = wilson_interval(k, n)
        lines.append(f"- {name}: {k / n:.3f}, 95% interval {lo:.3f}–{hi:.3f} ({k} of {n})")
    return lines
