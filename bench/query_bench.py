"""Query benchmark: p50/p95 of Engine.ask on indexes of about 10k and 100k chunks.

The chunks are the real SQuAD v1.1 tuning paragraphs (embedded once by the real model),
replicated under new ids with perturbed vectors to reach the target size (see
bench/common.py). Questions are real SQuAD questions. Each size runs with the cross-encoder
reranker on (the default) and off (``RAG_RERANK=false``), and with each model backend
(``RAG_BACKEND``: onnxruntime and torch, before and after in one run). Run:
`python bench/query_bench.py`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    CACHE,
    add_backends_option,
    base_index,
    replicated_index,
    squad_questions,
    table,
)
from rag.engine import Engine  # noqa: E402
from rag.evaluation.metrics import percentile  # noqa: E402
from rag.runtime import load_embedder  # noqa: E402
from rag.settings import Settings  # noqa: E402


def run(sizes: list[int], questions: int, backends: list[str]) -> str:
    embedders = {b: load_embedder(Settings(backend=b)) for b in backends}
    base = base_index(embedders[backends[0]])
    qs = squad_questions(questions)
    rows = []
    for size, rerank, backend in (
        (s, r, b) for s in sizes for r in (True, False) for b in backends
    ):
        root = replicated_index(base, size, CACHE / f"bench-store-{size}")
        settings = Settings(index_dir=root, rerank=rerank, backend=backend)  # type: ignore[arg-type]
        engine = Engine(settings, embedders[backend])
        t0 = time.perf_counter()
        engine.snapshot()
        load_s = time.perf_counter() - t0
        for q in qs[:10]:  # warm-up
            engine.ask(q)
        wall, stages = [], {}
        for q in qs:
            t = time.perf_counter()
            answer = engine.ask(q)
            wall.append((time.perf_counter() - t) * 1000)
            for k, v in answer.timings_ms.items():
                stages.setdefault(k, []).append(v)
        rows.append(
            [
                f"{engine.stats()['counts']['chunks']:,}",
                "on" if rerank else "off",
                backend,
                len(qs),
                round(load_s, 1),
                percentile(wall, 50),
                percentile(wall, 95),
                percentile(stages["embed"], 50),
                percentile(stages["retrieve_and_read"], 50),
                percentile(stages["compose"], 50),
            ]
        )
    return table(
        [
            "chunks",
            "reranker",
            "backend",
            "questions",
            "load s",
            "ask p50 ms",
            "ask p95 ms",
            "embed p50",
            "retrieve+read p50",
            "compose p50",
        ],
        rows,
    )


if __name__ == "__main__":
    from rag import runtime

    runtime.configure_process()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--questions", type=int, default=200)
    add_backends_option(parser)
    args = parser.parse_args()
    print(run(args.sizes, args.questions, args.backends))
