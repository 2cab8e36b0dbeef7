"""Eval reports: a terminal table, report.json, report.md with PNG plots, and deltas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.evaluation.expectations import checks_table
from rag.evaluation.significance import interval_lines, paired_lines

ROWS = [
    ("retrieval", "recall@1"),
    ("retrieval", "recall@5"),
    ("retrieval", "recall@20"),
    ("retrieval", "mrr@10"),
    ("retrieval", "ndcg@10"),
    ("answers", "sentence_accuracy@1"),
    ("answers", "answered_accuracy"),
    ("answers", "any_citation_accuracy"),
    ("answers", "mean_answer_words"),
    ("answers", "span_em"),
    ("answers", "span_f1"),
    ("answers", "span_em_answered"),
    ("answers", "span_f1_answered"),
    ("abstention", "answer_rate_in_corpus"),
    ("abstention", "false_answer_rate_out_of_corpus"),
    ("citations", "exactness"),
    ("latency_ms", "p50"),
    ("latency_ms", "p95"),
]
# the unit a row's numbers are in, shown beside its name (rates and scores have none)
UNITS = {
    ("latency_ms", "p50"): "ms",
    ("latency_ms", "p95"): "ms",
    ("answers", "mean_answer_words"): "words",
}
RECALL_KS = (1, 5, 20)  # the k of the recall@k rows, plotted as they are named
# the y range of rate plots: a little past 0 and 1, so a line at 1.0 (or 0) is not drawn on
# the frame and hidden by it
RATE_LIMITS = (-0.03, 1.05)
# confidence bins of the reliability table: tenths, so each bin holds enough answers to read
RELIABILITY_BINS = 10


def _value(summary: dict[str, Any], section: str, key: str) -> float | None:
    part = summary.get(section)
    value = part.get(key) if isinstance(part, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _has(summary: dict[str, Any], section: str, key: str) -> bool:
    """Whether the run reports this metric at all (a BEIR run has no answers section)."""
    part = summary.get(section)
    return isinstance(part, dict) and key in part


def table(runs: dict[str, dict[str, Any]], compare: dict[str, Any] | None = None) -> str:
    """Markdown-style table: one column per run (ours first, then baselines). A metric a run
    reports with nothing to count (``None``: no question of its kind) reads "n/a"."""
    names = list(runs)
    header = ["metric", *names] + (["Δ vs compare"] if compare else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for section, key in ROWS:
        if not any(_has(runs[n], section, key) for n in names):
            continue
        values = [_value(runs[n], section, key) for n in names]
        cells = [_label(section, key)] + [
            _fmt(_value(runs[n], section, key)) if _has(runs[n], section, key) else "-"
            for n in names
        ]
        if compare:
            old = _value(compare.get("runs", {}).get(names[0], {}), section, key)
            cells.append(
                _fmt(values[0] - old, signed=True)
                if values[0] is not None and old is not None
                else "-"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _label(section: str, key: str) -> str:
    if section == "latency_ms":
        key = f"latency {key}"
    unit = UNITS.get((section, key.removeprefix("latency ")))
    return f"{key} ({unit})" if unit else key


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def how_sure(report: dict[str, Any], compare: dict[str, Any] | None) -> list[str]:
    """Our run's headline rates with 95% intervals, and (with ``compare``) the questions that
    changed each way, so that a move of a point can be told from noise."""
    ours = report["runs"].get("ours", {})
    lines = interval_lines(ours)
    if lines:
        lines = ["95% intervals (Wilson) for ours:", *lines]
    paired = paired_lines(report, compare) if compare else []
    if paired:
        lines += ["", "Question by question against the compared report (ours):", *paired]
    elif compare:
        lines += [
            "",
            "The compared report shares no questions with this one "
            "(or has no per-question results): no paired comparison.",
        ]
    return lines


def write_reports(out: Path, report: dict[str, Any], compare: dict[str, Any] | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2), "utf-8")
    plots = _plots(out, report["runs"])
    md = [
        f"# Evaluation: {report['dataset']}",
        "",
        f"Command: `{report['command']}`",
        "",
        *[f"- {n}" for n in report.get("notes", [])],
        "",
        table(report["runs"], compare),
        "",
    ]
    checks = report["runs"].get("ours", {}).get("news_checks")
    if checks:  # the terminal's news checks table, as the terminal prints it
        md += [checks_table(checks, heading="## News checks\n"), ""]
    md += [*how_sure(report, compare), ""]
    bins = reliability(report.get("items", {}).get("ours", []))
    if bins:
        md += [reliability_table(bins), ""]
    md += [f"![{name}]({name})" for name in plots]
    (out / "report.md").write_text("\n".join(md) + "\n", "utf-8")


def reliability(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Whether ``confidence`` means what it says: the answers given (not abstentions), binned
    by confidence, each bin's mean confidence beside its observed accuracy (an answer to a
    question the articles cannot answer is wrong). Only questions that name their answers or
    have none count (not news questions with checks only)."""
    given = [i for i in items if not i.get("abstained") and (i.get("graded") or not i["in_corpus"])]
    bins: list[dict[str, Any]] = []
    for b in range(RELIABILITY_BINS):
        low, high = b / RELIABILITY_BINS, (b + 1) / RELIABILITY_BINS
        inside = [
            i
            for i in given
            if low <= i["confidence"] < high or (b == RELIABILITY_BINS - 1 and i["confidence"] >= 1)
        ]
        if inside:
            bins.append(
                {
                    "bin": f"{low:.1f}-{high:.1f}",
                    "answers": len(inside),
                    "confidence": sum(i["confidence"] for i in inside) / len(inside),
                    "accuracy": sum(bool(i["correct_first"]) for i in inside) / len(inside),
                }
            )
    return bins


def reliability_table(bins: list[dict[str, Any]]) -> str:
    """The reliability bins as Markdown, with the expected calibration error (the answers'
    weighted mean gap between confidence and accuracy)."""
    n = sum(b["answers"] for b in bins)
    ece = sum(b["answers"] * abs(b["confidence"] - b["accuracy"]) for b in bins) / n
    lines = [
        "## Reliability (answers given, ours)",
        "",
        "| confidence | answers | mean confidence | accuracy |",
        "|---|---:|---:|---:|",
        *(
            f"| {b['bin']} | {b['answers']} | {b['confidence']:.3f} | {b['accuracy']:.3f} |"
            for b in bins
        ),
        "",
        f"Expected calibration error: {ece:.3f} over {n} answers.",
    ]
    return "\n".join(lines)


def _plots(out: Path, runs: dict[str, dict[str, Any]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, summary in runs.items():
        recall = [_value(summary, "retrieval", f"recall@{k}") for k in RECALL_KS]
        if all(r is not None for r in recall):  # else no question named a gold article
            ax.plot(RECALL_KS, [r or 0.0 for r in recall], marker="o", label=name)
    ax.set(
        xlabel="k (passages read)",
        ylabel="recall@k",
        title="Passage recall@k",
        xticks=RECALL_KS,
        ylim=RATE_LIMITS,
    )
    if ax.get_lines():
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no question names a gold article", ha="center", va="center")
    fig.tight_layout()
    fig.savefig(out / "recall_at_k.png", dpi=110)
    plt.close(fig)
    written.append("recall_at_k.png")
    curves = {n: s["abstention"] for n, s in runs.items() if "abstention" in s}
    if curves:
        written.append(_coverage_plot(plt, out, curves))
    return written


def _coverage_plot(plt: Any, out: Path, abstention: dict[str, dict[str, Any]]) -> str:
    """Accuracy and false answers against the answer rate as the threshold moves, over the
    questions the table's accuracy counts (in the corpus, naming their answers); the current
    threshold is marked where each run stands with it: at the table's answered_accuracy."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, part in abstention.items():
        curve = [p for p in part["curve"] if p["answer_rate"] and p["accuracy"] is not None]
        if not curve:
            continue
        rates = [p["answer_rate"] for p in curve]
        (line,) = ax.plot(
            rates, [p["accuracy"] for p in curve], label=f"{name}: accuracy (answered)"
        )
        if all(p["false_answer_rate"] is not None for p in curve):
            ax.plot(
                rates,
                [p["false_answer_rate"] for p in curve],
                linestyle="--",
                color=line.get_color(),
                label=f"{name}: false answers (out of corpus)",
            )
        _mark_threshold(ax, name, part, line.get_color())
    ax.set(
        xlabel="answer rate (in corpus, questions with answers)",
        ylabel="rate",
        title="Coverage vs accuracy over the threshold",
        xlim=(0, 1.02),
        ylim=RATE_LIMITS,
    )
    if ax.get_lines():
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no question with answers was answered", ha="center", va="center")
    fig.tight_layout()
    fig.savefig(out / "coverage_curve.png", dpi=110)
    plt.close(fig)
    return "coverage_curve.png"


def _mark_threshold(ax: Any, name: str, part: dict[str, Any], color: Any) -> None:
    """A dotted line at the run's answer rate and a dot at its accuracy (reports from before
    ``at_threshold`` existed get no mark)."""
    point = part.get("at_threshold")
    if not isinstance(point, dict) or not point.get("answer_rate"):
        return
    rate = point["answer_rate"]
    ax.axvline(
        rate,
        color=color,
        linestyle=":",
        linewidth=1,
        label=f"{name}: threshold {part['threshold']:.3f} (answers {rate:.3f})",
    )
    if point.get("accuracy") is not None:
        ax.plot([rate], [point["accuracy"]], marker="o", color=color)
