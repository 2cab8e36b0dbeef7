"""Running an evaluation: a cached scratch index, every question through ``Engine.ask``."""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rag.engine import Engine
from rag.errors import InputError
from rag.evaluation import metrics as M
from rag.evaluation.datasets import EvalItem, EvalSet, split_of
from rag.evaluation.expectations import Check, check, refusal, summarize_checks
from rag.evaluation.significance import OUTCOMES, counts
from rag.models import Answer, Citation, Passage
from rag.newsparts import QUOTABLE_VERSION
from rag.retrieval import Mode
from rag.runtime.embedding import Embedder
from rag.settings import Settings
from rag.stores.base import STORE_FORMAT
from rag.text import SPLITTER_VERSION

log = logging.getLogger(__name__)
RETRIEVAL_DEPTH = 20
CURVE_POINTS = [i / 50 for i in range(51)]
# what ingest stores beside chunks and vectors; bump when that changes, or a cached scratch index
# built before answers it without it (2: named entities and story groups)
EVAL_INDEX_VERSION = 2


@dataclass(frozen=True)
class ItemResult:
    qid: str
    split: str
    in_corpus: bool
    gold_rank: int | None
    ndcg10: float
    confidence: float
    abstained: bool
    reason: str | None
    correct_first: bool
    correct_any: bool
    words: int
    latency_ms: float
    exact_citations: int
    citations: int
    span_em: float = 0.0  # SQuAD exact match of the first citation's answer span (0 without)
    span_f1: float = 0.0
    checks: tuple[Check, ...] = ()  # news checks of our own JSONL questions
    # whether the question names what is right: answers (accuracy counts only those) and a
    # gold article or relevant documents (retrieval counts only those); a news question may
    # carry only checks (quotes, order, time filter), which the news checks table reports
    graded: bool = True
    has_gold: bool = True


def cached_engine(
    evalset: EvalSet, settings: Settings, embedder: Embedder, cache_dir: Path
) -> Engine:
    """An engine over a scratch index of the dataset's articles, reused across runs."""
    key = hashlib.sha256()
    models = settings.models
    vectors = f"{models.backend}:{models.int8_encoder}"  # whose vectors the index holds
    for part in (
        embedder.name,
        vectors,
        str(STORE_FORMAT),
        str(settings.ingest.chunk_tokens),
        str(settings.ingest.chunk_overlap_tokens),
        str(SPLITTER_VERSION),
        str(QUOTABLE_VERSION),
        f"{EVAL_INDEX_VERSION}:{settings.ingest.entities}",
    ):
        key.update(part.encode())
    for article in sorted(evalset.articles, key=lambda a: a.doc_id):
        key.update(article.doc_id.encode() + article.content_hash.encode())
    root = cache_dir / f"{evalset.kind}-{key.hexdigest()[:16]}"
    engine = Engine(
        settings.model_copy(update={"index_dir": root, "abstain_threshold": 0.0}), embedder
    )
    if settings.storage.database_url:  # one database: make it hold exactly this dataset's articles
        wanted = {a.doc_id for a in evalset.articles}
        engine.ingest(evalset.articles, progress=True)
        for doc in engine.documents():
            if doc["doc_id"] not in wanted:
                engine.delete(doc["doc_id"])
    elif not engine.has_index():
        log.warning("building the evaluation index in %s (cached for later runs)", root)
        engine.ingest(evalset.articles, progress=True)
    return engine


def evaluate(
    engine: Engine,
    evalset: EvalSet,
    *,
    mode: Mode = "hybrid",
    split: str = "all",
    progress: bool = True,
) -> list[ItemResult]:
    items = [i for i in evalset.items if split == "all" or split_of(i.qid) == split]
    texts = {a.doc_id: a.text for a in evalset.articles}
    results = []
    bar = tqdm(
        items,
        desc=f"eval {mode}",
        unit="question",
        file=sys.stderr,
        dynamic_ncols=True,
        disable=not progress,
    )  # with an ETA: evaluations take minutes
    for item in bar:
        results.append(_one(engine, item, texts, mode))
    return results


def _ask(engine: Engine, item: EvalItem, mode: Mode) -> Answer:
    """The engine's answer; a question it refuses is an abstention when a news check expects it
    (``reason: input_error``), an error otherwise."""
    try:
        # top_k only truncates the ranked passages; the answer is the same as with the default
        return engine.ask(
            item.question,
            top_k=RETRIEVAL_DEPTH,
            mode=mode,
            history=item.history,
            as_of=item.as_of,
        )
    except InputError as exc:
        if item.expect is None:
            raise
        return refusal(item.question, exc.message)


def _one(engine: Engine, item: EvalItem, texts: dict[str, str], mode: Mode) -> ItemResult:
    answer = _ask(engine, item, mode)
    rank, ndcg = _retrieval(item, list(answer.passages))
    first_ok, any_ok = _correctness(item, answer)
    exact = sum(1 for c in answer.citations if texts.get(c.doc_id, "")[c.start : c.end] == c.quote)
    return ItemResult(
        qid=item.qid,
        split=split_of(item.qid),
        in_corpus=item.in_corpus,
        gold_rank=rank,
        ndcg10=ndcg,
        confidence=answer.confidence,
        abstained=answer.abstained,
        reason=answer.reason,
        correct_first=first_ok,
        correct_any=any_ok,
        words=len(answer.answer.split()),
        latency_ms=answer.timings_ms["total"],
        exact_citations=exact,
        citations=len(answer.citations),
        graded=bool(item.answers or item.relevant),
        has_gold=bool(item.doc_id or item.relevant),
        **_span_scores(item, answer, texts),
        checks=()
        if item.expect is None
        else tuple(check(item.as_question(), answer, texts, engine.scorer.threshold)),
    )


def _span_scores(item: EvalItem, answer: Answer, texts: dict[str, str]) -> dict[str, float]:
    """SQuAD exact match and F1 of the first citation's answer span against the gold answers."""
    first = answer.citations[0] if answer.citations else None
    if first is None or first.answer_start is None or first.answer_end is None:
        return {}
    span = texts.get(first.doc_id, "")[first.answer_start : first.answer_end]
    return {"span_em": M.exact_match(span, item.answers), "span_f1": M.token_f1(span, item.answers)}


def _is_gold(item: EvalItem, p: Passage) -> float:
    if item.relevant:
        return float(item.relevant.get(p.doc_id, 0))
    if item.doc_id is None or item.doc_id not in _articles(p):
        return 0.0
    if not item.spans:
        return 1.0  # our JSONL: the gold article is enough
    return 1.0 if any(p.start <= s and e <= p.end for s, e in item.spans) else 0.0


def _articles(quoted: Passage | Citation) -> set[str]:
    """The article quoted and its other copies (a story is quoted from one of them)."""
    return {quoted.doc_id, *(c.doc_id for c in quoted.also_in)}


def _retrieval(item: EvalItem, passages: list[Passage]) -> tuple[int | None, float]:
    if item.relevant:  # BEIR: document-level, first passage of each document
        seen: list[Passage] = []
        for p in passages:
            if p.doc_id not in {s.doc_id for s in seen}:
                seen.append(p)
        passages = seen
        ideal = list(map(float, item.relevant.values()))
    else:
        ideal = [1.0]
    grades = [_is_gold(item, p) for p in passages]
    rank = next((i + 1 for i, g in enumerate(grades) if g > 0), None)
    return rank, M.ndcg_at_k(grades, ideal, 10)


def _correctness(item: EvalItem, answer: Answer) -> tuple[bool, bool]:
    def ok(i: int) -> bool:
        c = answer.citations[i]
        return (item.doc_id is None or item.doc_id in _articles(c)) and M.quote_contains_answer(
            c.quote, item.answers
        )

    if not item.answers or not answer.citations:
        return False, False
    return ok(0), any(ok(i) for i in range(len(answer.citations)))


def summarize(results: list[ItemResult], threshold: float, kind: str) -> dict[str, Any]:
    """The report's numbers; answers count as given when confidence >= ``threshold``.

    A rate or mean with no question to count is ``None`` (the report prints "n/a"), never a
    0.0 that reads as a measurement. Accuracy, answer spans and the coverage curve count the
    same questions: in the corpus and naming their answers (``graded``)."""
    inside = [r for r in results if r.in_corpus]
    outside = [r for r in results if not r.in_corpus]
    gold = [r for r in inside if r.has_gold]
    summary: dict[str, Any] = {
        "questions": {"in_corpus": len(inside), "out_of_corpus": len(outside)},
        "retrieval": _retrieval_summary(gold),
        "latency_ms": {
            "p50": M.percentile([r.latency_ms for r in results], 50),
            "p95": M.percentile([r.latency_ms for r in results], 95),
        },
        "counts": counts(
            results_as_dicts(results),
            threshold,
            ("recall@5",) if kind == "beir" else tuple(OUTCOMES),
        ),
    }
    if kind == "beir":
        return summary
    summary["answers"] = _answers_summary(inside, threshold)
    answered = [r for r in inside if _answered(r, threshold)]
    pairs = [(_conf(r), r.correct_first) for r in inside if r.graded]
    outside_conf = [_conf(r) for r in outside]
    summary["abstention"] = {
        "threshold": threshold,
        "answer_rate_in_corpus": len(answered) / len(inside) if inside else None,
        "false_answer_rate_out_of_corpus": _share(outside, lambda r: _answered(r, threshold)),
        # over the graded questions: the point at the threshold is the table's answered_accuracy
        "curve": M.coverage_curve(
            pairs, outside_conf, _curve_thresholds([_conf(r) for r in results])
        ),
        "at_threshold": M.coverage_curve(pairs, outside_conf, [threshold])[0],
    }
    n_cit = sum(r.citations for r in results)
    summary["citations"] = {
        "exactness": sum(r.exact_citations for r in results) / n_cit if n_cit else None,
        "count": n_cit,
    }
    if any(r.checks for r in results):
        summary["news_checks"] = summarize_checks([(r.qid, r.checks) for r in results if r.checks])
    return summary


def _retrieval_summary(gold: list[ItemResult]) -> dict[str, float | None]:
    """Rank metrics over the questions that name a gold article (None without any)."""
    if not gold:
        return dict.fromkeys(("recall@1", "recall@5", "recall@20", "mrr@10", "ndcg@10"))
    ranks = [r.gold_rank for r in gold]
    return {
        "recall@1": M.recall_at_k(ranks, 1),
        "recall@5": M.recall_at_k(ranks, 5),
        "recall@20": M.recall_at_k(ranks, 20),
        "mrr@10": M.mrr_at_k(ranks, 10),
        "ndcg@10": sum(r.ndcg10 for r in gold) / len(gold),
    }


def _answers_summary(inside: list[ItemResult], threshold: float) -> dict[str, float | None]:
    graded = [r for r in inside if r.graded]
    answered = [r for r in inside if _answered(r, threshold)]
    return {
        "sentence_accuracy@1": _share(graded, lambda r: r.correct_first),
        "answered_accuracy": _share([r for r in answered if r.graded], lambda r: r.correct_first),
        "any_citation_accuracy": _share(graded, lambda r: r.correct_any),
        "mean_answer_words": _mean(answered, "words"),
        # the first citation's answer span (rag.answering.span), SQuAD-normalised, over the
        # questions accuracy@1 counts (no citation: 0) and the answered ones among them
        "span_em": _mean(graded, "span_em"),
        "span_f1": _mean(graded, "span_f1"),
        "span_em_answered": _mean([r for r in answered if r.graded], "span_em"),
        "span_f1_answered": _mean([r for r in answered if r.graded], "span_f1"),
    }


def _curve_thresholds(confidences: list[float]) -> list[float]:
    """Fixed steps plus the confidences' percentiles, so the curve is dense where they are."""
    points = set(CURVE_POINTS) | {round(M.percentile(confidences, q), 4) for q in range(101)}
    return sorted(p for p in points if p >= 0.0)


def _conf(r: ItemResult) -> float:
    return -1.0 if r.abstained else r.confidence  # abstained regardless of the threshold


def _answered(r: ItemResult, threshold: float) -> bool:
    return not r.abstained and r.confidence >= threshold


def _mean(rows: list[ItemResult], field: str) -> float | None:
    return sum(float(getattr(r, field)) for r in rows) / len(rows) if rows else None


def _share(rows: list[ItemResult], pred: Any) -> float | None:
    return sum(1 for r in rows if pred(r)) / len(rows) if rows else None


def results_as_dicts(results: list[ItemResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
