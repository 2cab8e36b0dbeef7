"""Query benchmark: p50/p95 of Engine.ask on indexes of about 10k and 100k chunks.

The chunks are the real SQuAD v1.1 tuning paragraphs (embedded once by the real model),
replicated under new ids with perturbed vectors to reach the target size (see
bench/common.py): ``--corpus distinct`` (the default) changes words and numbers in every copy
so that no two chunks are the same text (bench/distinct.py); ``--corpus copies`` repeats the
paragraphs, which lets the cross-encoder's memory of recent pairs answer most of its pairs.
Questions are real SQuAD questions. Each size runs with the cross-encoder reranker on (the
default) and off (``RAG_RERANK=false``), and with each model backend (``RAG_BACKEND``:
onnxruntime and torch, before and after in one run), interleaved question by question with
retrieval alone (embedding and hybrid search of the pool) for the ratio of the two. The
``pairs`` and ``distinct`` columns are the cross-encoder's pairs per question and how many of
them are different texts; ``CE p50`` is the time of its ``rerank`` calls per question. Run:
`python bench/query_bench.py`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    CACHE,
    CORPORA,
    add_backends_option,
    base_index,
    replicated_index,
    squad_questions,
    table,
)
from rag.answering.compose import POOL_DEPTH  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.evaluation.metrics import percentile  # noqa: E402
from rag.retrieval import retrieve  # noqa: E402
from rag.runtime import load_embedder  # noqa: E402
from rag.settings import Settings  # noqa: E402


class CountingReranker:
    """The engine's cross-encoder, counting the pairs it is asked about and timing it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.pairs = self.distinct = 0
        self.ms = 0.0

    def rerank(self, question: str, sentences: Sequence[str]) -> Any:
        self.pairs += len(sentences)
        self.distinct += len(set(sentences))
        t = time.perf_counter()
        out = self.inner.rerank(question, sentences)
        self.ms += (time.perf_counter() - t) * 1000
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def retrieval_alone(engine: Engine, question: str) -> float:
    """Milliseconds to embed the question and search the pool (hybrid), nothing read."""
    t = time.perf_counter()
    data = engine._checked_snapshot()
    vector = engine.embedder.embed([question])[0]
    retrieve(data, question, vector, POOL_DEPTH)
    return (time.perf_counter() - t) * 1000


def measure(engine: Engine, qs: list[str]) -> dict[str, list[float]]:
    """Per question: ask, retrieval alone, stage timings and the cross-encoder's counts."""
    for q in qs[:10]:  # warm-up
        engine.ask(q)
        retrieval_alone(engine, q)
    counter = CountingReranker(engine.reranker) if engine.reranker is not None else None
    engine._reranker = counter  # type: ignore[assignment]
    out: dict[str, list[float]] = {}
    for q in qs:
        seen = (counter.pairs, counter.distinct, counter.ms) if counter else (0, 0, 0.0)
        t = time.perf_counter()
        answer = engine.ask(q)
        out.setdefault("ask", []).append((time.perf_counter() - t) * 1000)
        out.setdefault("retrieval", []).append(retrieval_alone(engine, q))
        for k, v in answer.timings_ms.items():
            out.setdefault(k, []).append(v)
        now = (counter.pairs, counter.distinct, counter.ms) if counter else (0, 0, 0.0)
        for name, before, after in zip(("pairs", "distinct", "ce"), seen, now, strict=True):
            out.setdefault(name, []).append(after - before)
    return out


def run(sizes: list[int], questions: int, backends: list[str], corpus: str) -> str:
    embedders = {b: load_embedder(Settings(backend=b)) for b in backends}
    base = base_index(embedders[backends[0]])
    qs = squad_questions(questions)
    rows = []
    for size, rerank, backend in (
        (s, r, b) for s in sizes for r in (True, False) for b in backends
    ):
        name = f"bench-store-{size}" if corpus == "copies" else f"bench-store-{corpus}-{size}"
        root = replicated_index(base, size, CACHE / name, corpus)
        settings = Settings(index_dir=root, rerank=rerank, backend=backend)  # type: ignore[arg-type]
        engine = Engine(settings, embedders[backend])
        t0 = time.perf_counter()
        engine.snapshot()
        load_s = time.perf_counter() - t0
        m = measure(engine, qs)
        ask50, retr50 = percentile(m["ask"], 50), percentile(m["retrieval"], 50)
        rows.append(
            [
                f"{engine.stats()['counts']['chunks']:,}",
                corpus,
                "on" if rerank else "off",
                backend,
                len(qs),
                round(load_s, 1),
                ask50,
                percentile(m["ask"], 95),
                retr50,
                round(ask50 / retr50, 2),
                percentile(m["embed"], 50),
                percentile(m["retrieve_and_read"], 50),
                percentile(m["compose"], 50),
                sum(m["pairs"]) / len(qs),
                sum(m["distinct"]) / len(qs),
                percentile(m["ce"], 50),
            ]
        )
    return table(
        [
            "chunks",
            "corpus",
            "reranker",
            "backend",
            "questions",
            "load s",
            "ask p50 ms",
            "ask p95 ms",
            "retrieval p50",
            "ask/retrieval",
            "embed p50",
            "retrieve+read p50",
            "compose p50",
            "pairs",
            "distinct",
            "CE p50",
        ],
        rows,
    )


if __name__ == "__main__":
    from rag import runtime

    runtime.configure_process()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--corpus", choices=CORPORA, default="distinct")
    add_backends_option(parser)
    args = parser.parse_args()
    print(run(args.sizes, args.questions, args.backends, args.corpus))
